"""Sparse products. Sparse input features: bag-of-words features (Cora's are 1.3 % non-zero)
make the first projection ``x @ W`` a sparse product, ~20x cheaper than the dense one on a CPU.
The adjacency's product ``A @ X`` with a stored transpose: PyTorch's backward of a CSR product
converts ``A^T`` to CSR on every call (a sort of the edges), 2/3 of the product's time on Cora
on a CPU; the convolutions here use the transpose built once with the graph."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch_geometric import nn as pyg_nn

from eamp._products import product_with_transpose
from eamp.nn.functional import dropout

__all__ = ["SPARSE_DENSITY", "sparse_features", "input_step", "with_transpose",
           "GCNConvWithTranspose", "GCN2ConvWithTranspose", "SimpleConvWithTranspose"]

SPARSE_DENSITY = 0.1
"""Features at most this dense become sparse in :func:`sparse_features`; the sparse product
pays off well below it (22x at Cora's 1.3 %)."""


def sparse_features(x: Tensor, max_density: float = SPARSE_DENSITY) -> Tensor:
    """``x`` as a sparse CSR tensor if at most ``max_density`` of it is non-zero, else ``x``
    itself. The models of :mod:`eamp.models` accept either (see :func:`input_step`)."""
    if x.layout != torch.strided or x.dim() != 2 or x.numel() == 0:
        return x
    if torch.count_nonzero(x).item() > max_density * x.numel():
        return x
    with warnings.catch_warnings():  # "sparse CSR tensor support is in beta state"
        warnings.simplefilter("ignore", UserWarning)
        return x.to_sparse_csr()


def input_step(layer: Callable[..., Tensor], x: Tensor, p: float, training: bool,
               *args: Any) -> Tensor:
    """``layer(dropout(x, p), *args)``, the first step of every model, for dense or sparse
    ``x``. A sparse ``x`` has dropout applied to its stored values (zeros stay zero, kept
    values scale by ``1 / (1 - p)``, as dense dropout does; it draws fewer random numbers, so
    a training run follows another random path) and the layer runs in float32 with autocast
    off, since PyTorch's sparse products have no 16-bit kernels."""
    if x.layout == torch.strided:
        return layer(dropout(x, p, training), *args)
    if training and p > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            x = torch.sparse_csr_tensor(x.crow_indices(), x.col_indices(),
                                        dropout(x.values(), p, True), x.shape)
    with torch.autocast(x.device.type, enabled=False):
        return layer(x, *args)


TRANSPOSE = "eamp_transpose"
"""The attribute of a CSR adjacency that holds its transpose (see :func:`with_transpose`)."""


def with_transpose(matrix: Tensor, transpose: Tensor) -> Tensor:
    """``matrix`` (sparse CSR) itself, carrying ``transpose``, its transpose in CSR, for the
    backward of the convolutions below. A copy of ``matrix`` (``.to(...)``) does not carry
    it and takes PyTorch's own backward."""
    setattr(matrix, TRANSPOSE, transpose)
    return matrix


class _StoredTransposeMixin:
    """A PyG convolution whose sum over a CSR adjacency carrying a transpose
    (:func:`with_transpose`) takes that transpose in its backward; otherwise PyG's own."""

    aggr: Any

    def message_and_aggregate(self, adj_t: Any, x: Tensor) -> Tensor:
        transpose = getattr(adj_t, TRANSPOSE, None)
        source = x[0] if isinstance(x, tuple) else x  # SimpleConv passes a (source, target)
        if (transpose is None or self.aggr not in ("add", "sum")
                or not isinstance(source, Tensor)):
            return super().message_and_aggregate(adj_t, x)  # type: ignore[misc]
        if source.dtype == adj_t.dtype and not torch.is_autocast_enabled(source.device.type):
            return product_with_transpose(adj_t, transpose, source)
        # a 16-bit x (under autocast): PyTorch's sparse products have no 16-bit CPU kernels,
        # so the product runs in the adjacency's float32 and its output stays float32 (what
        # the float32 bias after it would make of it); the cast is one pass over x, against
        # PyG's gather-scatter over every edge (8x slower on Cora in bfloat16)
        with torch.autocast(source.device.type, enabled=False):
            return product_with_transpose(adj_t, transpose, source.to(adj_t.dtype))


class GCNConvWithTranspose(_StoredTransposeMixin, pyg_nn.GCNConv):
    """PyG's :class:`~torch_geometric.nn.conv.GCNConv`; on an adjacency with a stored
    transpose its backward skips PyTorch's per-call transpose (same values). Named apart
    from PyG's class: PyG's inspector caches class sources by name."""


class GCN2ConvWithTranspose(_StoredTransposeMixin, pyg_nn.GCN2Conv):
    """PyG's :class:`~torch_geometric.nn.conv.GCN2Conv`; on an adjacency with a stored
    transpose its backward skips PyTorch's per-call transpose (same values)."""


class SimpleConvWithTranspose(_StoredTransposeMixin, pyg_nn.SimpleConv):
    """PyG's :class:`~torch_geometric.nn.conv.SimpleConv`; on an adjacency with a stored
    transpose its backward skips PyTorch's per-call transpose (same values)."""
