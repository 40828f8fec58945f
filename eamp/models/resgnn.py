"""The residual GNNs of Platonov et al. (ICLR 2023), the baselines of the heterophilous sets."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import LayerNorm, Linear, Module, ModuleList
from torch_geometric.nn import GATConv, SimpleConv

from eamp.models.base import DeepGNN
from eamp.nn.functional import dropout
from eamp.nn.sparse import input_step

__all__ = ["ResidualGNN", "RESGNN_CONVS"]

RESGNN_CONVS = ("gcn", "sage", "gat")


class FeedForward(Module):
    """``Linear -> dropout -> GELU -> Linear -> dropout``, width ``dim``."""

    def __init__(self, in_dim: int, dim: int, dropout: float) -> None:
        super().__init__()
        self.lin1, self.lin2 = Linear(in_dim, dim), Linear(dim, dim)
        self.p = dropout

    def reset_parameters(self) -> None:
        self.lin1.reset_parameters()
        self.lin2.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        x = F.gelu(dropout(self.lin1(x), self.p, self.training))
        return dropout(self.lin2(x), self.p, self.training)


class ResidualGNN(DeepGNN):
    r"""GCN, GraphSAGE or GAT in the residual form of `"A critical look at the evaluation of
    GNNs under heterophily: Are we really making progress?"
    <https://arxiv.org/abs/2302.11640>`_ (Platonov et al., ICLR 2023; their ``model.py``
    and ``modules.py``), whose results on minesweeper, tolokers and the filtered chameleon and
    squirrel sets are the reference there:

    .. math::
        \mathbf{X}^0 &= \mathrm{GELU}(\mathrm{drop}(\mathbf{X}\mathbf{W}_{in})) \\
        \mathbf{X}^{k+1} &= \mathbf{X}^k + \mathrm{FF}_k\big(\mathrm{AGG}_k(
            \mathrm{LayerNorm}(\mathbf{X}^k))\big) \\
        \text{logits} &= \mathrm{LayerNorm}(\mathbf{X}^L)\mathbf{W}_{out}

    with :math:`\mathrm{FF}` = Linear, dropout, GELU, Linear, dropout, and
    :math:`\mathrm{AGG}` GCN's :math:`\hat A \mathbf{X}` (self-loops added, symmetric
    normalisation), GraphSAGE's :math:`[\mathbf{X} \,\|\, \mathrm{mean}_{j \in
    \mathcal{N}_i} \mathbf{X}_j]` (FF then takes twice the width), or multi-head attention.

    For ``gat`` this uses PyG's :class:`~torch_geometric.nn.conv.GATConv` (``heads``
    heads of ``hidden / heads`` channels, concatenated, self-loops added) as the attention;
    the authors' module scores each head from the whole hidden vector (a linear map to one
    score per head) where GATConv scores each head from its own channels.

    Args:
        in_channels, out_channels, depth, hidden_channels: as :class:`~eamp.models.GCN`
            (``depth`` residual blocks).
        dropout (float): after the input projection and twice in every FF. (default: ``0.2``)
        conv (str): ``"gcn"``, ``"sage"`` or ``"gat"``. (default: ``"gcn"``)
        heads (int): attention heads of ``gat``; must divide ``hidden_channels``.
            (default: ``8``)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        depth: int,
        hidden_channels: int = 512,
        dropout: float = 0.2,
        conv: str = "gcn",
        heads: int = 8,
    ) -> None:
        super().__init__(in_channels, out_channels, depth, hidden_channels, dropout)
        if conv not in RESGNN_CONVS:
            raise ValueError(f"conv: expected one of {RESGNN_CONVS}, got {conv!r}")
        if conv == "gat" and (heads < 1 or hidden_channels % heads):
            raise ValueError(f"heads: expected a divisor of hidden_channels "
                             f"({hidden_channels}), got {heads}")
        self.kind, self.heads = conv, int(heads)
        width = hidden_channels
        self.encoder = Linear(in_channels, width)
        self.norms = ModuleList(LayerNorm(width) for _ in range(depth))
        # parameter-free aggregations (gcn: a weighted sum over A + I; sage: a mean) are one
        # module; GAT's attention has weights per block
        self.propagate = SimpleConv(aggr="sum" if conv == "gcn" else "mean")
        self.attentions = ModuleList(
            GATConv(width, width // heads, heads=heads) for _ in range(depth)
        ) if conv == "gat" else None
        self.feed_forwards = ModuleList(
            FeedForward(2 * width if conv == "sage" else width, width, dropout)
            for _ in range(depth)
        )
        self.out_norm = LayerNorm(width)
        self.decoder = Linear(width, out_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.encoder.reset_parameters()
        self.decoder.reset_parameters()
        self.out_norm.reset_parameters()
        for module in (*self.norms, *self.feed_forwards, *(self.attentions or ())):
            module.reset_parameters()

    def aggregate(self, k: int, x: Tensor, edge_index: Tensor) -> Tensor:
        """Block ``k``'s neighbourhood aggregation of its normalised input ``x``."""
        if self.kind == "gcn":
            return self.propagate(x, *self.adjacency(x, edge_index))
        if self.kind == "sage":
            return torch.cat([x, self.propagate(x, edge_index)], dim=-1)
        return self.attentions[k](x, edge_index)

    def block(self, k: int, x: Tensor, edge_index: Tensor) -> Tensor:
        """Residual block ``k``."""
        return x + self.feed_forwards[k](self.aggregate(k, self.norms[k](x), edge_index))

    def run(self, x: Tensor, edge_index: Tensor) -> tuple[Tensor, list[Tensor]]:
        hidden = [x]
        x = input_step(self.encoder, x, 0.0, self.training)  # (x may be sparse)
        x = F.gelu(dropout(x, self.dropout, self.training))
        for k in range(self.depth):
            x = self.layer(self.block, k, x, edge_index)
            hidden.append(x)
        return self.decoder(self.out_norm(x)), hidden

    def extra_repr(self) -> str:
        heads = f", heads={self.heads}" if self.kind == "gat" else ""
        return f"{super().extra_repr()}, conv={self.kind!r}{heads}"
