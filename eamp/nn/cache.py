"""A value built from a graph and kept while the same graph tensor comes back."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from eamp.entropy import prepare_graph

__all__ = ["GraphCache"]


class GraphCache:
    """Builds something from ``edge_index`` (by default the entropy's
    :class:`~eamp.entropy.PreparedGraph`) and keeps it while the same tensor object, unchanged
    (same version), comes back with the same number of nodes on the same device, as it does
    at every layer and epoch. The tensor is held by a weak reference: a freed tensor whose
    memory another one reuses is not mistaken for it.

    Args:
        build (Callable, optional): ``build(edge_index, num_nodes)``.
            (default: :func:`~eamp.entropy.prepare_graph`)
    """

    def __init__(self, build: Callable[[Tensor, int], Any] = prepare_graph) -> None:
        self._build = build
        self._ref: weakref.ref | None = None
        self._key: tuple | None = None
        self._graph: Any = None

    # eager under torch.compile: what it builds holds sparse tensors, which TorchDynamo
    # cannot trace, and a cache lookup is no work to compile
    @torch.compiler.disable
    def __call__(self, edge_index: Tensor, x: Tensor) -> Any:
        if not isinstance(edge_index, Tensor) or edge_index.dim() != 2:
            raise ValueError(
                "edge_index: the entropy needs a [2, E] edge_index; for other adjacency "
                "formats pass entropy_graph=prepare_graph(edge_index)"
            )
        key = (edge_index._version, x.size(0), x.device)
        if self._ref is None or self._ref() is not edge_index or key != self._key:
            self._graph = self._build(edge_index, x.size(0))
            self._ref, self._key = weakref.ref(edge_index), key
        return self._graph
