"""What every model of the registry shares: its hyper-parameters, layers and hidden states."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from numbers import Integral
from typing import Any

import torch
from torch import Tensor
from torch.nn import Module
from torch.utils.checkpoint import checkpoint
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.utils import degree, to_torch_csr_tensor

from eamp.checks import real_number
from eamp.nn.cache import GraphCache
from eamp.nn.sparse import with_transpose

__all__ = ["DeepGNN", "Adjacency", "ADJACENCY_NORMS", "normalized_adjacency"]

ADJACENCY_NORMS = ("gcn", "mean")


def normalized_adjacency(edge_index: Tensor, num_nodes: int, norm: str = "gcn",
                         dtype: torch.dtype | None = None) -> tuple[Tensor, Tensor]:
    r"""A normalized adjacency as ``(edge_index, edge_weight)``, an edge ``j -> i`` weighing
    on target ``i``, its weights computed in ``dtype`` (default: PyTorch's default dtype):

    - ``"gcn"``: GCN's :math:`\hat D^{-1/2} (A + I) \hat D^{-1/2}` (self-loops added);
    - ``"mean"``: :math:`D_{in}^{-1} A`, the mean over a node's in-neighbours (GraphSAGE's
      aggregation; a node without any gets zero), no self-loops.
    """
    if norm == "gcn":
        return gcn_norm(edge_index, None, num_nodes, add_self_loops=True, dtype=dtype)
    if norm == "mean":
        in_degree = degree(edge_index[1], num_nodes, dtype=dtype)
        return edge_index, in_degree.clamp(min=1).reciprocal()[edge_index[1]]
    raise ValueError(f"norm: expected one of {ADJACENCY_NORMS}, got {norm!r}")


@dataclass(frozen=True)
class Adjacency:
    """A normalized adjacency of one graph (:func:`normalized_adjacency`) in the two forms
    the layers take: an ``(edge_index, edge_weight)`` pair (PyG's gather-scatter) and a
    sparse CSR matrix with a row per target node (one sparse product per layer: 7x faster
    forward and backward on Cora on a CPU). A model of another float dtype (float64) gets
    the same adjacency with its weights computed in that dtype, built once."""

    edge_index: Tensor
    edge_weight: Tensor
    csr: Tensor
    csr_t: Tensor  # its transpose, for the backward (eamp.nn.sparse.with_transpose)
    graph: Tensor  # the edge_index it was built from
    norm: str = "gcn"
    _in_dtype: dict[torch.dtype, Adjacency] = field(default_factory=dict, repr=False,
                                                     compare=False)

    @classmethod
    def build(cls, edge_index: Tensor, num_nodes: int, norm: str = "gcn",
              dtype: torch.dtype | None = None) -> Adjacency:
        normalized, weight = normalized_adjacency(edge_index, num_nodes, norm, dtype)
        with warnings.catch_warnings():  # "sparse CSR tensor support is in beta state"
            warnings.simplefilter("ignore", UserWarning)
            size = (num_nodes, num_nodes)
            csr_t = to_torch_csr_tensor(normalized, weight, size=size)
            csr = with_transpose(to_torch_csr_tensor(normalized.flip(0), weight, size=size),
                                 csr_t)
        return cls(normalized, weight, csr, csr_t, edge_index, norm)

    def layer_arguments(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """``(adjacency, edge_weight)`` for a GCN-style layer applied to ``x``: the CSR
        matrix (no weight), in ``x``'s dtype for a float64 model; a 16-bit ``x`` (under
        autocast) gets the float32 one, and the layers of :mod:`eamp.nn.sparse` multiply by
        it in float32. Under :func:`torch.compile` the ``(edge_index, edge_weight)`` pair:
        TorchDynamo does not trace sparse tensors, and PyG's gather-scatter compiles."""
        if torch.compiler.is_compiling():
            return self.edge_index, self.edge_weight
        if x.dtype.itemsize >= 4 and x.dtype != self.csr.dtype and x.is_floating_point():
            if x.dtype not in self._in_dtype:
                self._in_dtype[x.dtype] = Adjacency.build(self.graph, self.csr.size(0),
                                                          self.norm, x.dtype)
            return self._in_dtype[x.dtype].csr, None
        return self.csr, None


class DeepGNN(Module):
    r"""Base class of the deep models: ``num_layers`` counts message-passing layers.

    In every model, ``num_layers`` is the number of graph propagations between the input and
    the logits; linear encoders and decoders (G2, GCNII) are not counted. A model of
    ``num_layers`` layers hands back ``num_layers + 1`` hidden states: the input features,
    then the output of each message-passing layer. The constructors take PyG's arguments in
    PyG's order: ``in_channels, hidden_channels, num_layers, out_channels``.

    Subclasses implement :meth:`run`, which returns the logits and those states, calling
    each layer through :meth:`layer` (which checkpoints it when asked).
    """

    # whether run() calls its layers through layer(), so that checkpointing applies
    supports_checkpointing = True

    def __init__(
        self, in_channels: int, hidden_channels: int, num_layers: int, out_channels: int,
        dropout: float
    ) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("hidden_channels", hidden_channels),
                            ("num_layers", num_layers), ("out_channels", out_channels)):
            if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
                raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")
        dropout = real_number("dropout", dropout, low=0.0)
        if not dropout < 1:
            raise ValueError(f"dropout: expected a rate in [0, 1), got {dropout}")
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.num_layers = int(num_layers)
        self.hidden_channels = int(hidden_channels)
        self.dropout = float(dropout)
        self._adjacency_caches = {norm: GraphCache(build=partial(Adjacency.build, norm=norm))
                                  for norm in ADJACENCY_NORMS}
        self.checkpointing = False

    def set_checkpointing(self, enabled: bool = True) -> DeepGNN:
        """Activation checkpointing (:func:`torch.utils.checkpoint.checkpoint`, as PyG's
        ``DeepGCNLayer(ckpt_grad=True)``): in training, each layer keeps only its input for
        the backward pass and recomputes the rest, with the random state restored so that
        dropout draws the same masks (same gradients, less memory, about one more forward
        pass of time). Returns the model."""
        self.checkpointing = bool(enabled)
        return self

    def layer(self, step: Callable[..., Tensor], *args: Any) -> Tensor:
        """``step(*args)``: one layer of :meth:`run`, checkpointed when that is on."""
        if self.checkpointing and self.training and torch.is_grad_enabled():
            return checkpoint(step, *args, use_reentrant=False, preserve_rng_state=True)
        return step(*args)

    def adjacency(self, x: Tensor, edge_index: Tensor,
                  norm: str = "gcn") -> tuple[Tensor, Tensor | None]:
        """The normalized adjacency ``norm`` (:func:`normalized_adjacency`) of ``edge_index``
        as a layer takes it for ``x`` (see :meth:`Adjacency.layer_arguments`), built once per
        graph."""
        # the lookup is eager under torch.compile (GraphCache); which form a layer takes is
        # decided here, in the compiled code
        return self._adjacency_caches[norm](edge_index, x).layer_arguments(x)

    def forward(
        self, x: Tensor, edge_index: Tensor, *, return_hidden: bool = False
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """The logits (and, if asked, the hidden states) of every node.

        Args:
            x (Tensor): ``[n, in_channels]`` node features.
            edge_index (LongTensor): ``[2, E]`` undirected edges without self-loops.
            return_hidden (bool): also return the ``num_layers + 1`` hidden states.

        Returns:
            ``[n, out_channels]`` logits, and the list of hidden states if asked.
        """
        logits, hidden = self.run(x, edge_index)
        return (logits, hidden) if return_hidden else logits

    def run(self, x: Tensor, edge_index: Tensor) -> tuple[Tensor, list[Tensor]]:
        """The logits and the ``num_layers + 1`` hidden states."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.hidden_channels}, num_layers={self.num_layers}, "
                f"out_channels={self.out_channels}, dropout={self.dropout}")
