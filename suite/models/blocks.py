"""Building blocks shared by several families.

Kept small and explicit so that the MAC counts in :mod:`suite.measure` can be checked
against formulas by hand.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv_out_length(length: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length of a convolution or pooling along one axis (PyTorch's formula)."""
    return (length + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


class ConvBNReLU1d(nn.Sequential):
    """``Conv1d -> BatchNorm1d -> ReLU``; the convolution has no bias (BN supplies it).

    "Same" padding by default; ``causal=True`` pads only the past (``dilation * (k - 1)``
    zeros on the left), so output frame ``t`` depends on input frames ``<= t`` alone.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, dilation: int = 1, causal: bool = False
    ) -> None:
        past = dilation * (kernel_size - 1)
        conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride, 0 if causal else past // 2, dilation, bias=False)
        pad = [nn.ConstantPad1d((past, 0), 0.0)] if causal and past else []
        super().__init__(*pad, conv, nn.BatchNorm1d(out_channels), nn.ReLU(inplace=True))
        self.causal = causal


class ConvBNReLU2d(nn.Sequential):
    """``Conv2d -> BatchNorm2d -> ReLU`` with "same" padding for odd kernels."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int] = 3,
        stride: int | tuple[int, int] = 1,
        groups: int = 1,
    ) -> None:
        kernel = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel, stride, (kernel[0] // 2, kernel[1] // 2), groups=groups, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class DepthwiseSeparableConv2d(nn.Sequential):
    """Depthwise 3x3 then pointwise 1x1, each followed by BN and ReLU.

    From MobileNets (Howard et al. 2017, arXiv:1704.04861), as used by DS-CNN.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int | tuple[int, int] = 1) -> None:
        super().__init__(
            ConvBNReLU2d(in_channels, in_channels, 3, stride, groups=in_channels),
            ConvBNReLU2d(in_channels, out_channels, 1),
        )


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention on ``(B, L, D)`` tokens (Vaswani et al. 2017).

    Uses :func:`torch.nn.functional.scaled_dot_product_attention`, which the suite's
    counter prices at ``B * heads * L * L * 2 * head_dim`` MACs.

    Args:
        dim (int): Token width ``D``; must be divisible by ``num_heads``.
        num_heads (int): Attention heads.
    """

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` ``(B, L, D)`` and an optional additive score bias ``(heads, L, L)`` (``-inf`` masks a pair) to ``(B, L, D)``."""
        batch, length, dim = x.shape
        # (B, L, 3D) -> (3, B, heads, L, D / heads)
        qkv = self.qkv(x).reshape(batch, length, 3, self.num_heads, dim // self.num_heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=bias)  # (B, heads, L, D / heads)
        return self.proj(out.transpose(1, 2).reshape(batch, length, dim))  # (B, L, D)


class Classifier(nn.Module):
    """Global average pooling over every axis after the channels, then a linear layer.

    Takes ``(B, C, ...)`` and returns logits ``(B, n_classes)``.
    """

    def __init__(self, in_channels: int, n_classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_channels, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(2).mean(dim=2))  # (B, C, ...) -> (B, C) -> (B, n_classes)
