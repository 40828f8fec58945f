"""Deep GCN and its entropic version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch.nn.functional as F
from torch import Tensor
from torch.nn import Module, ModuleList

from eamp.entropy import PreparedGraph
from eamp.models.base import DeepGNN
from eamp.nn.cache import GraphCache
from eamp.nn.entropic_conv import EntropicConv
from eamp.nn.options import ENTROPY_WEIGHT, TEMPERATURE, EntropyOptions
from eamp.nn.sparse import GCNConvWithTranspose as GCNConv
from eamp.nn.sparse import input_step

__all__ = ["GCN", "EntropicGCN", "EntropyPass"]


class GCN(DeepGNN):
    r"""A plain deep GCN (Kipf & Welling, ICLR 2017), the paper's "Basic GCN":

    .. math::
        \mathbf{X}^{k+1} = \mathrm{ReLU}\big(\hat{A} \mathbf{X}^k \mathbf{W}^k\big),
        \qquad \hat A = \hat D^{-1/2}(A + I)\hat D^{-1/2}

    ``num_layers`` GCN layers, ``in -> hidden -> ... -> hidden -> out``, dropout before each, no
    activation after the last.

    A template for GCN variants: a subclass changes what a layer is (:meth:`make_layer`),
    what follows it (:meth:`activate`), or how it is called (:meth:`layer_step`, with the
    per-pass state of :meth:`forward_state`); the loop itself stays here.

    Args:
        in_channels (int): input features.
        hidden_channels (int): width.
        num_layers (int): number of GCN layers (>= 1).
        out_channels (int): classes.
        dropout (float): dropout rate before each layer. (default: ``0.5``)

    Shapes:
        ``x`` ``[n, in_channels]``, ``edge_index`` ``[2, E]`` -> ``[n, out_channels]``.
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        num_layers: int,
        out_channels: int,
        dropout: float = 0.5,
    ) -> None:
        super().__init__(in_channels, hidden_channels, num_layers, out_channels, dropout)
        widths = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.convs = ModuleList(
            self.make_layer(i, GCNConv(widths[i], widths[i + 1], normalize=False))
            for i in range(num_layers)
        )
        self.reset_parameters()

    def make_layer(self, index: int, conv: GCNConv) -> Module:
        """Hook: the module that is layer ``index`` (default: ``conv`` itself)."""
        return conv

    def reset_parameters(self) -> None:
        for conv in self.convs:
            conv.reset_parameters()

    def run(self, x: Tensor, edge_index: Tensor) -> tuple[Tensor, list[Tensor]]:
        adj, weight = self.adjacency(x, edge_index)
        state = self.forward_state(x, edge_index)
        hidden = [x]
        for index, layer in enumerate(self.convs):
            x = self.layer(self.layer_step, index, layer, x, adj, weight, state)
            hidden.append(x)
        return x, hidden

    def forward_state(self, x: Tensor, edge_index: Tensor) -> Any:
        """Hook: what the layers of one forward pass share (default: nothing)."""
        return None

    def layer_step(self, index: int, layer: Module, x: Tensor, adj: Tensor, weight: Tensor,
                   state: Any) -> Tensor:
        """Hook: one layer, dropout before it; :meth:`activate` after all but the last."""
        x = input_step(layer, x, self.dropout, self.training, adj, weight)
        return x if index == self.num_layers - 1 else self.activate(index, x)

    def activate(self, index: int, x: Tensor) -> Tensor:
        """Hook: what follows hidden layer ``index`` (default: ReLU)."""
        return F.relu(x)


@dataclass
class EntropyPass:
    """What the entropic layers of one forward pass share: the entropy's graph and the
    adaptive schedule's reference entropy, set by the first entropic layer that runs."""

    graph: PreparedGraph
    reference: Tensor | None = None

    def call(self, layer: EntropicConv, x: Tensor, *args: Any) -> Tensor:
        """``layer(x, *args)`` with this pass's entropy graph and reference entropy."""
        if self.reference is None:
            self.reference = layer.reference_entropy(x, self.graph)
        return layer(x, *args, entropy_graph=self.graph, reference_entropy=self.reference)


class EntropicGCN(GCN):
    r"""The paper's entropic GCN: :class:`GCN` with every hidden layer (all but the first and
    the last, which change the width) wrapped in :class:`~eamp.nn.EntropicConv`:

    .. math::
        \mathbf{X}^{k+1} = \mathrm{ReLU}\big(\hat{A} \mathbf{X}^k \mathbf{W}^k\big)
        + \lambda T \nabla_{\mathbf{X}} S(\mathbf{X}^k_c)

    The entropy's graph is prepared once per forward pass and shared by every layer. The
    adaptive schedule's reference :math:`S_0` is the entropy of the first hidden state (the
    input of the first entropic layer, which computes it), since the raw features live in
    another space. The entropy settings are checked once, into :attr:`entropy`
    (:class:`~eamp.nn.EntropyOptions`), which every layer shares.

    Args:
        in_channels, hidden_channels, num_layers, out_channels, dropout: as :class:`GCN`.
        entropy_weight (float): :math:`\lambda`. (default:
            :data:`~eamp.nn.options.ENTROPY_WEIGHT`, ``1.0``)
        temperature (float): :math:`T`. (default: :data:`~eamp.nn.options.TEMPERATURE`,
            ``10.0``, the paper's choice on Cora)
        learn_entropy_weight, learn_temperature, detach: as :class:`~eamp.nn.EntropicConv`.
        gradient_at, schedule, schedule_gain, normalize: as :class:`~eamp.nn.EntropicConv`.
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        num_layers: int,
        out_channels: int,
        dropout: float = 0.5,
        entropy_weight: float = ENTROPY_WEIGHT,
        temperature: float = TEMPERATURE,
        learn_entropy_weight: bool = False,
        learn_temperature: bool = False,
        detach: bool = True,
        gradient_at: str = "input",
        schedule: str = "constant",
        schedule_gain: float = 1.0,
        normalize: bool = True,
    ) -> None:
        self.entropy = EntropyOptions.pick(locals())  # checked once, shared
        super().__init__(in_channels, hidden_channels, num_layers, out_channels, dropout)
        self._graph_cache = GraphCache()

    def make_layer(self, index: int, conv: GCNConv) -> Module:
        if 0 < index < self.num_layers - 1:
            # dropout inside the wrapper: the entropy sees the clean X^k, the conv a dropped one
            return EntropicConv(conv, act=F.relu, dropout=self.dropout,
                                **self.entropy.as_dict())
        return conv

    def forward_state(self, x: Tensor, edge_index: Tensor) -> EntropyPass:
        return EntropyPass(self._graph_cache(edge_index, x))

    def layer_step(self, index: int, layer: Module, x: Tensor, adj: Tensor, weight: Tensor,
                   state: EntropyPass) -> Tensor:
        if not isinstance(layer, EntropicConv):
            return super().layer_step(index, layer, x, adj, weight, state)
        return state.call(layer, x, adj, weight)
