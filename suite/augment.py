"""Training-time augmentation: random time shift and SpecAugment-style masking.

The random numbers of a whole epoch are drawn up front (a few calls on the seeded
generator), and each batch then costs one indexing copy and, for spectrograms, two
in-place multiplications. Drawing and masking batch by batch cost about 0.4 ms per
64-example batch, a fifth of an MLP's training step; see
``benchmarks/bench_train_throughput.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


class ShiftedWindows:
    """Every example of a split, readable at any time shift of up to ``±max_shift`` steps.

    The split is zero-padded by ``max_shift`` steps on both sides of its last axis once;
    ``take`` then reads shifted examples out of a strided view of all windows
    (``unfold``), so gathering a batch and shifting it is a single indexing copy.

    Args:
        inputs (Tensor): ``(N, ..., L)`` examples, time on the last axis.
        max_shift (int): Largest shift in steps (frames or samples); 0 disables shifting.
    """

    def __init__(self, inputs: torch.Tensor, max_shift: int) -> None:
        self.max_shift = max(0, max_shift)
        length = inputs.shape[-1]
        padded = F.pad(inputs, (self.max_shift, self.max_shift)) if self.max_shift else inputs
        self._windows = padded.unfold(-1, length, 1).movedim(-2, 1)  # (N, 2 * max_shift + 1, ..., L), a view

    def take(self, indices: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
        """Examples ``indices`` shifted right by ``shifts`` steps (left when negative), zero-filled.

        Args:
            indices (Tensor): ``(B,)`` example indices.
            shifts (Tensor): ``(B,)`` shifts in ``[-max_shift, max_shift]``.

        Returns:
            Tensor: ``(B, ..., L)``, a new tensor (safe to modify in place).
        """
        return self._windows[indices, self.max_shift - shifts]


def band_keep_mask(size: int, count: int, max_width: int, n: int, generator: torch.Generator) -> torch.Tensor:
    """``(n, size)`` float mask: 0 inside ``count`` random bands of width ``0..max_width``, 1 elsewhere.

    Widths are uniform on ``0..max_width`` and starts uniform over the positions where
    the band fits, as in SpecAugment (Park et al. 2019).
    """
    width = torch.randint(0, max_width + 1, (n, count, 1), generator=generator)
    start = (torch.rand(n, count, 1, generator=generator) * (size - width + 1)).long()
    positions = torch.arange(size)
    masked = ((positions >= start) & (positions < start + width)).any(dim=1)  # (n, size)
    return (~masked).float()


@dataclass
class EpochAugmentation:
    """The random draws of one epoch, one row per example in the epoch's order.

    Attributes:
        shifts (Tensor): ``(N,)`` time shifts in steps.
        freq_keep (Tensor | None): ``(N, F)`` SpecAugment frequency keep-mask, spectrograms only.
        time_keep (Tensor | None): ``(N, T)`` SpecAugment time keep-mask, spectrograms only.
    """

    shifts: torch.Tensor
    freq_keep: torch.Tensor | None = None
    time_keep: torch.Tensor | None = None

    @classmethod
    def draw(
        cls,
        n: int,
        shape: tuple[int, ...],
        max_shift: int,
        masks: tuple[int, int, int, int] | None,
        generator: torch.Generator,
    ) -> EpochAugmentation:
        """Draw shifts (and masks, when ``masks`` is ``(freq_masks, freq_width, time_masks, time_width)``).

        Args:
            n (int): Examples in the epoch.
            shape (tuple[int, ...]): Shape of one example, ``(F, T)`` for spectrograms.
            max_shift (int): Largest time shift in steps.
            masks (tuple | None): SpecAugment settings, or ``None`` for no masking.
            generator (torch.Generator): The only source of randomness.
        """
        shifts = torch.randint(-max_shift, max_shift + 1, (n,), generator=generator)
        if masks is None:
            return cls(shifts)
        freq_masks, freq_width, time_masks, time_width = masks
        n_freq, n_time = shape
        freq_keep = band_keep_mask(n_freq, freq_masks, freq_width, n, generator)
        time_keep = band_keep_mask(n_time, time_masks, time_width, n, generator)
        return cls(shifts, freq_keep, time_keep)

    def apply(self, windows: ShiftedWindows, indices: torch.Tensor, rows: slice) -> torch.Tensor:
        """Batch ``indices`` of ``windows``, augmented with this epoch's draws ``rows``.

        Features are standardised before training, so a masked cell's 0 is the mean.
        """
        batch = windows.take(indices, self.shifts[rows])  # (B, ..., L)
        if self.freq_keep is not None and self.time_keep is not None:
            # Two in-place multiplications by broadcast keep-masks: measured several times
            # faster than masked_fill with the (B, F, T) union of the masks.
            batch.mul_(self.freq_keep[rows, :, None]).mul_(self.time_keep[rows, None, :])  # (B, F, T)
        return batch
