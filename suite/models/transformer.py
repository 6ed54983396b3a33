"""Self-attention encoder over frame patches (Keyword Transformer)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from suite.input_spec import InputSpec
from suite.models.blocks import MultiHeadSelfAttention
from suite.models.registry import register_model


class TransformerBlock(nn.Module):
    """Pre-norm encoder block: ``x + MHSA(LN(x))``, then ``x + MLP(LN(x))``."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MultiHeadSelfAttention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(mlp_ratio * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class KeywordTransformer(nn.Module):
    """Keyword Transformer (Berg et al. 2021, arXiv:2104.00769), sized by its width.

    Each patch of ``patch_frames`` consecutive frames (all bins) is one token; a learned
    class token and position embeddings are added, ``depth`` pre-norm encoder blocks
    follow, and the class token is classified. KWT-1 is ``width=64, num_heads=1,
    depth=12``; the default here keeps one head but is shallower and groups two frames
    per token, so that the smallest budgets stay reachable.

    Args:
        n_classes (int): Output logits.
        input_spec (InputSpec): Shape ``(F, T)`` of the input features.
        width (int): Token width ``D``.
        depth (int): Encoder blocks. (Default: ``4``)
        num_heads (int): Attention heads; ``width`` must be a multiple. (Default: ``1``, as KWT-1)
        mlp_ratio (int): Hidden width of the MLP as a multiple of ``D``. (Default: ``4``)
        patch_frames (int): Frames per token. (Default: ``2``)
        dropout (float): Dropout in the MLP. (Default: ``0.1``)

    Shapes: ``(B, F, T) -> (B, N + 1, D) -> (B, n_classes)`` with ``N = ceil(T / patch_frames)``.
    """

    def __init__(
        self,
        n_classes: int,
        input_spec: InputSpec,
        width: int,
        depth: int = 4,
        num_heads: int = 1,
        mlp_ratio: int = 4,
        patch_frames: int = 2,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        n_features, n_frames = input_spec.shape
        self.patch_frames = patch_frames
        n_tokens = -(-n_frames // patch_frames)
        self.embed = nn.Linear(n_features * patch_frames, width)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, width))
        self.pos_embed = nn.Parameter(torch.randn(1, n_tokens + 1, width) * 0.02)
        self.blocks = nn.Sequential(*(TransformerBlock(width, num_heads, mlp_ratio, dropout) for _ in range(depth)))
        self.norm = nn.LayerNorm(width)
        self.fc = nn.Linear(width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, n_features, n_frames = x.shape
        x = F.pad(x, (0, -n_frames % self.patch_frames))  # (B, F, N * p)
        patches = x.reshape(batch, n_features, -1, self.patch_frames).permute(0, 2, 1, 3).flatten(2)  # (B, N, F * p)
        tokens = torch.cat([self.cls_token.expand(batch, -1, -1), self.embed(patches)], dim=1) + self.pos_embed
        return self.fc(self.norm(self.blocks(tokens)[:, 0]))  # (B, N + 1, D) -> (B, D) -> (B, n_classes)


@register_model(
    "transformer",
    summary="self-attention encoder over frame-patch tokens (KWT style)",
    reference="Berg et al. 2021, Keyword Transformer: A Self-Attention Model for Keyword Spotting",
    default_width=64,
)
def transformer(n_classes: int, input_spec: InputSpec, width: int, **overrides: object) -> KeywordTransformer:
    return KeywordTransformer(n_classes, input_spec, width, **overrides)  # type: ignore[arg-type]
