"""Augmentation: shifts match a reference, masks have the promised shapes, draws are seeded."""

from __future__ import annotations

import pytest
import torch

from suite.augment import EpochAugmentation, ShiftedWindows, band_keep_mask


def reference_shift(example: torch.Tensor, shift: int) -> torch.Tensor:
    """Shift right by ``shift`` steps along the last axis (left when negative), zero-filled."""
    out = torch.zeros_like(example)
    length = example.shape[-1]
    if shift >= 0:
        out[..., shift:] = example[..., : length - shift]
    else:
        out[..., : length + shift] = example[..., -shift:]
    return out


@pytest.mark.parametrize("shape", [(7, 3, 12), (7, 12)], ids=["spectrogram", "waveform"])
@pytest.mark.parametrize("max_shift", [0, 1, 4])
def test_take_equals_a_reference_shift(shape: tuple[int, ...], max_shift: int) -> None:
    inputs = torch.randn(shape)
    windows = ShiftedWindows(inputs, max_shift)
    indices = torch.tensor([6, 0, 3, 3])
    shifts = torch.tensor([-max_shift, 0, max_shift, max_shift // 2])
    batch = windows.take(indices, shifts)
    assert batch.shape == (4, *shape[1:])
    for row, (index, shift) in enumerate(zip(indices.tolist(), shifts.tolist(), strict=True)):
        torch.testing.assert_close(batch[row], reference_shift(inputs[index], shift), rtol=0, atol=0)


def test_take_returns_a_copy_that_can_be_modified() -> None:
    inputs = torch.randn(5, 2, 8)
    original = inputs.clone()
    ShiftedWindows(inputs, 2).take(torch.arange(5), torch.zeros(5, dtype=torch.long)).mul_(0)
    assert torch.equal(inputs, original)


@pytest.mark.parametrize("size, count, max_width", [(40, 2, 5), (101, 2, 10), (8, 3, 8), (10, 1, 0)])
def test_band_keep_mask_masks_at_most_count_bands_of_bounded_width(size: int, count: int, max_width: int) -> None:
    keep = band_keep_mask(size, count, max_width, 500, torch.Generator().manual_seed(0))
    assert keep.shape == (500, size) and keep.dtype == torch.float32
    assert set(keep.unique().tolist()) <= {0.0, 1.0}
    masked = (keep == 0).sum(dim=1)
    assert int(masked.max()) <= count * max_width
    if max_width == 0:
        assert int(masked.max()) == 0
    else:
        assert int(masked.max()) > 0  # 500 draws: some band has non-zero width
        runs = (keep[:, 1:] - keep[:, :-1]).eq(-1).sum(dim=1) + keep[:, 0].eq(0).long()
        assert int(runs.max()) <= count  # masked cells form at most ``count`` contiguous bands


def test_epoch_draws_are_reproducible_for_a_seed_and_differ_across_seeds() -> None:
    def draw(seed: int) -> EpochAugmentation:
        return EpochAugmentation.draw(64, (40, 101), 10, (2, 5, 2, 10), torch.Generator().manual_seed(seed))

    first, again, other = draw(0), draw(0), draw(1)
    for name in ("shifts", "freq_keep", "time_keep"):
        assert torch.equal(getattr(first, name), getattr(again, name))
    assert not torch.equal(first.time_keep, other.time_keep)
    assert int(first.shifts.abs().max()) <= 10


def test_apply_shifts_then_masks_each_row_with_its_own_draws() -> None:
    inputs = torch.randn(6, 4, 9)
    windows = ShiftedWindows(inputs, 2)
    draws = EpochAugmentation.draw(6, (4, 9), 2, (1, 2, 1, 3), torch.Generator().manual_seed(3))
    indices = torch.tensor([5, 1, 2])
    rows = slice(3, 6)  # the second batch of the epoch uses the epoch's rows 3..5
    batch = draws.apply(windows, indices, rows)
    for i, index in enumerate(indices.tolist()):
        row = 3 + i
        expected = reference_shift(inputs[index], int(draws.shifts[row]))
        expected = expected * draws.freq_keep[row, :, None] * draws.time_keep[row, None, :]
        torch.testing.assert_close(batch[i], expected, rtol=0, atol=0)


def test_apply_without_masks_only_shifts() -> None:
    inputs = torch.randn(4, 16)
    draws = EpochAugmentation.draw(4, (16,), 3, None, torch.Generator().manual_seed(0))
    assert draws.freq_keep is None and draws.time_keep is None
    batch = draws.apply(ShiftedWindows(inputs, 3), torch.arange(4), slice(0, 4))
    for i in range(4):
        torch.testing.assert_close(batch[i], reference_shift(inputs[i], int(draws.shifts[i])), rtol=0, atol=0)
