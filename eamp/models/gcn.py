"""Deep GCN and its entropic version."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import ModuleList
from torch_geometric.nn import GCNConv

from eamp.entropy import boltzmann_entropy
from eamp.models.base import DeepGNN, normalized_adjacency
from eamp.nn.entropic_conv import EntropicConv, GraphCache, check_entropy_arguments

__all__ = ["GCN", "EntropicGCN"]


class GCN(DeepGNN):
    r"""A plain deep GCN (Kipf & Welling, ICLR 2017), the paper's "Basic GCN":

    .. math::
        \mathbf{X}^{k+1} = \mathrm{ReLU}\big(\hat{A} \mathbf{X}^k \mathbf{W}^k\big),
        \qquad \hat A = \hat D^{-1/2}(A + I)\hat D^{-1/2}

    ``depth`` GCN layers, ``in -> hidden -> ... -> hidden -> out``, dropout before each, no
    activation after the last.

    Args:
        in_channels (int): input features.
        out_channels (int): classes.
        depth (int): number of GCN layers (>= 1).
        hidden_channels (int): width. (default: ``256``)
        dropout (float): dropout rate before each layer. (default: ``0.5``)

    Shapes:
        ``x`` ``[n, in_channels]``, ``edge_index`` ``[2, E]`` -> ``[n, out_channels]``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        depth: int,
        hidden_channels: int = 256,
        dropout: float = 0.5,
    ) -> None:
        super().__init__(in_channels, out_channels, depth, hidden_channels, dropout)
        widths = [in_channels] + [hidden_channels] * (depth - 1) + [out_channels]
        self.convs = ModuleList(
            self.make_layer(i, GCNConv(widths[i], widths[i + 1], normalize=False))
            for i in range(depth)
        )
        self.reset_parameters()

    def make_layer(self, index: int, conv: GCNConv) -> GCNConv | EntropicConv:
        return conv

    def reset_parameters(self) -> None:
        for conv in self.convs:
            conv.reset_parameters()

    def run(self, x: Tensor, edge_index: Tensor) -> tuple[Tensor, list[Tensor]]:
        adj, weight = normalized_adjacency(edge_index, x.size(0))
        hidden = [x]
        for i, conv in enumerate(self.convs):
            x = conv(F.dropout(x, self.dropout, self.training), adj, weight)
            x = x if i == self.depth - 1 else F.relu(x)
            hidden.append(x)
        return x, hidden


class EntropicGCN(GCN):
    r"""The paper's entropic GCN: :class:`GCN` with every hidden layer (all but the first and
    the last, which change the width) wrapped in :class:`~eamp.nn.EntropicConv`:

    .. math::
        \mathbf{X}^{k+1} = \mathrm{ReLU}\big(\hat{A} \mathbf{X}^k \mathbf{W}^k\big)
        + \lambda T \nabla_{\mathbf{X}} S(\mathbf{X}^k_c)

    The entropy's graph is prepared once per forward pass and shared by every layer. The
    adaptive schedule's reference :math:`S_0` is the entropy of the first hidden state (the
    input of the first entropic layer), since the raw features live in another space.

    Args:
        in_channels, out_channels, depth, hidden_channels, dropout: as :class:`GCN`.
        entropy_weight (float): :math:`\lambda`. (default: ``1.0``)
        temperature (float): :math:`T`. (default: ``10.0``, the paper's choice on Cora)
        learn_entropy_weight, learn_temperature, detach, gradient_at, schedule,
        schedule_gain, normalize: as :class:`~eamp.nn.EntropicConv`.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        depth: int,
        hidden_channels: int = 256,
        dropout: float = 0.5,
        entropy_weight: float = 1.0,
        temperature: float = 10.0,
        learn_entropy_weight: bool = False,
        learn_temperature: bool = False,
        detach: bool = True,
        gradient_at: str = "input",
        schedule: str = "constant",
        schedule_gain: float = 1.0,
        normalize: bool = True,
    ) -> None:
        # checked here too: a model of depth <= 2 has no entropic layer to check them
        check_entropy_arguments(entropy_weight, temperature, learn_entropy_weight, gradient_at,
                                schedule, schedule_gain)
        self.entropy_options = dict(
            entropy_weight=entropy_weight, temperature=temperature,
            learn_entropy_weight=learn_entropy_weight, learn_temperature=learn_temperature,
            detach=detach, gradient_at=gradient_at, schedule=schedule,
            schedule_gain=schedule_gain, normalize=normalize,
        )
        super().__init__(in_channels, out_channels, depth, hidden_channels, dropout)
        self._graph_cache = GraphCache()

    def make_layer(self, index: int, conv: GCNConv) -> GCNConv | EntropicConv:
        if 0 < index < self.depth - 1:
            # dropout inside the wrapper: the entropy sees the clean X^k, the conv a dropped one
            return EntropicConv(conv, act=F.relu, dropout=self.dropout, **self.entropy_options)
        return conv

    def run(self, x: Tensor, edge_index: Tensor) -> tuple[Tensor, list[Tensor]]:
        adj, weight = normalized_adjacency(edge_index, x.size(0))
        graph = self._graph_cache(edge_index, x)
        hidden = [x]
        reference = None
        for i, conv in enumerate(self.convs):
            if isinstance(conv, EntropicConv):
                if conv.schedule == "adaptive" and reference is None:
                    with torch.no_grad():
                        reference = boltzmann_entropy(
                            x, graph, conv.temperature, normalize=conv.normalize
                        )
                x = conv(x, adj, weight, entropy_graph=graph, reference_entropy=reference)
            else:
                x = conv(F.dropout(x, self.dropout, self.training), adj, weight)
                x = x if i == self.depth - 1 else F.relu(x)
            hidden.append(x)
        return x, hidden
