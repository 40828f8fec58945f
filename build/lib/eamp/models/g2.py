"""Gradient Gating (Rusch et al., ICLR 2023) around a GCN, GraphSAGE or GAT layer."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Linear
from torch_geometric.nn import GATConv, SAGEConv
from torch_geometric.utils import scatter

from eamp.models.base import DeepGNN
from eamp.models.gcn import EntropyPass
from eamp.nn.cache import GraphCache
from eamp.nn.entropic_conv import EntropicConv
from eamp.nn.functional import dropout
from eamp.nn.options import ENTROPY_WEIGHT, TEMPERATURE, EntropyOptions
from eamp.nn.sparse import GCNConvWithTranspose as GCNConv
from eamp.nn.sparse import input_step

__all__ = ["G2", "EntropicG2", "G2_CONVS", "gradient_gate"]

G2_CONVS = ("gcn", "sage", "gat")
GAT_HEADS = 4  # the authors' GATConv(nhid, nhid, heads=4, concat=True)


def gradient_gate(y: Tensor, edge_index: Tensor, p: float) -> Tensor:
    r"""G2's channel-wise rate :math:`\tau_i = \tanh\big(\frac{1}{|\mathcal{N}_i|}
    \sum_{j \in \mathcal{N}_i} |y_i - y_j|^p\big)` (0 for a node without edges).

    As the authors' code: :math:`\mathcal{N}_i` are the edges leaving :math:`i` (rows of
    ``edge_index[0]``), self-loops included (each adds 0 and counts in the mean). On an
    undirected graph without self-loops, eamp's default, that is every neighbour once; on
    a graph as loaded (``graph="as-loaded"``, e.g. PyG's directed WebKB) it is what they
    trained with.

    Args:
        y (Tensor): ``[n, d]`` the gating layer's output.
        edge_index (LongTensor): ``[2, E]`` edges ``(i, j)``.
        p (float): the exponent :math:`p \ge 1`.

    Returns:
        Tensor ``[n, d]`` in :math:`[0, 1)`.
    """
    src, dst = edge_index
    # An [E, d] tensor, as in the reference implementation; G2 is a baseline here.
    diff = (y[src] - y[dst]).abs().pow(p)
    return torch.tanh(scatter(diff, src, dim=0, dim_size=y.size(0), reduce="mean"))


class G2(DeepGNN):
    r"""Gradient Gating (G2) from `"Gradient Gating for Deep Multi-Rate Learning on Graphs"
    <https://arxiv.org/abs/2210.00513>`_ (Rusch et al., ICLR 2023), as in the authors' code:

    .. math::
        \mathbf{X}^0 &= \mathrm{ReLU}(\mathrm{enc}(\mathbf{X})) \\
        \hat{\mathbf{X}}^k &= \mathrm{ReLU}(\mathrm{GCN}(\mathbf{X}^k)), \quad
        \mathbf{Y}^k = \mathrm{ReLU}(\mathrm{GCN}_g(\mathbf{X}^k)) \\
        \tau^k_i &= \tanh\Big(\frac{1}{|\mathcal{N}_i|}\sum_{j \in \mathcal{N}_i}
            |\mathbf{Y}^k_i - \mathbf{Y}^k_j|^p\Big) \\
        \mathbf{X}^{k+1} &= (1 - \tau^k) \odot \mathbf{X}^k + \tau^k \odot \hat{\mathbf{X}}^k

    with one layer and one gating layer shared by all ``num_layers`` steps, and a linear decoder
    with no activation on the logits. The layer is GCN (the paper's G²-GCN), GraphSAGE
    (its heterophily results; mean aggregation with a root weight) or GAT (4 heads
    concatenated, ELU, then as the authors' code each run of 4 consecutive channels averaged
    back to width ``hidden_channels``).

    Args:
        in_channels, hidden_channels, num_layers, out_channels: as :class:`~eamp.models.GCN`.
        dropout (float): dropout before the decoder. (default: ``0.5``)
        input_dropout (float): dropout on the input features. (default: ``0.6``)
        p (float): the gate's exponent. (default: ``1.0``; the authors' heterophily scripts
            use 2.5, which on Cora closes the gates and leaves an MLP: 0.59 test accuracy at
            depth 16 against 0.77 with 1.0)
        gate_conv (bool): gate with a second layer of its own; ``False`` gates with the
            update's layer, as the authors' scripts do by default. (default: ``True``)
        conv (str): ``"gcn"``, ``"sage"`` or ``"gat"``. (default: ``"gcn"``)
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        num_layers: int,
        out_channels: int,
        dropout: float = 0.5,
        input_dropout: float = 0.6,
        p: float = 1.0,
        gate_conv: bool = True,
        conv: str = "gcn",
    ) -> None:
        super().__init__(in_channels, hidden_channels, num_layers, out_channels, dropout)
        if not p >= 1:
            # |y_i - y_j|^p has an infinite derivative where neighbours agree when p < 1
            raise ValueError(f"p: expected a number >= 1, got {p}")
        if not 0 <= input_dropout < 1:
            raise ValueError(f"input_dropout: expected a rate in [0, 1), got {input_dropout}")
        if conv not in G2_CONVS:
            raise ValueError(f"conv: expected one of {G2_CONVS}, got {conv!r}")
        self.input_dropout = float(input_dropout)
        self.p = float(p)
        self.kind = conv
        self.encoder = Linear(in_channels, hidden_channels)
        self.conv = self._layer(hidden_channels)
        self.gate_conv = self._layer(hidden_channels) if gate_conv else None
        self.decoder = Linear(hidden_channels, out_channels)
        self.reset_parameters()

    def _layer(self, width: int) -> torch.nn.Module:
        if self.kind == "sage":
            return SAGEConv(width, width)
        if self.kind == "gat":
            return GATConv(width, width, heads=GAT_HEADS, concat=True)
        return GCNConv(width, width, normalize=False)

    def _layer_out(self, layer: torch.nn.Module, x: Tensor, edge_index: Tensor,
               adjacency: tuple[Tensor, Tensor | None]) -> Tensor:
        """The layer with its activation: ReLU, or for GAT ELU and the authors' averaging."""
        if self.kind == "gcn":
            return F.relu(layer(x, *adjacency))
        if self.kind == "sage":
            return F.relu(layer(x, edge_index))
        out = F.elu(layer(x, edge_index))
        return out.view(x.size(0), -1, GAT_HEADS).mean(dim=-1)

    def reset_parameters(self) -> None:
        for module in (self.encoder, self.conv, self.gate_conv, self.decoder):
            if module is not None:
                module.reset_parameters()

    def forward_state(self, x: Tensor, edge_index: Tensor) -> Any:
        """Hook: what the steps of one forward pass share (default: nothing)."""
        return None

    def layer_step(self, index: int, x: Tensor, edge_index: Tensor,
                   adjacency: tuple[Tensor, Tensor | None], state: Any) -> Tensor:
        """Hook: one gated step."""
        update = self._layer_out(self.conv, x, edge_index, adjacency)
        gate = (update if self.gate_conv is None
                else self._layer_out(self.gate_conv, x, edge_index, adjacency))
        tau = gradient_gate(gate, edge_index, self.p)
        return (1 - tau) * x + tau * update

    def run(self, x: Tensor, edge_index: Tensor) -> tuple[Tensor, list[Tensor]]:
        adjacency = self.adjacency(x, edge_index) if self.kind == "gcn" else (edge_index, None)
        state = self.forward_state(x, edge_index)
        hidden = [x]
        x = F.relu(input_step(self.encoder, x, self.input_dropout, self.training))
        for index in range(self.num_layers):
            x = self.layer(self.layer_step, index, x, edge_index, adjacency, state)
            hidden.append(x)
        x = dropout(x, self.dropout, self.training)
        return self.decoder(x), hidden

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, input_dropout={self.input_dropout}, p={self.p}, "
                f"gate_conv={self.gate_conv is not None}, conv={self.kind!r}")


class EntropicG2(G2):
    r""":class:`G2` with an entropy-ascent step added to every gated step:

    .. math::
        \mathbf{X}^{k+1} = (1 - \tau^k) \odot \mathbf{X}^k + \tau^k \odot
        \hat{\mathbf{X}}^k + \lambda T \nabla_{\mathbf{X}} S(\mathbf{X}^k_c)

    Where the step sits: after the gate, not inside it. G2's rate :math:`\tau^k_i` goes to 0
    where a node's neighbours agree, which is where the energy (and the entropy's gradient
    with it) is small and oversmoothing sets in; a step multiplied by :math:`\tau` would be
    switched off exactly where it is meant to act. Added after the gate it is eq. 5 of the
    entropy paper with G2's gated update as :math:`\phi`. The gradient is taken at the
    step's input :math:`\mathbf{X}^k` (the paper's eq. 5), so there is no ``gradient_at``.
    An :class:`~eamp.nn.EntropicConv` around the shared layer holds :math:`\lambda`,
    :math:`T` (learnable or not) and the schedule, and computes the step
    (:meth:`~eamp.nn.EntropicConv.entropy_step`).

    Args:
        in_channels, hidden_channels, num_layers, out_channels: as :class:`G2`.
        dropout, input_dropout, p, gate_conv, conv: as :class:`G2`.
        entropy_weight, temperature: as :class:`~eamp.models.EntropicGCN` (default
            :math:`\lambda = 1`, :math:`T = 10`).
        learn_entropy_weight, learn_temperature, detach: as :class:`~eamp.models.EntropicGCN`.
        schedule, schedule_gain, normalize: as :class:`~eamp.models.EntropicGCN`.
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        num_layers: int,
        out_channels: int,
        dropout: float = 0.5,
        input_dropout: float = 0.6,
        p: float = 1.0,
        gate_conv: bool = True,
        conv: str = "gcn",
        entropy_weight: float = ENTROPY_WEIGHT,
        temperature: float = TEMPERATURE,
        learn_entropy_weight: bool = False,
        learn_temperature: bool = False,
        detach: bool = True,
        schedule: str = "constant",
        schedule_gain: float = 1.0,
        normalize: bool = True,
    ) -> None:
        super().__init__(in_channels, hidden_channels, num_layers, out_channels, dropout,
                         input_dropout, p, gate_conv, conv)
        self.entropy = EntropyOptions.pick(locals())  # checked once, shared
        self.entropic = EntropicConv(self.conv, **self.entropy.as_dict())
        self._graph_cache = GraphCache()

    def forward_state(self, x: Tensor, edge_index: Tensor) -> EntropyPass:
        return EntropyPass(self._graph_cache(edge_index, x))

    def layer_step(self, index: int, x: Tensor, edge_index: Tensor,
                   adjacency: tuple[Tensor, Tensor | None], state: EntropyPass) -> Tensor:
        if state.reference is None:
            state.reference = self.entropic.reference_entropy(x, state.graph)
        step = self.entropic.entropy_step(x, edge_index, state.graph, state.reference)
        return super().layer_step(index, x, edge_index, adjacency, state) + step
