"""eamp.metrics against brute-force definitions (float64, pairs and loops written out)."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.utils import to_undirected

from eamp.metrics import effective_rank, layer_metrics, mad, paper_energy, survey_energy
from eamp.models import build_model


def _graph(draw_n: int, pairs: list[tuple[int, int]]) -> torch.Tensor:
    edges = [(a % draw_n, b % draw_n) for a, b in pairs if a % draw_n != b % draw_n]
    if not edges:
        return torch.empty(2, 0, dtype=torch.long)
    return to_undirected(torch.tensor(edges).t(), num_nodes=draw_n)


def _neighbours(edge_index: torch.Tensor, n: int) -> list[set[int]]:
    out = [set() for _ in range(n)]
    for s, t in edge_index.t().tolist():
        out[t].add(s)
    return out


def _cos_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    na, nb = float(a.norm()), float(b.norm())
    if na == 0 or nb == 0:
        return 1.0
    return 1.0 - float(a @ b) / (na * nb)


graphs = st.tuples(
    st.integers(2, 9),
    st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), max_size=25),
    st.integers(1, 5),
    st.integers(0, 10_000),
    st.booleans(),
)


@settings(max_examples=40, deadline=None)
@given(graphs)
def test_every_metric_equals_its_brute_force_definition(case):
    n, pairs, d, seed, zero_row = case
    edge_index = _graph(n, pairs)
    x = torch.randn(n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    if zero_row:
        x[0] = 0.0
    nbrs = _neighbours(edge_index, n)
    # the paper's energy and the survey's
    node = [0.5 / math.sqrt(len(nb) * d) * sum(float((x[j] - x[i]).pow(2).sum()) for j in nb)
            if nb else 0.0 for i, nb in enumerate(nbrs)]
    assert paper_energy(x, edge_index) == pytest.approx(sum(node) / n, rel=1e-10, abs=1e-300)
    survey = sum(float((x[j] - x[i]).pow(2).sum()) for i, nb in enumerate(nbrs) for j in nb) / n
    assert survey_energy(x, edge_index, sqrt=False) == pytest.approx(survey, rel=1e-10,
                                                                     abs=1e-300)
    assert survey_energy(x, edge_index) == pytest.approx(math.sqrt(survey), rel=1e-10)
    # MAD over all ordered pairs, and over neighbours
    pair = [_cos_distance(x[i], x[j]) for i in range(n) for j in range(n) if i != j]
    assert mad(x) == pytest.approx(sum(pair) / len(pair), rel=1e-10, abs=1e-12)
    means = [sum(_cos_distance(x[i], x[j]) for j in nb) / len(nb)
             for i, nb in enumerate(nbrs) if nb]
    expected = sum(means) / len(means) if means else 0.0
    assert mad(x, edge_index) == pytest.approx(expected, rel=1e-10, abs=1e-12)
    # effective rank from its definition, singular values from the smaller Gram matrix's
    # eigenvalues (another route than the SVD the function takes)
    gram = x.t() @ x if d <= n else x @ x.t()
    eig = torch.linalg.eigvalsh(gram)
    sigma = torch.where(eig > 1e-12 * eig.max(), eig, 0.0).sqrt()
    p = [float(s / sigma.sum()) for s in sigma if s > 0]
    rank = math.exp(-sum(q * math.log(q) for q in p if q > 0))
    assert effective_rank(x) == pytest.approx(rank, rel=1e-10)


def test_degenerate_embeddings_give_numbers_not_nan():
    edge_index = torch.tensor([[0, 1], [1, 0]])
    zeros = torch.zeros(3, 4)
    for value in (paper_energy(zeros, edge_index), survey_energy(zeros, edge_index),
                  mad(zeros), mad(zeros, edge_index), effective_rank(zeros)):
        assert value == value  # not NaN
    assert effective_rank(zeros) == 0.0
    assert mad(zeros) == 1.0  # a zero row is at cosine distance 1 from everything
    same = torch.ones(5, 3)  # rank one, all rows equal
    assert effective_rank(same) == pytest.approx(1.0)
    assert mad(same) == pytest.approx(0.0, abs=1e-12)
    assert effective_rank(torch.eye(4, dtype=torch.float64)) == pytest.approx(4.0)


def test_layer_metrics_measures_pygs_own_models_and_eamps():
    from torch_geometric.nn.models import GAT, GCN

    torch.manual_seed(0)
    edge_index = to_undirected(torch.randint(0, 12, (2, 30)), num_nodes=12)
    x = torch.randn(12, 5)
    rows = layer_metrics(GCN(5, 8, 3), x, edge_index)
    assert [r["layer"] for r in rows] == [0, 1, 2, 3]
    assert [r["module"] for r in rows] == ["input", "convs.0", "convs.1", "convs.2"]
    assert rows[0]["energy"] == pytest.approx(paper_energy(x, edge_index))
    gat = GAT(5, 8, 2, heads=2)
    assert len(layer_metrics(gat, x, edge_index, metrics=["mad"])) == 3
    model = build_model("gcn", 5, 8, 4, 3)
    model.train()
    rows = layer_metrics(model, x, edge_index, metrics=["energy", "effective_rank"])
    assert len(rows) == 5 and set(rows[0]) == {"layer", "module", "width", "energy",
                                              "effective_rank"}
    assert model.training  # mode restored
    with pytest.raises(ValueError, match="metrics: unknown nope"):
        layer_metrics(model, x, edge_index, metrics=["nope"])
