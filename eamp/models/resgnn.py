"""The residual GNNs of Platonov et al. (ICLR 2023), the baselines of the heterophilous sets."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import LayerNorm, Linear, Module, ModuleList
from torch_geometric.nn import GATConv, MessagePassing
from torch_geometric.utils import add_self_loops, softmax

from eamp._products import RowPattern, headwise_product
from eamp.models.base import DeepGNN
from eamp.nn.cache import GraphCache
from eamp.nn.functional import dropout
from eamp.nn.sparse import SimpleConvWithTranspose, input_step

__all__ = ["ResidualGNN", "HeadScoredAttention", "RESGNN_CONVS", "RESGNN_ATTENTIONS"]

RESGNN_CONVS = ("gcn", "sage", "gat")
RESGNN_ATTENTIONS = ("platonov", "gatconv")


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


class HeadScoredAttention(MessagePassing):
    r"""The multi-head graph attention of Platonov et al.'s ``GATModule`` (their
    ``modules.py``), each head scored from the whole projected vector:

    .. math::
        \mathbf{h}_i &= \mathbf{W}\mathbf{x}_i + \mathbf{b}, \qquad
        e^{(k)}_{ij} = \mathrm{LeakyReLU}_{0.2}\big(\mathbf{a}_k^\top \mathbf{h}_j + c_k
            + \mathbf{q}_k^\top \mathbf{h}_i\big) \\
        \alpha^{(k)}_{ij} &= \mathrm{softmax}_{j \in \mathcal{N}(i) \cup \{i\}}
            \big(e^{(k)}_{ij}\big), \qquad
        \mathbf{x}'^{(k)}_i = \sum_{j \in \mathcal{N}(i) \cup \{i\}}
            \alpha^{(k)}_{ij} \mathbf{h}^{(k)}_j

    where :math:`\mathbf{a}_k, c_k` (source score, with a bias) and :math:`\mathbf{q}_k`
    (target score) are rows of two linear maps to one score per head, and head :math:`k`
    holds the channels :math:`k, k + H, k + 2H, \dots` of :math:`\mathbf{h}` (the
    authors' ``reshape(-1, head_dim, num_heads)``). PyG's
    :class:`~torch_geometric.nn.conv.GATConv` scores head :math:`k` from its own channels
    only; this one is the authors' form, self-loops added as their dataset adds them. The
    weighted sum is one sparse product per head (:func:`eamp._products.headwise_product`),
    PyG's gather-scatter under autocast.

    Args:
        channels (int): input and output width.
        heads (int): attention heads; must divide ``channels``.

    Shapes:
        - **input:** node features :math:`(|\mathcal{V}|, F)`, edge indices :math:`(2,
          |\mathcal{E}|)` without self-loops
        - **output:** node features :math:`(|\mathcal{V}|, F)`
    """

    def __init__(self, channels: int, heads: int) -> None:
        super().__init__(aggr="sum", node_dim=0)
        if heads < 1 or channels % heads:
            raise ValueError(f"heads: expected a divisor of channels ({channels}), got {heads}")
        self.channels, self.heads = channels, heads
        self.lin = Linear(channels, channels)
        self.score_source = Linear(channels, heads)
        self.score_target = Linear(channels, heads, bias=False)
        # the edges with self-loops, sorted by target, built once per graph (unless the
        # caller hands one in: a stack of these shares one)
        self._pattern = GraphCache(build=self.pattern)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for lin in (self.lin, self.score_source, self.score_target):
            lin.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor,
                pattern: RowPattern | None = None) -> Tensor:
        """``pattern``: :meth:`pattern` of ``edge_index``, when the caller keeps it."""
        n = x.size(0)
        h = self.lin(x)
        if pattern is None:
            pattern = self._pattern(edge_index, x)
        source, target = pattern.source, pattern.target
        scores = F.leaky_relu(self.score_source(h)[source] + self.score_target(h)[target], 0.2)
        alpha = softmax(scores, target, num_nodes=n)
        per_head = h.view(n, self.channels // self.heads, self.heads)
        if torch.compiler.is_compiling():  # TorchDynamo does not trace sparse tensors
            out = self.propagate(torch.stack([source, target]), h=per_head, alpha=alpha)
        else:  # one sparse product per head (a whole epoch 4x faster on squirrel, 8x on
            # tolokers, on a CPU), in float32: no 16-bit sparse products on a CPU
            dtype = torch.promote_types(per_head.dtype, torch.float32)
            with torch.autocast(x.device.type, enabled=False):
                out = headwise_product(pattern, alpha.to(dtype),
                                       per_head.to(dtype).permute(2, 0, 1)).permute(1, 2, 0)
        return out.reshape(n, self.channels)

    @staticmethod
    def pattern(edge_index: Tensor, num_nodes: int) -> RowPattern:
        """The edges of ``edge_index`` with self-loops, sorted by target, as :meth:`forward`
        takes them (build it once for layers that share a graph)."""
        return RowPattern.build(add_self_loops(edge_index, num_nodes=num_nodes)[0], num_nodes)

    def message(self, h_j: Tensor, alpha: Tensor) -> Tensor:
        return h_j * alpha.unsqueeze(1)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.channels}, heads={self.heads})"


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

    For ``gat`` the attention is the authors' (:class:`HeadScoredAttention`, each head
    scored from the whole hidden vector), or with ``attention="gatconv"`` PyG's
    :class:`~torch_geometric.nn.conv.GATConv` (``heads`` heads of ``hidden / heads``
    channels, concatenated, self-loops added), which scores each head from its own channels.

    Args:
        in_channels, hidden_channels, num_layers, out_channels: as :class:`~eamp.models.GCN`
            (``num_layers`` residual blocks).
        dropout (float): after the input projection and twice in every FF. (default: ``0.2``)
        conv (str): ``"gcn"``, ``"sage"`` or ``"gat"``. (default: ``"gcn"``)
        heads (int): attention heads of ``gat``; must divide ``hidden_channels``.
            (default: ``8``)
        attention (str): ``gat``'s attention: ``"platonov"`` (the authors') or
            ``"gatconv"`` (PyG's GATConv). (default: ``"platonov"``)
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        num_layers: int,
        out_channels: int,
        dropout: float = 0.2,
        conv: str = "gcn",
        heads: int = 8,
        attention: str = "platonov",
    ) -> None:
        super().__init__(in_channels, hidden_channels, num_layers, out_channels, dropout)
        if conv not in RESGNN_CONVS:
            raise ValueError(f"conv: expected one of {RESGNN_CONVS}, got {conv!r}")
        if conv == "gat" and (heads < 1 or hidden_channels % heads):
            raise ValueError(f"heads: expected a divisor of hidden_channels "
                             f"({hidden_channels}), got {heads}")
        if attention not in RESGNN_ATTENTIONS:
            raise ValueError(f"attention: expected one of {RESGNN_ATTENTIONS}, got "
                             f"{attention!r}")
        self.kind, self.heads, self.attention = conv, int(heads), attention
        width = hidden_channels
        self.encoder = Linear(in_channels, width)
        self.norms = ModuleList(LayerNorm(width) for _ in range(num_layers))
        # parameter-free aggregations are one module, a product with the normalized
        # adjacency (gcn: over A + I; sage: the in-neighbours' mean, as a sparse product 5-8x
        # faster than PyG's scatter mean on a CPU); GAT's attention has weights per block
        self.propagate = SimpleConvWithTranspose(aggr="sum")
        self.attentions = ModuleList(
            HeadScoredAttention(width, heads) if attention == "platonov"
            else GATConv(width, width // heads, heads=heads) for _ in range(num_layers)
        ) if conv == "gat" else None
        # one attention pattern for all blocks, built once per graph
        self._attention_pattern = GraphCache(build=HeadScoredAttention.pattern)
        self.feed_forwards = ModuleList(
            FeedForward(2 * width if conv == "sage" else width, width, dropout)
            for _ in range(num_layers)
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
            return torch.cat([x, self.propagate(x, *self.adjacency(x, edge_index, "mean"))],
                             dim=-1)
        if self.attention == "platonov":
            return self.attentions[k](x, edge_index, self._attention_pattern(edge_index, x))
        return self.attentions[k](x, edge_index)

    def block(self, k: int, x: Tensor, edge_index: Tensor) -> Tensor:
        """Residual block ``k``."""
        return x + self.feed_forwards[k](self.aggregate(k, self.norms[k](x), edge_index))

    def run(self, x: Tensor, edge_index: Tensor) -> tuple[Tensor, list[Tensor]]:
        hidden = [x]
        x = input_step(self.encoder, x, 0.0, self.training)  # (x may be sparse)
        x = F.gelu(dropout(x, self.dropout, self.training))
        for k in range(self.num_layers):
            x = self.layer(self.block, k, x, edge_index)
            hidden.append(x)
        return self.decoder(self.out_norm(x)), hidden

    def extra_repr(self) -> str:
        heads = (f", heads={self.heads}, attention={self.attention!r}" if self.kind == "gat"
                 else "")
        return f"{super().extra_repr()}, conv={self.kind!r}{heads}"
