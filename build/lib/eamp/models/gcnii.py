"""GCNII (Chen et al., ICML 2020) from PyG's GCN2Conv, and its entropic version."""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor
from torch.nn import Linear, Module, ModuleList

from eamp.models.base import DeepGNN
from eamp.models.gcn import EntropyPass
from eamp.nn.cache import GraphCache
from eamp.nn.entropic_conv import EntropicConv
from eamp.nn.functional import dropout
from eamp.nn.options import ENTROPY_WEIGHT, TEMPERATURE, EntropyOptions
from eamp.nn.sparse import GCN2ConvWithTranspose as GCN2Conv
from eamp.nn.sparse import input_step

__all__ = ["GCNII", "EntropicGCNII"]


class GCNII(DeepGNN):
    r"""GCNII from `"Simple and Deep Graph Convolutional Networks"
    <https://arxiv.org/abs/2007.02133>`_, built on PyG's
    :class:`~torch_geometric.nn.conv.GCN2Conv`:

    .. math::
        \mathbf{X}^{k+1} = \mathrm{ReLU}\Big(\big((1-\alpha)\hat{A}\mathbf{X}^k
        + \alpha \mathbf{X}^0\big)\big((1-\beta_k)\mathbf{I} + \beta_k \mathbf{W}^k\big)\Big),
        \quad \beta_k = \log(\theta / k + 1)

    between a linear encoder (with ReLU) and a linear decoder.

    Args:
        in_channels, hidden_channels, num_layers, out_channels: as :class:`~eamp.models.GCN`.
        dropout (float): dropout before every layer and the decoder. (default: ``0.6``)
        alpha (float): initial-residual strength :math:`\alpha`. (default: ``0.1``)
        theta (float): identity-mapping strength :math:`\theta`. (default: ``0.5``)
        conv_weight_decay (float): weight decay of the GCN2Conv weights; the encoder and
            decoder use the training run's. (default: ``0.01``, as the authors)
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        num_layers: int,
        out_channels: int,
        dropout: float = 0.6,
        alpha: float = 0.1,
        theta: float = 0.5,
        conv_weight_decay: float = 0.01,
    ) -> None:
        super().__init__(in_channels, hidden_channels, num_layers, out_channels, dropout)
        if not 0 <= alpha <= 1:
            raise ValueError(f"alpha: expected a number in [0, 1], got {alpha}")
        if not theta > 0:
            raise ValueError(f"theta: expected a number > 0, got {theta}")
        self.alpha, self.theta = float(alpha), float(theta)
        self.conv_weight_decay = float(conv_weight_decay)
        self.encoder = Linear(in_channels, hidden_channels)
        self.convs = ModuleList(
            self.make_layer(k, GCN2Conv(hidden_channels, alpha, theta, layer=k + 1,
                                        normalize=False))
            for k in range(num_layers)
        )
        self.decoder = Linear(hidden_channels, out_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.encoder.reset_parameters()
        self.decoder.reset_parameters()
        for conv in self.convs:
            conv.reset_parameters()

    def param_groups(self, weight_decay: float) -> list[dict]:
        """Optimizer groups: the convolutions with ``conv_weight_decay``, the rest with
        ``weight_decay``."""
        linear = list(self.encoder.parameters()) + list(self.decoder.parameters())
        return [
            {"params": list(self.convs.parameters()), "weight_decay": self.conv_weight_decay},
            {"params": linear, "weight_decay": weight_decay},
        ]

    def make_layer(self, index: int, conv: GCN2Conv) -> Module:
        """Hook: the module that is layer ``index`` (default: ``conv`` itself)."""
        return conv

    def forward_state(self, x: Tensor, edge_index: Tensor) -> Any:
        """Hook: what the layers of one forward pass share (default: nothing)."""
        return None

    def layer_step(self, index: int, layer: Module, x: Tensor, x0: Tensor, adj: Tensor,
                   weight: Tensor | None, state: Any) -> Tensor:
        """Hook: one layer, dropout before it, ReLU after."""
        return F.relu(layer(dropout(x, self.dropout, self.training), x0, adj, weight))

    def run(self, x: Tensor, edge_index: Tensor) -> tuple[Tensor, list[Tensor]]:
        adj, weight = self.adjacency(x, edge_index)
        state = self.forward_state(x, edge_index)
        hidden = [x]
        x = x0 = F.relu(input_step(self.encoder, x, self.dropout, self.training))
        for index, layer in enumerate(self.convs):
            x = self.layer(self.layer_step, index, layer, x, x0, adj, weight, state)
            hidden.append(x)
        x = dropout(x, self.dropout, self.training)
        return self.decoder(x), hidden

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, alpha={self.alpha}, theta={self.theta}"


class EntropicGCNII(GCNII):
    r""":class:`GCNII` with every layer wrapped in :class:`~eamp.nn.EntropicConv`:

    .. math::
        \mathbf{X}^{k+1} = \mathrm{ReLU}\Big(\big((1-\alpha)\hat{A}\mathbf{X}^k
        + \alpha \mathbf{X}^0\big)\big((1-\beta_k)\mathbf{I} + \beta_k
        \mathbf{W}^k\big)\Big) + \lambda T \nabla_{\mathbf{X}} S(\mathbf{X}^k_c)

    (``gradient_at="output"``: the step is taken on the layer's pre-activation output
    instead, inside the ReLU.)

    Where the step sits: outside the initial residual and the identity mapping. GCNII's
    layer is a convex mix of the propagated state and :math:`\mathbf{X}^0`, multiplied by
    :math:`(1-\beta_k)\mathbf{I} + \beta_k\mathbf{W}^k`; an entropy step inside it would
    be shrunk by :math:`1 - \alpha` and turned by :math:`\mathbf{W}^k`, so it would no
    longer be the ascent direction of :math:`S`. Outside, it is eq. 5 of the entropy paper
    with GCNII's layer as :math:`\phi`, and :math:`\mathbf{X}^0` stays the encoder's output
    (not pushed by the entropy). Every layer keeps the width, so every layer is entropic.

    Args:
        in_channels, hidden_channels, num_layers, out_channels: as :class:`GCNII`.
        dropout, alpha, theta, conv_weight_decay: as :class:`GCNII`.
        entropy_weight, temperature: as :class:`~eamp.models.EntropicGCN` (default
            :math:`\lambda = 1`, :math:`T = 10`).
        learn_entropy_weight, learn_temperature, detach, gradient_at: as
            :class:`~eamp.models.EntropicGCN`.
        schedule, schedule_gain, normalize: as :class:`~eamp.models.EntropicGCN`.
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        num_layers: int,
        out_channels: int,
        dropout: float = 0.6,
        alpha: float = 0.1,
        theta: float = 0.5,
        conv_weight_decay: float = 0.01,
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
        super().__init__(in_channels, hidden_channels, num_layers, out_channels, dropout, alpha,
                         theta, conv_weight_decay)
        self._graph_cache = GraphCache()

    def make_layer(self, index: int, conv: GCN2Conv) -> Module:
        # dropout inside the wrapper: the entropy sees the clean X^k, the conv a dropped one
        return EntropicConv(conv, act=F.relu, dropout=self.dropout,
                            **self.entropy.as_dict())

    def param_groups(self, weight_decay: float) -> list[dict]:
        groups = super().param_groups(weight_decay)
        # a learnable lambda or T goes with the linear layers' weight decay
        seen = {id(p) for group in groups for p in group["params"]}
        extra = [p for p in self.parameters() if id(p) not in seen]
        if extra:
            groups[1]["params"] = groups[1]["params"] + extra
        return groups

    def forward_state(self, x: Tensor, edge_index: Tensor) -> EntropyPass:
        return EntropyPass(self._graph_cache(edge_index, x))

    def layer_step(self, index: int, layer: Module, x: Tensor, x0: Tensor, adj: Tensor,
                   weight: Tensor | None, state: EntropyPass) -> Tensor:
        # EntropicConv calls conv(x, *args): here GCN2Conv(x, x0, adj, weight); the entropy
        # takes its graph from the pass, never from those arguments
        return state.call(layer, x, x0, adj, weight)
