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

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), bias)
        return x + self.mlp(self.norm2(x))


def alibi_slopes(num_heads: int) -> torch.Tensor:
    """ALiBi's slope per head (Press et al. 2022, arXiv:2108.12409): ``2^(-8 h / n)`` for ``h = 1 .. n``."""
    return torch.tensor([2.0 ** (-8.0 * head / num_heads) for head in range(1, num_heads + 1)])


def windowed_alibi(slopes: torch.Tensor, distances: torch.Tensor, context: int) -> torch.Tensor:
    """The additive attention bias ``(heads, L, S)`` from query-minus-key token distances ``(L, S)``.

    A key ``d`` tokens back costs ``slope * d``; a key in the future or ``context`` or more
    tokens back is masked (``-inf``). The bias depends on distances only, so a clip of any
    length (or an endless stream) is scored as the training clips were.
    """
    bias = -slopes[:, None, None] * distances.to(slopes.dtype)
    return bias.masked_fill((distances < 0) | (distances >= context), float("-inf"))


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
        causal (bool): No class token and no position embeddings: each token attends to
            itself and the ``context - 1`` tokens before it, with ALiBi's distance penalty
            (:func:`windowed_alibi`) for position, and the logits come from the mean of the
            token outputs. No output depends on a later frame, so the model streams with a
            cache of ``context - 1`` keys and values per block. (Default: ``False``)
        context (int): Tokens a causal token attends over, itself included. (Default: ``16``,
            32 frames at two frames per token)

    Shapes: ``(B, F, T) -> (B, N + 1, D) -> (B, n_classes)`` with ``N = ceil(T / patch_frames)``
    (``(B, N, D)`` when causal).
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
        causal: bool = False,
        context: int = 16,
    ) -> None:
        super().__init__()
        n_features, n_frames = input_spec.shape
        self.patch_frames, self.causal, self.context = patch_frames, causal, context
        n_tokens = -(-n_frames // patch_frames)
        self.embed = nn.Linear(n_features * patch_frames, width)
        if causal:  # position comes from the attention bias; persistent=False keeps it out of checkpoints
            self.register_buffer("slopes", alibi_slopes(num_heads), persistent=False)
        else:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, width))
            self.pos_embed = nn.Parameter(torch.randn(1, n_tokens + 1, width) * 0.02)
        self.blocks = nn.ModuleList(TransformerBlock(width, num_heads, mlp_ratio, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(width)
        self.fc = nn.Linear(width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, n_features, n_frames = x.shape
        x = F.pad(x, (0, -n_frames % self.patch_frames))  # (B, F, N * p)
        patches = x.reshape(batch, n_features, -1, self.patch_frames).permute(0, 2, 1, 3).flatten(2)  # (B, N, F * p)
        tokens = self.embed(patches)  # (B, N, D)
        bias = None
        if self.causal:
            positions = torch.arange(tokens.shape[1], device=x.device)
            bias = windowed_alibi(self.slopes, positions[:, None] - positions[None, :], self.context)  # (heads, N, N)
        else:
            tokens = torch.cat([self.cls_token.expand(batch, -1, -1), tokens], dim=1) + self.pos_embed  # (B, N + 1, D)
        for block in self.blocks:
            tokens = block(tokens, bias)
        pooled = self.norm(tokens).mean(dim=1) if self.causal else self.norm(tokens[:, 0])  # (B, D)
        return self.fc(pooled)  # (B, n_classes)


@register_model(
    "transformer",
    summary="self-attention encoder over frame-patch tokens (KWT style)",
    reference="Berg et al. 2021, Keyword Transformer: A Self-Attention Model for Keyword Spotting",
    default_width=64,
)
def transformer(n_classes: int, input_spec: InputSpec, width: int, **overrides: object) -> KeywordTransformer:
    return KeywordTransformer(n_classes, input_spec, width, **overrides)  # type: ignore[arg-type]


@register_model(
    "transformer_causal",
    summary="the transformer made causal: each token attends over a bounded past with ALiBi, mean of the tokens",
    reference="Berg et al. 2021, made causal here with Press et al. 2022 (ALiBi); no published causal form",
    default_width=64,
    variant_of="transformer",
)
def transformer_causal(n_classes: int, input_spec: InputSpec, width: int, **overrides: object) -> KeywordTransformer:
    return KeywordTransformer(n_classes, input_spec, width, causal=True, **overrides)  # type: ignore[arg-type]
