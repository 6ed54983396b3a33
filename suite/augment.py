"""Batch augmentation on tensors: random time shift and SpecAugment-style masking.

Everything is vectorised over the batch (no per-example Python loop), so augmentation
costs a few element-wise passes per batch, and draws only from the generator it is
given, so a seed reproduces it exactly.
"""

from __future__ import annotations

import torch


def time_shift(batch: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Shift each example along its last axis by up to ``±max_shift`` steps, filling with zeros."""
    if max_shift <= 0:
        return batch
    length = batch.shape[-1]
    shifts = torch.randint(-max_shift, max_shift + 1, (batch.shape[0], 1), generator=generator)
    source = torch.arange(length).unsqueeze(0) - shifts  # (B, L): where each output step reads from
    valid = (source >= 0) & (source < length)
    view = (batch.shape[0],) + (1,) * (batch.dim() - 2) + (length,)
    gathered = batch.gather(-1, source.clamp(0, length - 1).view(view).expand_as(batch))
    return gathered * valid.view(view)


def _band_mask(size: int, count: int, max_width: int, batch: int, generator: torch.Generator) -> torch.Tensor:
    """``(B, size)`` boolean: ``count`` random bands of width ``0..max_width`` per example."""
    mask = torch.zeros(batch, size, dtype=torch.bool)
    positions = torch.arange(size).unsqueeze(0)
    for _ in range(count):
        width = torch.randint(0, max_width + 1, (batch, 1), generator=generator)
        start = (torch.rand(batch, 1, generator=generator) * (size - width + 1)).long()
        mask |= (positions >= start) & (positions < start + width)
    return mask


def spec_augment(
    batch: torch.Tensor, freq_masks: int, freq_width: int, time_masks: int, time_width: int, generator: torch.Generator
) -> torch.Tensor:
    """SpecAugment masking (Park et al. 2019) of ``(B, F, T)`` features: masked cells are set to 0.

    Features are standardised before training, so 0 is the mean.
    """
    batch_size, n_freq, n_time = batch.shape
    freq = _band_mask(n_freq, freq_masks, freq_width, batch_size, generator).unsqueeze(2)  # (B, F, 1)
    time = _band_mask(n_time, time_masks, time_width, batch_size, generator).unsqueeze(1)  # (B, 1, T)
    return batch.masked_fill(freq | time, 0.0)
