"""GCNII (Chen et al., ICML 2020) from PyG's GCN2Conv."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor
from torch.nn import Linear, ModuleList
from torch_geometric.nn import GCN2Conv

from eamp.models.base import DeepGNN
from eamp.nn.functional import dropout
from eamp.nn.sparse import input_step

__all__ = ["GCNII"]


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
        in_channels, out_channels, depth, hidden_channels: as :class:`~eamp.models.GCN`.
        dropout (float): dropout before every layer and the decoder. (default: ``0.6``)
        alpha (float): initial-residual strength :math:`\alpha`. (default: ``0.1``)
        theta (float): identity-mapping strength :math:`\theta`. (default: ``0.5``)
        conv_weight_decay (float): weight decay of the GCN2Conv weights; the encoder and
            decoder use the training run's. (default: ``0.01``, as the authors)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        depth: int,
        hidden_channels: int = 256,
        dropout: float = 0.6,
        alpha: float = 0.1,
        theta: float = 0.5,
        conv_weight_decay: float = 0.01,
    ) -> None:
        super().__init__(in_channels, out_channels, depth, hidden_channels, dropout)
        if not 0 <= alpha <= 1:
            raise ValueError(f"alpha: expected a number in [0, 1], got {alpha}")
        if not theta > 0:
            raise ValueError(f"theta: expected a number > 0, got {theta}")
        self.alpha, self.theta = float(alpha), float(theta)
        self.conv_weight_decay = float(conv_weight_decay)
        self.encoder = Linear(in_channels, hidden_channels)
        self.convs = ModuleList(
            GCN2Conv(hidden_channels, alpha, theta, layer=k + 1, normalize=False)
            for k in range(depth)
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

    def run(self, x: Tensor, edge_index: Tensor) -> tuple[Tensor, list[Tensor]]:
        adj, weight = self.adjacency(x, edge_index)
        hidden = [x]
        x = x0 = F.relu(input_step(self.encoder, x, self.dropout, self.training))
        for conv in self.convs:
            x = dropout(x, self.dropout, self.training)
            x = F.relu(conv(x, x0, adj, weight))
            hidden.append(x)
        x = dropout(x, self.dropout, self.training)
        return self.decoder(x), hidden

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, alpha={self.alpha}, theta={self.theta}"
