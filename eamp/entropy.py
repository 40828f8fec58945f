r"""The physics of entropy-aware message passing.

From "Entropy Aware Message Passing in Graph Neural Networks" (Nazari et al., 2023),
with the paper's errata applied. For embeddings :math:`\mathbf{X} \in \mathbb{R}^{n \times d}`
and neighbourhoods :math:`\mathcal{N}_i` (self-loops excluded):

.. math::
    E_i &= \tfrac12 C_i \sum_{j \in \mathcal{N}_i} \|\mathbf{x}_j - \mathbf{x}_i\|^2,
    \qquad C_i = 1 / \sqrt{|\mathcal{N}_i| \, d} \\
    p_i &= e^{-E_i / T}, \qquad S = -\sum_i p_i \ln p_i = \sum_i p_i E_i / T \\
    \nabla_{\mathbf{x}_i} S &= \frac1T \sum_{j \in \mathcal{N}_i}
        (C_i \bar P_i + C_j \bar P_j)(\mathbf{x}_i - \mathbf{x}_j),
    \qquad \bar P_k = p_k (1 + \ln p_k) = e^{-E_k/T} (1 - E_k / T)

The paper prints :math:`\bar P = (P + 1) \ln P` (its eq. 4) and puts :math:`C_j` outside the
sum (its eq. 6); the lines above are the exact gradient of :math:`S`, which the tests check
against autograd. The closed form holds for undirected graphs; a directed ``edge_index`` is
used as given, with :math:`\mathcal{N}_i = \{j : (j, i) \in E\}` (PyG's source-to-target flow),
and then it is no longer the gradient of :math:`S`.

Every function takes either an ``edge_index`` or a :class:`PreparedGraph` made once by
:func:`prepare_graph`, so that a deep network does not rebuild its adjacency at every layer.
All of them run in :math:`O(n + m)` time and never build a tensor of shape ``[E, d]``, except
:func:`dirichlet_energy`, which takes edges in bounded chunks to stay exact.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any

import torch
from torch import Tensor
from torch_geometric.index import index2ptr
from torch_geometric.utils import coalesce, remove_self_loops

from eamp._products import product_with_transpose

__all__ = [
    "PreparedGraph",
    "prepare_graph",
    "dirichlet_energy",
    "total_dirichlet_energy",
    "boltzmann_entropy",
    "entropy_gradient",
    "entropy_of",
    "gradient_of",
]

# Edges per chunk times feature width bounds the memory of the exact energy (about 32 MB of
# float64 differences per chunk).
_CHUNK_ELEMENTS = 1 << 22


@dataclass(frozen=True, eq=False)
class PreparedGraph:
    r"""A graph ready for the entropy functions: self-loops and duplicate edges removed, edges
    sorted by target, and a CSR adjacency :math:`A_{ij} = 1 \iff j \in \mathcal{N}_i`.

    Build it with :func:`prepare_graph`; every field is derived from the edge list.

    Attributes:
        num_nodes (int): :math:`n`.
        edge_index (LongTensor): ``[2, m]``, sorted by target (``edge_index[1]``), no self-loops.
        deg (LongTensor): ``[n]``, :math:`|\mathcal{N}_i|` (in-degree without self-loops).
        crow (LongTensor): ``[n + 1]``, CSR row pointers over targets.
    """

    num_nodes: int
    edge_index: Tensor
    deg: Tensor
    crow: Tensor
    _adj: dict[tuple[torch.dtype, torch.device], Tensor] = field(
        default_factory=dict, repr=False
    )
    _transposed: dict[tuple[torch.dtype, torch.device], Tensor] = field(
        default_factory=dict, repr=False
    )
    # per device: the transpose's row pointers, columns and the edge order that sorts by source
    _transpose_structure: dict[torch.device, tuple[Tensor, Tensor, Tensor]] = field(
        default_factory=dict, repr=False
    )
    # per device: the CSR row pointers and columns as the sparse kernels take them
    _structure: dict[torch.device, tuple[Tensor, Tensor]] = field(
        default_factory=dict, repr=False
    )
    # per (dtype, device, d, normalize): the degrees and the constants C_i, in that dtype
    _constants: dict[tuple, tuple[Tensor, Tensor]] = field(default_factory=dict, repr=False)

    def constants(self, x: Tensor, normalize: bool) -> tuple[Tensor, Tensor]:
        """The degrees :math:`|\\mathcal{N}_i|` and the constants :math:`C_i` for an
        embedding like ``x`` (its dtype, device and width), ``[n]`` each, built once."""
        key = (x.dtype, x.device, x.size(1), normalize)
        if key not in self._constants:
            deg = self.deg.to(device=x.device, dtype=x.dtype)
            if normalize:
                coef = torch.where(deg > 0, (deg * x.size(1)).clamp_min(1).rsqrt(),
                                   torch.zeros_like(deg))
            else:
                coef = (deg > 0).to(x.dtype)
            self._constants[key] = (deg, coef)
        return self._constants[key]

    @property
    def num_edges(self) -> int:
        return int(self.edge_index.size(1))

    def adjacency(
        self, dtype: torch.dtype, device: torch.device, values: Tensor | None = None
    ) -> Tensor:
        """The sparse CSR adjacency ``[n, n]`` in ``dtype`` on ``device``: ones (cached), or
        ``values`` ``[m]`` on the edges in the order of ``edge_index`` (differentiable)."""
        key = (dtype, torch.device(device))
        if values is None and key in self._adj:
            return self._adj[key]
        ones = values is None
        if ones:
            values = torch.ones(self.num_edges, dtype=dtype, device=device)
        if key[1] not in self._structure:
            self._structure[key[1]] = _indices(self.crow.to(device),
                                               self.edge_index[0].to(device))
        adj = _csr(*self._structure[key[1]], values, self.num_nodes)
        if ones:
            self._adj[key] = adj
        return adj

    def transposed(
        self, dtype: torch.dtype, device: torch.device, values: Tensor | None = None
    ) -> Tensor:
        """The transpose of :meth:`adjacency` (rows are sources) as a sparse CSR ``[n, n]``,
        for the backward of a product with it: ones (cached), or ``values`` ``[m]`` in the
        order of ``edge_index``. Not differentiable."""
        device = torch.device(device)
        key = (dtype, device)
        if values is None and key in self._transposed:
            return self._transposed[key]
        if device not in self._transpose_structure:
            src, dst = self.edge_index.to(device)
            order = torch.argsort(src, stable=True)
            self._transpose_structure[device] = (
                *_indices(index2ptr(src[order], self.num_nodes), dst[order]), order)
        crow, col, order = self._transpose_structure[device]
        ones = values is None
        values = (torch.ones(self.num_edges, dtype=dtype, device=device) if ones
                  else values.detach()[order])
        adj = _csr(crow, col, values, self.num_nodes)
        if ones:
            self._transposed[key] = adj
        return adj

    def to(self, device: torch.device | str) -> PreparedGraph:
        """This graph on ``device`` (itself, with its cached adjacencies, if already there)."""
        if self.edge_index.device == torch.device(device):
            return self
        return PreparedGraph(
            self.num_nodes, self.edge_index.to(device), self.deg.to(device), self.crow.to(device)
        )

    def __repr__(self) -> str:
        return f"PreparedGraph(num_nodes={self.num_nodes}, num_edges={self.num_edges})"


def prepare_graph(
    edge_index: Tensor | PreparedGraph, num_nodes: int | None = None
) -> PreparedGraph:
    r"""Prepares ``edge_index`` once for every entropy function.

    Self-loops are dropped (they are not part of :math:`\mathcal{N}_i`) and duplicate edges
    merged (:math:`\mathcal{N}_i` is a set). The edges are used as given otherwise: pass an
    undirected graph (``torch_geometric.utils.to_undirected``) for the theorem to hold.

    Args:
        edge_index (LongTensor or PreparedGraph): ``[2, E]`` integer tensor of
            (source, target) pairs. A :class:`PreparedGraph` is returned unchanged (after
            checking ``num_nodes``).
        num_nodes (int, optional): :math:`n`. (default: ``edge_index.max() + 1``)

    Returns:
        PreparedGraph
    """
    if isinstance(edge_index, PreparedGraph):
        if num_nodes is not None and num_nodes != edge_index.num_nodes:
            raise ValueError(
                f"num_nodes: expected {edge_index.num_nodes} (the prepared graph's), "
                f"got {num_nodes}"
            )
        return edge_index
    edge_index = _check_edge_index(edge_index, num_nodes)
    if num_nodes is None:
        num_nodes = int(edge_index.max()) + 1 if edge_index.numel() > 0 else 0
    num_nodes = int(num_nodes)
    edge_index, _ = remove_self_loops(edge_index)
    # coalesce sorts by (row, col); sort by target first so that targets are CSR rows.
    flipped = coalesce(edge_index.flip(0), num_nodes=num_nodes, sort_by_row=True)
    edge_index = flipped.flip(0)
    target = edge_index[1]
    crow = index2ptr(target, num_nodes)
    return PreparedGraph(num_nodes, edge_index, crow.diff(), crow)


def dirichlet_energy(
    x: Tensor,
    edge_index: Tensor | PreparedGraph,
    *,
    normalize: bool = True,
    num_nodes: int | None = None,
) -> Tensor:
    r"""Node-wise Dirichlet energy (the paper's eq. 1):

    .. math::
        E_i = \tfrac12 C_i \sum_{j \in \mathcal{N}_i} \|\mathbf{x}_j - \mathbf{x}_i\|^2,
        \qquad C_i = \frac{1}{\sqrt{|\mathcal{N}_i| d}} \text{ (or 1 if not normalize)}

    Computed from the differences themselves, in edge chunks of bounded memory, so that it is
    exact however small the energy (an almost-constant embedding of a deep GCN reaches 1e-30,
    where the expanded form cancels to noise). Differentiable. Isolated nodes have zero energy.

    Args:
        x (Tensor): ``[n, d]`` node embeddings.
        edge_index (LongTensor or PreparedGraph): ``[2, E]`` edges.
        normalize (bool): use :math:`C_i = 1/\sqrt{|\mathcal{N}_i| d}`; else :math:`C_i = 1`.
            (default: ``True``)
        num_nodes (int, optional): must equal ``x.size(0)`` if given.

    Returns:
        Tensor ``[n]``.
    """
    x, graph = _check_inputs(x, edge_index, num_nodes)
    return _node_energy(x, graph, normalize)


def _node_energy(x: Tensor, graph: PreparedGraph, normalize: bool) -> Tensor:
    src, dst = graph.edge_index
    chunk = max(1, _CHUNK_ELEMENTS // max(x.size(1), 1))
    sq = x[:, :0].sum(-1)  # zeros that stay attached to x's autograd graph
    for start in range(0, graph.num_edges, chunk):
        s, t = src[start : start + chunk], dst[start : start + chunk]
        sq = sq.index_add(0, t, (x[s] - x[t]).pow(2).sum(-1))
    return 0.5 * graph.constants(x, normalize)[1] * sq


def total_dirichlet_energy(
    x: Tensor,
    edge_index: Tensor | PreparedGraph,
    *,
    normalize: bool = True,
    num_nodes: int | None = None,
) -> Tensor:
    r"""The paper's :math:`E = \frac1n \sum_i E_i`, the mean of :func:`dirichlet_energy`.

    With ``normalize=False`` this is :math:`\frac{1}{2n} \sum_i \sum_{j \in \mathcal{N}_i}
    \|\mathbf{x}_j - \mathbf{x}_i\|^2`, the survey's (Rusch et al., 2023) energy up to its
    constant :math:`1/n`.

    Returns:
        Tensor ``[]`` (0 for a graph with no nodes).
    """
    energy = dirichlet_energy(x, edge_index, normalize=normalize, num_nodes=num_nodes)
    return energy.mean() if energy.numel() > 0 else energy.sum()


def boltzmann_entropy(
    x: Tensor,
    edge_index: Tensor | PreparedGraph,
    temperature: float | Tensor,
    *,
    normalize: bool = True,
    num_nodes: int | None = None,
) -> Tensor:
    r"""Shannon entropy of the unnormalised Boltzmann weights (the paper's eq. 3):

    .. math::
        S = -\sum_i p_i \ln p_i = \sum_i p_i E_i / T, \qquad p_i = e^{-E_i/T}

    evaluated in the second form so that no logarithm of an underflowed :math:`p_i` is taken;
    a node whose weight underflows contributes exactly 0. Differentiable in ``x`` and
    ``temperature``.

    Args:
        x (Tensor): ``[n, d]``.
        edge_index (LongTensor or PreparedGraph): ``[2, E]``.
        temperature (float or Tensor): :math:`T > 0`, finite.
        normalize (bool): see :func:`dirichlet_energy`. (default: ``True``)
        num_nodes (int, optional): must equal ``x.size(0)`` if given.

    Returns:
        Tensor ``[]``.
    """
    t = _check_temperature(temperature)
    x, graph = _check_inputs(x, edge_index, num_nodes)
    return entropy_of(x, graph, t, normalize)


def _in_float32(function: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """Runs ``function(x, ...)`` with autocast off and a 16-bit ``x`` (a layer's output
    under autocast) made float32: energies and ``exp(-E/T)`` underflow and cancel in 16
    bits. A float32 or float64 ``x`` outside autocast goes straight through. Under
    :func:`torch.compile` it runs eagerly (its sparse products do not trace)."""

    @torch.compiler.disable  # eager under torch.compile: the products are sparse
    @functools.wraps(function)
    def wrapper(x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        low = x.dtype in (torch.float16, torch.bfloat16)
        if not low and not torch.is_autocast_enabled(x.device.type):
            return function(x, *args, **kwargs)
        with torch.autocast(x.device.type, enabled=False):
            return function(x.float() if low else x, *args, **kwargs)

    return wrapper


@_in_float32
def entropy_of(x: Tensor, graph: PreparedGraph, temperature: float | Tensor,
               normalize: bool) -> Tensor:
    """:func:`boltzmann_entropy` without its checks, for callers whose inputs were checked
    where they entered (a layer with its :class:`~eamp.nn.EntropyOptions`). Runs in float32
    at least, with autocast off."""
    if _below_range(temperature, x):
        return entropy_of(x.double(), graph, temperature, normalize).to(x.dtype)
    ratio = _node_energy(x, graph, normalize) / temperature
    p = torch.exp(-ratio)
    return torch.where(p > 0, p * ratio, torch.zeros_like(ratio)).sum()


def entropy_gradient(
    x: Tensor,
    edge_index: Tensor | PreparedGraph,
    temperature: float | Tensor,
    *,
    normalize: bool = True,
    num_nodes: int | None = None,
) -> Tensor:
    r"""Closed-form gradient of :func:`boltzmann_entropy` (Theorem 3.1, corrected):

    .. math::
        \nabla_{\mathbf{x}_i} S = \frac1T \sum_{j \in \mathcal{N}_i}
        (q_i + q_j)(\mathbf{x}_i - \mathbf{x}_j), \qquad q_k = C_k \bar P_k,
        \quad \bar P_k = e^{-E_k/T}(1 - E_k/T)

    Evaluated without any ``[E, d]`` tensor, as two sparse-dense products: :math:`A\mathbf{x}`
    for the energies, then :math:`\nabla_{\mathbf{x}_i} S = (\sum_j w_{ij})\mathbf{x}_i
    - (W\mathbf{x})_i` with the edge weights :math:`w_{ij} = (q_i + q_j)/T`, a sparse matrix
    whose values are a vector of length :math:`m`. Both act on :math:`\mathbf{x} - \mathbf{x}_0`
    (the gradient is translation invariant, and the shift removes the common offset of an
    almost-constant embedding that would otherwise cancel). The energies inside it use the
    expanded form, clamped at 0; their rounding error only matters relative to
    :math:`T`. Differentiable (for ``detach=False`` in :class:`~eamp.nn.EntropicConv`).
    Isolated nodes get a zero gradient.

    Args:
        x (Tensor): ``[n, d]``.
        edge_index (LongTensor or PreparedGraph): ``[2, E]``.
        temperature (float or Tensor): :math:`T > 0`, finite.
        normalize (bool): see :func:`dirichlet_energy`. (default: ``True``)
        num_nodes (int, optional): must equal ``x.size(0)`` if given.

    Returns:
        Tensor ``[n, d]``.
    """
    t = _check_temperature(temperature)
    x, graph = _check_inputs(x, edge_index, num_nodes)
    return gradient_of(x, graph, t, normalize)


@_in_float32
def gradient_of(x: Tensor, graph: PreparedGraph, t: float | Tensor, normalize: bool,
                scale: float | Tensor = 1.0) -> Tensor:
    """``scale`` times :func:`entropy_gradient`, without its checks, for callers whose inputs
    were checked where they entered (a layer with its :class:`~eamp.nn.EntropyOptions`).
    ``graph`` must be on ``x``'s device. Runs in float32 at least, with autocast off (a
    16-bit ``x`` gets a float32 gradient). ``scale`` (a layer's :math:`\\lambda T`) enters
    through the length-``n`` coefficients, not as another pass over ``[n, d]``. The result
    is a fresh tensor the caller may modify in place."""
    if _below_range(t, x):
        return gradient_of(x.double(), graph, t, normalize, scale).to(x.dtype)
    if graph.num_edges == 0 or x.size(1) == 0:
        return torch.zeros_like(x)
    # Autograd needs the out-of-place products; without it (the default, detached use) every
    # [n, d] intermediate lives in one of two buffers this function owns: fresh allocations
    # (page faults) are a large part of its cost on a CPU.
    track = torch.is_grad_enabled() and any(
        isinstance(v, Tensor) and v.requires_grad for v in (x, t, scale))
    adj = graph.adjacency(x.dtype, x.device)
    deg, coef = graph.constants(x, normalize)
    x = x - x[:1]  # exact for a constant embedding, unlike subtracting the mean
    if track:  # products back-propagating with the graph's stored transpose
        adj_t = graph.transposed(x.dtype, x.device)

        def product(v: Tensor) -> Tensor:
            return product_with_transpose(adj, adj_t, v)

        ax = product(x)
        x_ax, sq_norm = _row_dot(x, ax), _row_dot(x, x)
        sum_sq = deg * sq_norm - 2 * x_ax + product(sq_norm)
        ratio = (0.5 * coef * sum_sq.clamp_min(0)) / t
        p = torch.exp(-ratio)
        pbar = torch.where(p > 0, p * (1 - ratio), torch.zeros_like(ratio))
        q = coef * pbar * (scale / t)
    else:  # the same in two buffers and in place: the [n] passes cost their calls
        def product(v: Tensor) -> Tensor:
            return adj @ v

        buffer = torch.empty_like(x).addmm_(adj, x, beta=0)  # A x
        x_ax = buffer.mul_(x).sum(-1)
        # one pass, no [n, d] product (2x faster than squaring and summing); not under
        # autograd, whose gradient of a norm is 0/0 at the zero row x_0 - x_0
        sq_norm = torch.linalg.vector_norm(x, dim=-1).square_()
        ratio = product(sq_norm).addcmul_(deg, sq_norm).sub_(x_ax, alpha=2).clamp_(min=0)
        ratio.mul_(coef).mul_(0.5 / t)  # E_i / T
        pbar = torch.neg(ratio).exp_().mul_(ratio.neg_().add_(1))
        # exp(-E/T) * (1 - E/T) is 0 * -inf where E overflows: the weight is 0 there
        q = pbar.nan_to_num_(nan=0.0).mul_(coef).mul_(scale / t)
    # grad_i = sum_j w_ij (x_i - x_j) with w_ij = q_i + q_j: a row-scaled x minus one product
    # with the edge-weighted adjacency, whose values are a vector of length m.
    src, dst = graph.edge_index
    neg_q = -q
    neg_weights = neg_q.index_select(0, dst) + neg_q.index_select(0, src)
    row_sum = (deg * q + product(q)).unsqueeze(-1)
    if track:
        # W x with a backward that never forms the dense [n, n] gradient of W's values
        weighted = _EdgeWeightedProduct.apply(neg_weights, x, graph)
        return weighted.addcmul_(row_sum, x)
    neg_weighted = graph.adjacency(x.dtype, x.device, values=neg_weights)
    return torch.mul(x, row_sum, out=buffer).addmm_(neg_weighted, x)


# ----------------------------------------------------------------------------- helpers


class _EdgeWeightedProduct(torch.autograd.Function):
    """``W x`` for the sparse ``W`` with ``values`` ``[m]`` on the graph's edges (rows are
    targets). PyTorch's CSR product back-propagates to the values through a dense ``[n, n]``
    matrix; here the backward is ``dvalues_e = <g_dst(e), x_src(e)>``, a product sampled on
    the graph's edges (``torch.sparse.sampled_addmm``), and ``dx = W^T g`` with ``W^T`` from
    the graph's stored transpose: O(n d + m) memory, no ``[E, d]`` tensor."""

    @staticmethod
    def forward(ctx, values: Tensor, x: Tensor, graph: PreparedGraph) -> Tensor:  # noqa: ANN001
        ctx.graph = graph
        ctx.save_for_backward(values, x)
        adj = graph.adjacency(x.dtype, x.device, values=values.detach())
        return _spmm(adj, x.detach())

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None]:  # noqa: ANN001
        values, x = ctx.saved_tensors
        graph: PreparedGraph = ctx.graph
        need_values, need_x = ctx.needs_input_grad[:2]
        grad_values = grad_x = None
        if need_values:
            # the entries of grad @ x^T on the edges, in the order of the graph's CSR
            # (= edge_index's); beta=0: the pattern's values do not enter
            pattern = graph.adjacency(x.dtype, x.device)
            grad_values = torch.sparse.sampled_addmm(pattern, grad.contiguous(), x.t(),
                                                     beta=0).values()
        if need_x:
            grad_x = graph.transposed(x.dtype, x.device, values=values) @ grad
        return grad_values, grad_x, None


def _indices(crow: Tensor, col: Tensor) -> tuple[Tensor, Tensor]:
    """CSR row pointers and columns in 32 bits where they fit (PyTorch's CSR kernels run
    about 1.2x faster with them)."""
    if col.numel() < 2**31 - 1:
        return crow.int(), col.int()
    return crow, col


def _csr(crow: Tensor, col: Tensor, values: Tensor, num_nodes: int) -> Tensor:
    """An ``[n, n]`` sparse CSR matrix on the given indices (see :func:`_indices`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "CSR support is in beta"
        return torch.sparse_csr_tensor(crow, col, values, (num_nodes, num_nodes),
                                       check_invariants=False)


def _below_range(t: float | Tensor, x: Tensor) -> bool:
    """A number ``T`` smaller than ``x``'s dtype can hold (1e-39 in float32 becomes 0 or a
    subnormal, and E / T then inf or NaN): such a ``T`` is computed with in float64."""
    return not isinstance(t, Tensor) and x.dtype != torch.float64 and (
        t < torch.finfo(x.dtype).tiny)


def _spmm(adj: Tensor, x: Tensor) -> Tensor:
    # reduce="sum" takes PyTorch's CPU kernel written for PyG; against @ it measured 1.3x faster
    # on one machine of ours and 0.85x on another: not worth a switch
    return torch.sparse.mm(adj, x, "sum")


def _row_dot(a: Tensor, b: Tensor) -> Tensor:
    # linalg.vecdot: as fast as a batched [1, d] @ [d, 1] product forward, 3x faster backward
    # (0.29 against 0.89 ms at Cora's [2708, 64] on 2 CPU threads)
    return torch.linalg.vecdot(a, b)


def _check_temperature(temperature: float | Tensor) -> float | Tensor:
    if isinstance(temperature, Tensor):
        if temperature.numel() != 1:
            raise ValueError(
                f"temperature: expected a positive finite scalar, got a tensor of shape "
                f"{tuple(temperature.shape)}"
            )
        value = float(temperature.detach())
    elif isinstance(temperature, Real) and not isinstance(temperature, bool):
        value = float(temperature)
    else:
        raise ValueError(
            f"temperature: expected a positive finite number, got {type(temperature).__name__}"
        )
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"temperature: expected a positive finite number, got {value}")
    return temperature


def _check_edge_index(edge_index: Tensor, num_nodes: int | None) -> Tensor:
    if not isinstance(edge_index, Tensor):
        raise ValueError(
            f"edge_index: expected a LongTensor of shape [2, E] or a PreparedGraph, "
            f"got {type(edge_index).__name__}"
        )
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(
            f"edge_index: expected shape [2, E], got {list(edge_index.shape)}"
        )
    if edge_index.dtype not in (torch.long, torch.int32):
        raise ValueError(
            f"edge_index: expected an integer tensor (torch.long), got {edge_index.dtype}"
        )
    edge_index = edge_index.long()
    if num_nodes is not None and (isinstance(num_nodes, bool)
                                  or not isinstance(num_nodes, Integral) or num_nodes < 0):
        raise ValueError(f"num_nodes: expected a non-negative int, got {num_nodes!r}")
    if edge_index.numel() > 0:
        low, high = int(edge_index.min()), int(edge_index.max())
        if low < 0:
            raise ValueError(f"edge_index: expected non-negative node indices, found {low}")
        if num_nodes is not None and high >= num_nodes:
            raise ValueError(
                f"edge_index: points to node {high}, past num_nodes={num_nodes} "
                f"(valid indices are 0..{num_nodes - 1})"
            )
    return edge_index


def _check_inputs(
    x: Tensor, edge_index: Tensor | PreparedGraph, num_nodes: int | None
) -> tuple[Tensor, PreparedGraph]:
    if not isinstance(x, Tensor) or x.dim() != 2:
        shape = list(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"x: expected a 2-D tensor [num_nodes, channels], got {shape}")
    if not x.is_floating_point():
        raise ValueError(f"x: expected a floating-point tensor, got {x.dtype}")
    if x.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"x: expected float32 or float64, got {x.dtype}: the energies "
                         "underflow and cancel in 16 bits (pass x.float())")
    if x.device.type == "meta":
        raise ValueError("x: the meta device holds no values to compute an entropy of")
    # one cheap reduction first; the elementwise check only when the sum is not finite
    if not bool(torch.isfinite(x.sum())) and not bool(torch.isfinite(x).all()):
        raise ValueError("x: expected finite values, found NaN or inf")
    if num_nodes is not None and (isinstance(num_nodes, bool)
                                  or not isinstance(num_nodes, Integral)
                                  or num_nodes != x.size(0)):
        raise ValueError(f"num_nodes: expected x.size(0) = {x.size(0)}, got {num_nodes}")
    n = x.size(0)
    if isinstance(edge_index, PreparedGraph):
        graph = edge_index
        if graph.num_nodes != n:
            raise ValueError(
                f"x: expected {graph.num_nodes} rows (the prepared graph's num_nodes), got {n}"
            )
    else:
        graph = prepare_graph(edge_index, n)
    if graph.edge_index.device != x.device:
        graph = graph.to(x.device)
    return x, graph
