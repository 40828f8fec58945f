"""A sparse product whose backward takes a transpose built once.

PyTorch's backward of ``A @ x`` for a sparse CSR ``A`` converts ``A^T`` to CSR on every call
(a sort of the edges): two thirds of the product's time on Cora on a CPU. A deep network
multiplies by the same adjacency at every layer; its transpose is built once with the graph
and handed to :func:`product_with_transpose`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["product_with_transpose"]


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
