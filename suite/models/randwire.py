"""Randomly wired network."""

from __future__ import annotations

import networkx as nx
import torch
from torch import nn

from suite.input_spec import InputSpec
from suite.models.blocks import Classifier, ConvBNReLU2d
from suite.models.registry import register_model


def random_dag(n_nodes: int, k: int, p: float, seed: int) -> list[list[int]]:
    """Predecessors of each node of a Watts-Strogatz graph made acyclic.

    As in Xie et al. 2019: the undirected WS(n, k, p) graph is oriented from lower to
    higher node index, which is a topological order. Returns ``preds[i]``, the sorted
    predecessors of node ``i``; nodes without predecessors read the stage input.
    """
    graph = nx.connected_watts_strogatz_graph(n_nodes, k, p, seed=seed)
    preds: list[list[int]] = [[] for _ in range(n_nodes)]
    for a, b in graph.edges():
        low, high = sorted((a, b))
        preds[high].append(low)
    return [sorted(p) for p in preds]


class RandWireNode(nn.Module):
    """Weighted sum of inputs (sigmoid weights), then ReLU, separable ``3x3`` conv and BN."""

    def __init__(self, n_inputs: int, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        # One input needs no mixing weight: a lone sigmoid weight would be a no-op scale.
        self.edge_weights = nn.Parameter(torch.zeros(n_inputs)) if n_inputs > 1 else None
        self.conv = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(in_channels, in_channels, 3, stride, 1, groups=in_channels, bias=False),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        )

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        if self.edge_weights is None:
            return self.conv(inputs[0])
        weights = torch.sigmoid(self.edge_weights)
        return self.conv(sum(w * x for w, x in zip(weights, inputs, strict=True)))


class RandWireStage(nn.Module):
    """One random graph; input nodes downsample by 2, output nodes are averaged."""

    def __init__(self, in_channels: int, out_channels: int, n_nodes: int, k: int, p: float, seed: int) -> None:
        super().__init__()
        self.preds = random_dag(n_nodes, k, p, seed)
        successors = {pred for preds in self.preds for pred in preds}
        self.outputs = [node for node in range(n_nodes) if node not in successors]
        self.nodes = nn.ModuleList(
            RandWireNode(max(len(preds), 1), out_channels if preds else in_channels, out_channels, 1 if preds else 2)
            for preds in self.preds
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        results: list[torch.Tensor] = []
        for node, preds in zip(self.nodes, self.preds, strict=True):
            results.append(node([results[i] for i in preds] if preds else [x]))
        return torch.stack([results[i] for i in self.outputs]).mean(dim=0)


class RandWire(nn.Module):
    """Randomly wired network (Xie et al. 2019, arXiv:1904.01569), small regime.

    A strided ``3x3`` stem, then ``len(stage_widths)`` stages, each a random graph of
    ``n_nodes`` nodes drawn from WS(``n_nodes``, ``k``, ``p``) with a fixed
    ``graph_seed``, so the wiring is the same for every width and every training seed.
    Stage ``i`` has ``stage_widths[i] * width`` channels and halves the resolution.

    Args:
        n_classes (int): Output logits.
        input_spec (InputSpec): Shape ``(F, T)`` of the input features.
        width (int): Channels of the stem and of the first stage.
        stage_widths (tuple[int, ...]): Channel multipliers per stage. (Default: ``(1, 2)``)
        n_nodes (int): Nodes per stage. (Default: ``8``)
        k (int): WS neighbours. (Default: ``4``)
        p (float): WS rewiring probability. (Default: ``0.75``)
        graph_seed (int): Seed of the random graphs. (Default: ``0``)

    Shapes: ``(B, F, T) -> (B, 1, F, T) -> (B, n_classes)``.
    """

    def __init__(
        self,
        n_classes: int,
        input_spec: InputSpec,
        width: int,
        stage_widths: tuple[int, ...] = (1, 2),
        n_nodes: int = 8,
        k: int = 4,
        p: float = 0.75,
        graph_seed: int = 0,
    ) -> None:
        super().__init__()
        self.stem = ConvBNReLU2d(1, width, 3, stride=2)
        stages: list[nn.Module] = []
        in_channels = width
        for index, multiplier in enumerate(stage_widths):
            stages.append(RandWireStage(in_channels, multiplier * width, n_nodes, k, p, seed=graph_seed + index))
            in_channels = multiplier * width
        self.stages = nn.Sequential(*stages)
        self.classifier = nn.Sequential(nn.ReLU(), Classifier(in_channels, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.stages(self.stem(x.unsqueeze(1))))  # (B, 1, F, T) -> (B, C, F', T') -> (B, n_classes)


@register_model(
    "randwire",
    summary="randomly wired network from a seeded Watts-Strogatz graph",
    reference="Xie et al. 2019, Exploring Randomly Wired Neural Networks for Image Recognition",
    default_width=32,
)
def randwire(n_classes: int, input_spec: InputSpec, width: int, **overrides: object) -> RandWire:
    return RandWire(n_classes, input_spec, width, **overrides)  # type: ignore[arg-type]
