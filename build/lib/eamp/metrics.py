r"""Oversmoothing measures of node embeddings, vectorised, and a layer-by-layer probe for any
PyG model (PyG has none: its issue #9359 asks for one).

For embeddings :math:`\mathbf{X} \in \mathbb{R}^{n \times d}` of an undirected graph without
self-loops (neighbourhoods :math:`\mathcal{N}_i`):

- :func:`paper_energy`: the entropy paper's degree-normalised Dirichlet energy
  :math:`E = \frac1n\sum_i \frac{1}{2\sqrt{|\mathcal{N}_i| d}} \sum_{j\in\mathcal{N}_i}
  \|\mathbf{x}_i - \mathbf{x}_j\|^2` (Nazari et al. 2023, eq. 1);
- :func:`survey_energy`: Rusch, Bronstein and Mishra's (2023, "A survey on oversmoothing in
  graph neural networks", Definition 3.1 and Figure 1) un-normalised
  :math:`E(\mathbf{X}) = \frac1n \sum_i \sum_{j\in\mathcal{N}_i} \|\mathbf{x}_i -
  \mathbf{x}_j\|^2`, by default its square root, as they plot it;
- :func:`mad`: the mean average (cosine) distance of Chen et al. (AAAI 2020),
  :math:`1 - \cos(\mathbf{x}_i, \mathbf{x}_j)` averaged over node pairs (globally: every
  ordered pair :math:`i \neq j`, exactly, in :math:`O(nd)` through the sum of the
  normalised rows; over neighbours: per node over its neighbours, then over nodes);
- :func:`effective_rank`: Roy and Vetterli's (2007) :math:`\exp(-\sum_k p_k \ln p_k)` with
  :math:`p_k = \sigma_k / \sum_l \sigma_l` over the singular values of :math:`\mathbf{X}`, the
  RankMe measure of representation collapse (Garrido et al., ICML 2023).

All are computed in float64 and return Python floats; a zero row or a rank-deficient matrix
gives a number, never NaN.
"""

from __future__ import annotations

import functools
import math
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from eamp.entropy import PreparedGraph, prepare_graph, total_dirichlet_energy

__all__ = ["METRICS", "METRIC_FUNCTIONS", "accuracy", "effective_rank", "layer_metrics", "mad",
           "paper_energy", "roc_auc", "survey_energy"]


def _float64(x: Tensor) -> Tensor:
    """``x`` detached in float64 (on the CPU for MPS, which has no float64)."""
    from eamp.device import float64_device

    return x.detach().to(float64_device(x.device), torch.float64)


def _graph(x: Tensor, edge_index: Tensor | PreparedGraph) -> PreparedGraph:
    if isinstance(edge_index, PreparedGraph):
        return edge_index
    return prepare_graph(edge_index.to(x.device), x.size(0))


def paper_energy(x: Tensor, edge_index: Tensor | PreparedGraph) -> float:
    """The paper's mean degree-normalised node energy (isolated nodes count 0)."""
    x = _float64(x)
    return float(total_dirichlet_energy(x, _graph(x, edge_index)))


def survey_energy(x: Tensor, edge_index: Tensor | PreparedGraph, *, sqrt: bool = True
                  ) -> float:
    r"""Rusch et al.'s :math:`\frac1n\sum_i\sum_{j\in\mathcal{N}_i}\|x_i - x_j\|^2`, or its
    square root (``sqrt``, the default, as their figures plot it)."""
    x = _float64(x)
    energy = 2 * float(total_dirichlet_energy(x, _graph(x, edge_index), normalize=False))
    return math.sqrt(energy) if sqrt else energy


def _unit_rows(x: Tensor) -> Tensor:
    """Rows scaled to norm 1; a zero row stays zero (cosine 0 with everything)."""
    norms = x.norm(dim=-1, keepdim=True)
    return torch.where(norms > 0, x / norms.clamp_min(torch.finfo(x.dtype).tiny), 0.0)


def mad(x: Tensor, edge_index: Tensor | PreparedGraph | None = None) -> float:
    r"""Mean average cosine distance (Chen et al., AAAI 2020).

    Globally (``edge_index=None``): the mean of :math:`1 - \mathbf{u}_i^\top\mathbf{u}_j`
    over ordered pairs :math:`i \neq j` of unit rows :math:`\mathbf{u}`, which is
    :math:`1 - (\|\sum_i \mathbf{u}_i\|^2 - \sum_i \|\mathbf{u}_i\|^2) / (n(n-1))`: exact in
    :math:`O(nd)`, no :math:`n^2` pairs. Over neighbours: each node's mean distance to its
    neighbours, averaged over the nodes that have any. A zero row has cosine 0 with every
    row (distance 1). Chen et al. also leave out pairs at distance exactly 0 from each mean;
    this does not (that rule makes the measure jump when two rows become equal). 0 for fewer
    than two nodes or no edges.
    """
    u = _unit_rows(_float64(x))
    n = u.size(0)
    if edge_index is None:
        if n < 2:
            return 0.0
        total = u.sum(0)
        off_diagonal = float(total @ total) - float(u.pow(2).sum())
        return 1.0 - off_diagonal / (n * (n - 1))
    graph = _graph(u, edge_index)
    if graph.num_edges == 0:
        return 0.0
    src, dst = graph.edge_index
    distance = 1.0 - (u[src] * u[dst]).sum(-1)
    per_node = torch.zeros(n, dtype=u.dtype, device=u.device).index_add_(0, dst, distance)
    degree = torch.bincount(dst, minlength=n).to(u.dtype)
    has = degree > 0
    return float((per_node[has] / degree[has]).mean())


def effective_rank(x: Tensor) -> float:
    r"""Roy and Vetterli's effective rank :math:`\exp(H(p))`, :math:`p_k = \sigma_k / \|\sigma\|_1`
    (in :math:`[1, \min(n, d)]`; 0 for a zero matrix). Zero singular values add nothing
    (:math:`0 \ln 0 = 0`)."""
    sigma = torch.linalg.svdvals(_float64(x))
    total = sigma.sum()
    if not total > 0:
        return 0.0
    p = sigma / total
    return float(torch.exp(-torch.special.xlogy(p, p).sum()))


# name -> f(x, edge_index): what layer_metrics measures by default
METRICS: Mapping[str, Callable[[Tensor, Any], float]] = {
    "energy": paper_energy,
    "survey_energy": survey_energy,
    "mad": lambda x, edge_index: mad(x),
    "mad_neighbours": mad,
    "effective_rank": lambda x, edge_index: effective_rank(x),
}


@torch.no_grad()
def layer_metrics(
    model: torch.nn.Module,
    x: Tensor,
    edge_index: Tensor,
    *,
    metrics: Sequence[str] | Mapping[str, Callable[[Tensor, Any], float]] = tuple(METRICS),
    modules: Iterable[torch.nn.Module] | None = None,
    reuse_input: bool = False,
    **forward_kwargs: Any,
) -> list[dict[str, Any]]:
    """Measures ``model`` layer by layer in one forward pass (eval mode; the model's mode
    is restored).

    The layers are eamp's hidden states for a :class:`~eamp.models.DeepGNN` (``depth + 1``
    of them, the input first); for any other model, the outputs of the modules in
    ``modules`` (default: every :class:`~torch_geometric.nn.conv.MessagePassing` module, in
    the order they run), caught by forward hooks, after the input. So PyG's own
    ``torch_geometric.nn.models.GCN`` or ``GAT`` are measured after each convolution (before
    its activation).

    Args:
        model: called as ``model(x, edge_index, **forward_kwargs)``.
        x (Tensor): ``[n, d]`` input features.
        edge_index (LongTensor): ``[2, E]`` undirected edges (self-loops are ignored).
        metrics: names in :data:`METRICS`, or a mapping of names to ``f(x, edge_index)``.
        modules: the modules whose outputs count as layers (hooks only).
        reuse_input (bool): measure the input once per ``(x, edge_index)`` pair of tensor
            objects and reuse its row while both live unchanged: every run of a sweep on one
            loaded dataset shares it (its effective rank is an SVD of the raw features,
            seconds on CiteSeer). (default: ``False``)

    Returns:
        Tidy rows ``{"layer": k, "module": name, "width": d, <metric>: value, ...}``,
        layer 0 the input.
    """
    from torch_geometric.nn.conv import MessagePassing

    from eamp.models.base import DeepGNN

    if not isinstance(metrics, Mapping):
        unknown = [m for m in metrics if m not in METRICS]
        if unknown:
            raise ValueError(f"metrics: unknown {', '.join(unknown)}; choose from "
                             f"{', '.join(METRICS)}")
        metrics = {m: METRICS[m] for m in metrics}
    from eamp.device import float64_device

    graph = prepare_graph(edge_index.to(float64_device(x.device)), x.size(0))
    was_training = model.training
    model.eval()
    try:
        if isinstance(model, DeepGNN) and modules is None:
            _, hidden = model(x, edge_index, return_hidden=True)
            states = [("input", x)] + [(f"layer{k}", h) for k, h in enumerate(hidden[1:], 1)]
        else:
            names = {m: name for name, m in model.named_modules()}
            chosen = list(modules) if modules is not None else [
                m for m in model.modules() if isinstance(m, MessagePassing)]
            states = [("input", x)]

            def hook(module: torch.nn.Module, args: Any, output: Any) -> None:
                out = output[0] if isinstance(output, tuple) else output
                states.append((names.get(module, type(module).__name__), out))

            handles = [m.register_forward_hook(hook) for m in chosen]
            try:
                model(x, edge_index, **forward_kwargs)
            finally:
                for handle in handles:
                    handle.remove()
    finally:
        model.train(was_training)
    rows = []
    for k, (name, state) in enumerate(states):
        state = state.reshape(state.size(0), -1)
        row: dict[str, Any] = {"layer": k, "module": name, "width": state.size(1)}
        measure = functools.partial(_measure, state, graph, metrics)
        row.update(_INPUT_ROWS.get(x, edge_index, metrics, measure) if k == 0 and reuse_input
                   else measure())
        rows.append(row)
    return rows


def _measure(x: Tensor, graph: PreparedGraph, metrics: Mapping[str, Callable]
             ) -> dict[str, float]:
    return {m: f(x, graph) for m, f in metrics.items()}


class _InputRows:
    """Measures of an input, kept while the same ``x`` and ``edge_index`` tensor objects
    live unchanged (weak references and version counters: a freed tensor whose memory
    another reuses is not mistaken for it)."""

    def __init__(self) -> None:
        self._rows: dict[tuple, tuple[weakref.ref, weakref.ref, tuple, dict]] = {}

    def get(self, x: Tensor, edge_index: Tensor, metrics: Mapping[str, Callable],
            measure: Callable[[], dict[str, float]]) -> dict[str, float]:
        key = (id(x), id(edge_index), tuple(metrics.items()))
        versions = (x._version, edge_index._version)
        found = self._rows.get(key)
        if (found is not None and found[0]() is x and found[1]() is edge_index
                and found[2] == versions):
            return found[3]
        row = measure()
        self._rows = {k: v for k, v in self._rows.items() if v[0]() is not None
                      and v[1]() is not None}  # forget the dead
        self._rows[key] = (weakref.ref(x), weakref.ref(edge_index), versions, row)
        return row


_INPUT_ROWS = _InputRows()


# ----------------------------------------------------------------- scores of a prediction


def accuracy(logits: Tensor, y: Tensor, mask: Tensor) -> float:
    if int(mask.sum()) == 0:
        return float("nan")
    return float((logits[mask].argmax(-1) == y[mask]).float().mean())


def roc_auc(logits: Tensor, y: Tensor, mask: Tensor) -> float:
    r"""Area under the ROC curve of a binary task: the probability that a positive node
    (class 1) scores above a negative one, ties counting one half (Mann-Whitney U, with
    mid-ranks), scored by ``logits[:, 1] - logits[:, 0]`` (the log-odds of class 1; what
    Platonov et al. score with their single logit). NaN without both classes.
    Written out because it is a few lines on tensors (scikit-learn is not a dependency)."""
    score = (logits[mask, 1] - logits[mask, 0]).double()
    positive = y[mask] == 1
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    values, inverse, counts = torch.unique(score, return_inverse=True, return_counts=True)
    ends = counts.cumsum(0).double()
    mid_ranks = ends - (counts.double() - 1) / 2  # 1-based mean rank of each tied group
    rank_sum = float(mid_ranks[inverse][positive].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


METRIC_FUNCTIONS = {"accuracy": accuracy, "roc_auc": roc_auc}
