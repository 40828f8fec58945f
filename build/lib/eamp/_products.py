"""Sparse products with hand-written backwards.

:func:`product_with_transpose`: PyTorch's backward of ``A @ x`` for a sparse CSR ``A``
converts ``A^T`` to CSR on every call (a sort of the edges): two thirds of the product's time
on Cora on a CPU. A deep network multiplies by the same adjacency at every layer; its
transpose is built once with the graph and handed to this function.

:func:`headwise_product`: multi-head attention's weighted sum over the edges as one sparse
product per head, with values (the attention weights) that take a gradient. PyTorch's
autograd of a CSR product in its values would form the dense ``n x n`` product; the values'
gradient here is :func:`torch.sparse.sampled_addmm`, computed at the edges only.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch_geometric.index import index2ptr

__all__ = ["RowPattern", "headwise_product", "product_with_transpose"]


class _ProductWithTranspose(torch.autograd.Function):
    """``matrix @ x``; its gradient ``transpose @ grad`` (none for the fixed matrices)."""

    @staticmethod
    def forward(ctx: Any, matrix: Tensor, transpose: Tensor, x: Tensor) -> Tensor:
        ctx.transpose = transpose
        return matrix @ x

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[None, None, Tensor]:
        return None, None, ctx.transpose @ grad


def product_with_transpose(matrix: Tensor, transpose: Tensor, x: Tensor) -> Tensor:
    """``matrix @ x`` for a sparse CSR ``matrix`` (constant: no gradient) and a dense ``x``
    (``[n]`` or ``[n, d]``), back-propagating with ``transpose``, which must be
    ``matrix``'s transpose as a CSR tensor."""
    return _ProductWithTranspose.apply(matrix, transpose, x)


@dataclass(frozen=True)
class RowPattern:
    """The sparsity pattern of an ``n x n`` matrix whose entries are edges ``j -> i`` (row
    ``i``: the target), stored row by row, for products whose values change at every call
    (attention weights). Build it with :meth:`build`; its entries are in the order of
    :attr:`source` and :attr:`target`."""

    source: Tensor  # [E] column of each entry, row by row
    target: Tensor  # [E] row of each entry, sorted
    crow: Tensor  # [n + 1] row pointers
    crow_t: Tensor  # the transpose's row pointers (its rows: the sources)
    col_t: Tensor  # the transpose's columns (the targets), row by row
    perm_t: Tensor  # the transpose's entries as indices into this order

    @classmethod
    def build(cls, edge_index: Tensor, num_nodes: int) -> RowPattern:
        source, target = edge_index
        order = (target * num_nodes + source).argsort(stable=True)
        source, target = source[order], target[order]
        perm_t = (source * num_nodes + target).argsort(stable=True)
        return cls(source, target, index2ptr(target, num_nodes),
                   index2ptr(source[perm_t], num_nodes), target[perm_t], perm_t)

    @property
    def num_nodes(self) -> int:
        return self.crow.numel() - 1

    def matrix(self, values: Tensor) -> Tensor:
        """The CSR matrix with ``values`` (``[E]``, in this pattern's order)."""
        n = self.num_nodes
        return torch.sparse_csr_tensor(self.crow, self.source, values, (n, n))

    def transpose(self, values: Tensor) -> Tensor:
        """The transpose of :meth:`matrix` ``(values)``, as a CSR matrix."""
        n = self.num_nodes
        return torch.sparse_csr_tensor(self.crow_t, self.col_t, values[self.perm_t], (n, n))


class _HeadwiseProduct(torch.autograd.Function):
    """``out[k] = A_k @ x[k]`` for the matrices ``A_k`` of one pattern with values
    ``values[:, k]``; the gradient of the values is the sampled product
    ``(grad[k] @ x[k]^T)`` at the pattern (:func:`torch.sparse.sampled_addmm`)."""

    @staticmethod
    def forward(ctx: Any, values: Tensor, x: Tensor, pattern: RowPattern) -> Tensor:
        ctx.save_for_backward(values, x)
        ctx.pattern = pattern
        return torch.stack([pattern.matrix(values[:, k]) @ x[k] for k in range(x.size(0))])

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        values, x = ctx.saved_tensors
        pattern: RowPattern = ctx.pattern
        grad = grad.contiguous()
        heads = range(x.size(0))
        grad_values = grad_x = None
        if ctx.needs_input_grad[0]:
            # zero values, not ``values``: sampled_addmm carries a NaN or inf of its input's
            # values into the result even with beta=0 (torch 2.13)
            zeros = pattern.matrix(values.new_zeros(values.size(0)))
            grad_values = torch.stack([
                torch.sparse.sampled_addmm(zeros, grad[k], x[k].t(), beta=0.0).values()
                for k in heads], dim=1)
        if ctx.needs_input_grad[1]:
            grad_x = torch.stack([pattern.transpose(values[:, k]) @ grad[k] for k in heads])
        return grad_values, grad_x, None


def headwise_product(pattern: RowPattern, values: Tensor, x: Tensor) -> Tensor:
    """``out[k] = A_k @ x[k]`` for ``x`` of shape ``[H, n, D]``, ``A_k`` the sparse matrix
    of ``pattern`` with the values ``values[:, k]`` (``[E, H]``, in the pattern's order):
    multi-head attention's weighted sum as ``H`` sparse products, differentiable in both
    the values and ``x``. A gather-scatter over the edges moves ``E x H x D`` numbers each way;
    this moves ``E x H`` values and the node features."""
    with warnings.catch_warnings():  # "sparse CSR tensor support is in beta state"
        warnings.simplefilter("ignore", UserWarning)
        return _HeadwiseProduct.apply(values, x, pattern)
