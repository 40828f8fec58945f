import math
import os

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.utils import add_self_loops, to_undirected

import eamp.entropy as entropy_mod
from eamp.entropy import (
    boltzmann_entropy,
    dirichlet_energy,
    entropy_gradient,
    prepare_graph,
    total_dirichlet_energy,
)

F64 = torch.float64


@st.composite
def random_graphs(draw, max_nodes: int = 14):
    """Undirected graphs with varied degrees, isolated nodes and float64 features."""
    n = draw(st.integers(2, max_nodes))
    d = draw(st.integers(1, 5))
    pairs = draw(
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), min_size=1, max_size=40)
    )
    edge_index = to_undirected(torch.tensor(pairs, dtype=torch.long).t(), num_nodes=n)
    seed = draw(st.integers(0, 2**31 - 1))
    scale = draw(st.sampled_from([0.05, 1.0, 3.0]))
    x = torch.randn(n, d, dtype=F64, generator=torch.Generator().manual_seed(seed)) * scale
    return x, edge_index


def path_graph(n: int) -> torch.Tensor:
    src = torch.arange(n - 1)
    return to_undirected(torch.stack([src, src + 1]))


def test_hand_computed_path():
    # path 0 - 1 - 2, d = 1, x = [0, 1, 3]
    x = torch.tensor([[0.0], [1.0], [3.0]], dtype=F64)
    energy = dirichlet_energy(x, path_graph(3))
    expected = torch.tensor([0.5 * 1 * 1, 0.5 / math.sqrt(2) * (1 + 4), 0.5 * 4], dtype=F64)
    torch.testing.assert_close(energy, expected, rtol=0, atol=1e-15)
    raw = dirichlet_energy(x, path_graph(3), normalize=False)
    torch.testing.assert_close(raw, torch.tensor([0.5, 2.5, 2.0], dtype=F64), rtol=0, atol=0)
    torch.testing.assert_close(total_dirichlet_energy(x, path_graph(3)), expected.mean())

    T = 2.0
    s = boltzmann_entropy(x, path_graph(3), T)
    torch.testing.assert_close(s, (torch.exp(-expected / T) * expected / T).sum())

    # the corrected eq. 6 by hand for node 1: neighbours 0 and 2
    c = torch.tensor([1.0, 1 / math.sqrt(2), 1.0], dtype=F64)
    pbar = torch.exp(-expected / T) * (1 - expected / T)
    q = c * pbar
    g1 = ((q[1] + q[0]) * (1 - 0) + (q[1] + q[2]) * (1 - 3)) / T
    assert entropy_gradient(x, path_graph(3), T)[1, 0].item() == pytest.approx(g1.item(), rel=1e-14)


@settings(max_examples=60, deadline=None)
@given(
    graph=random_graphs(), normalize=st.booleans(), temperature=st.sampled_from([0.3, 1.0, 10.0])
)
def test_gradient_matches_autograd(graph, normalize, temperature):
    x, edge_index = graph
    x = x.clone().requires_grad_()
    s = boltzmann_entropy(x, edge_index, temperature, normalize=normalize)
    (expected,) = torch.autograd.grad(s, x)
    scale = expected.abs().max().clamp_min(1e-300)
    # both code paths: in-place products (no autograd) and differentiable products
    for x_in in (x.detach(), x):
        got = entropy_gradient(x_in, edge_index, temperature, normalize=normalize)
        assert ((got - expected).abs().max() / scale).item() < 1e-10


def test_papers_printed_formula_is_not_the_gradient():
    # Guard that the test above can fail: the paper's eq. 6 (C_j outside the sum) differs.
    torch.manual_seed(1)
    edge_index = to_undirected(torch.tensor([[0, 0, 0, 1], [1, 2, 3, 2]]))
    x = torch.randn(4, 3, dtype=F64, requires_grad=True)
    (auto,) = torch.autograd.grad(boltzmann_entropy(x, edge_index, 1.0), x)
    e = dirichlet_energy(x.detach(), edge_index)
    c = 1 / torch.sqrt(torch.tensor([3.0, 2, 2, 1], dtype=F64) * 3)
    pbar = torch.exp(-e) * (1 - e)
    row, col = edge_index
    wrong = torch.zeros_like(x).index_add(
        0,
        col,
        (c[row] * (pbar[row] + pbar[col])).unsqueeze(-1) * (x.detach()[col] - x.detach()[row]),
    )
    assert (wrong - auto).abs().max() > 1e-3


@settings(max_examples=40, deadline=None)
@given(graph=random_graphs(), normalize=st.booleans())
def test_energy_nonnegative_and_total_is_mean(graph, normalize):
    x, edge_index = graph
    energy = dirichlet_energy(x, edge_index, normalize=normalize)
    assert (energy >= 0).all()
    torch.testing.assert_close(
        total_dirichlet_energy(x, edge_index, normalize=normalize), energy.mean()
    )


@settings(max_examples=40, deadline=None)
@given(graph=random_graphs(), data=st.data())
def test_permutation_equivariance(graph, data):
    x, edge_index = graph
    n = x.size(0)
    perm = torch.tensor(data.draw(st.permutations(list(range(n)))))
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(n)
    x_p, ei_p = x[perm], inv[edge_index]  # node perm[k] becomes node k
    torch.testing.assert_close(dirichlet_energy(x_p, ei_p), dirichlet_energy(x, edge_index)[perm])
    torch.testing.assert_close(
        entropy_gradient(x_p, ei_p, 1.0), entropy_gradient(x, edge_index, 1.0)[perm]
    )
    torch.testing.assert_close(
        boltzmann_entropy(x_p, ei_p, 1.0), boltzmann_entropy(x, edge_index, 1.0)
    )


@settings(max_examples=30, deadline=None)
@given(graph=random_graphs())
def test_self_loops_and_duplicates_do_not_change_anything(graph):
    x, edge_index = graph
    looped, _ = add_self_loops(edge_index, num_nodes=x.size(0))
    doubled = torch.cat([looped, edge_index], dim=1)
    torch.testing.assert_close(dirichlet_energy(x, doubled), dirichlet_energy(x, edge_index))
    torch.testing.assert_close(
        entropy_gradient(x, doubled, 2.0), entropy_gradient(x, edge_index, 2.0)
    )


@settings(max_examples=30, deadline=None)
@given(graph=random_graphs(), offset=st.floats(-100, 100))
def test_constant_embedding_is_exactly_zero(graph, offset):
    x, edge_index = graph
    const = torch.full_like(x, offset)
    assert (dirichlet_energy(const, edge_index) == 0).all()
    assert boltzmann_entropy(const, edge_index, 1.0) == 0
    assert (entropy_gradient(const, edge_index, 1.0) == 0).all()


def test_isolated_nodes_have_zero_energy_and_gradient():
    edge_index = to_undirected(torch.tensor([[0, 1], [1, 2]]))
    x = torch.randn(5, 3, dtype=F64)
    assert (dirichlet_energy(x, edge_index)[3:] == 0).all()
    assert (entropy_gradient(x, edge_index, 1.0)[3:] == 0).all()
    # isolated nodes count in the mean
    assert total_dirichlet_energy(x, edge_index) == dirichlet_energy(x, edge_index).sum() / 5


def test_tiny_energy_of_almost_constant_embedding_is_exact():
    # A deep GCN's output: a large common offset plus a 1e-15 spread.
    edge_index = path_graph(4)
    v = torch.tensor([[0.0], [1.0], [3.0], [6.0]], dtype=F64)
    x = 7.0 + 1e-15 * v
    energy = dirichlet_energy(x, edge_index, normalize=False)
    diffs = x[1:] - x[:-1]  # the representable spread, computed as the energy should be
    sq = diffs.pow(2).squeeze(-1)
    expected = 0.5 * torch.stack([sq[0], sq[0] + sq[1], sq[1] + sq[2], sq[2]])
    torch.testing.assert_close(energy, expected, rtol=1e-12, atol=0)
    assert 1e-31 < energy.sum() < 1e-28


def test_prepared_graph_gives_the_same_results():
    torch.manual_seed(0)
    edge_index = to_undirected(torch.randint(0, 20, (2, 50)))
    x = torch.randn(20, 4, dtype=F64)
    graph = prepare_graph(edge_index, num_nodes=20)
    assert prepare_graph(graph) is graph
    torch.testing.assert_close(dirichlet_energy(x, graph), dirichlet_energy(x, edge_index))
    torch.testing.assert_close(
        entropy_gradient(x, graph, 3.0), entropy_gradient(x, edge_index, 3.0)
    )
    assert graph.adjacency(F64, x.device) is graph.adjacency(F64, x.device)  # cached
    assert (graph.deg == torch.bincount(graph.edge_index[1], minlength=20)).all()


def test_chunked_energy_equals_one_chunk(monkeypatch):
    torch.manual_seed(0)
    edge_index = to_undirected(torch.randint(0, 50, (2, 300)))
    x = torch.randn(50, 8, dtype=F64)
    whole = dirichlet_energy(x, edge_index)
    monkeypatch.setattr(entropy_mod, "_CHUNK_ELEMENTS", 8 * 7)  # 7 edges a chunk
    torch.testing.assert_close(dirichlet_energy(x, edge_index), whole)


def test_directed_edges_are_used_as_given():
    # one edge 0 -> 1: N_1 = {0}, N_0 = {}
    energy = dirichlet_energy(torch.tensor([[0.0], [2.0]]), torch.tensor([[0], [1]]))
    assert energy.tolist() == [0.0, 2.0]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_huge_energies_underflow_to_finite_values(dtype):
    edge_index = path_graph(3)
    x = torch.tensor([[0.0], [1e15], [-1e15]], dtype=dtype)
    s = boltzmann_entropy(x, edge_index, 1e-3)
    g = entropy_gradient(x, edge_index, 1e-3)
    assert s == 0 and torch.isfinite(g).all() and (g == 0).all()
    x = torch.tensor([[0.0], [3e25], [-3e25]], dtype=torch.float32)  # |x|^2 overflows to inf
    assert torch.isfinite(entropy_gradient(x, edge_index, 1.0)).all()


def test_gradient_supports_autograd_and_learnable_temperature():
    torch.manual_seed(0)
    edge_index = to_undirected(torch.randint(0, 10, (2, 25)))
    x = torch.randn(10, 3, dtype=F64, requires_grad=True)
    t = torch.tensor(0.7, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, t: entropy_gradient(x, edge_index, t), (x, t), eps=1e-6, atol=1e-6
    )


def test_a_scaled_gradient_is_the_gradient_times_its_scale():
    # the scale (a layer's lambda * T) enters through the coefficients: both code paths, a
    # number and a learned tensor, whose gradient is checked against autograd's
    torch.manual_seed(0)
    graph = prepare_graph(to_undirected(torch.randint(0, 12, (2, 30))), 12)
    x = torch.randn(12, 4, dtype=F64)
    plain = entropy_gradient(x, graph, 0.7)
    for x_in in (x, x.clone().requires_grad_()):
        got = entropy_mod.gradient_of(x_in, graph, 0.7, True, scale=2.5)
        torch.testing.assert_close(got, 2.5 * plain, rtol=1e-12, atol=1e-14)
    scale = torch.tensor(1.5, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda s: entropy_mod.gradient_of(x, graph, 0.7, True, scale=s), (scale,), eps=1e-6,
        atol=1e-6)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("nan"), float("inf"), "1", True])
def test_bad_temperature(temperature):
    x = torch.randn(3, 2)
    for fn in (boltzmann_entropy, entropy_gradient):
        with pytest.raises(ValueError, match="temperature"):
            fn(x, path_graph(3), temperature)
    with pytest.raises(ValueError, match="temperature"):
        entropy_gradient(x, path_graph(3), torch.tensor([1.0, 2.0]))


@pytest.mark.parametrize(
    "edge_index, message",
    [
        (torch.tensor([0, 1, 2]), r"shape \[2, E\]"),
        (torch.zeros(3, 4, dtype=torch.long), r"shape \[2, E\]"),
        (torch.tensor([[0.0, 1.0], [1.0, 0.0]]), "integer"),
        (torch.tensor([[0, -1], [1, 0]]), "non-negative"),
        (torch.tensor([[0, 5], [1, 0]]), "past num_nodes=3"),
        ([[0, 1], [1, 0]], "LongTensor"),
    ],
)
def test_bad_edge_index(edge_index, message):
    x = torch.randn(3, 2)
    for fn in (dirichlet_energy, lambda x, e: entropy_gradient(x, e, 1.0)):
        with pytest.raises(ValueError, match=rf"edge_index: .*{message}"):
            fn(x, edge_index)


@pytest.mark.parametrize(
    "x, message",
    [
        (torch.randn(3), "2-D"),
        (torch.randn(3, 2, 1), "2-D"),
        (torch.ones(3, 2, dtype=torch.long), "floating"),
        (torch.tensor([[0.0], [float("nan")], [1.0]]), "finite"),
        (torch.tensor([[0.0], [float("inf")], [1.0]]), "finite"),
    ],
)
def test_bad_x(x, message):
    with pytest.raises(ValueError, match=rf"x: .*{message}"):
        dirichlet_energy(x, path_graph(3))
    with pytest.raises(ValueError, match=rf"x: .*{message}"):
        entropy_gradient(x, path_graph(3), 1.0)


def test_x_rows_must_match_prepared_graph_and_num_nodes():
    graph = prepare_graph(path_graph(3))
    with pytest.raises(ValueError, match="x: expected 3 rows"):
        dirichlet_energy(torch.randn(4, 2), graph)
    with pytest.raises(ValueError, match="num_nodes"):
        dirichlet_energy(torch.randn(3, 2), path_graph(3), num_nodes=4)
    with pytest.raises(ValueError, match="num_nodes"):
        prepare_graph(graph, num_nodes=5)


def test_autograd_through_a_directed_graph():
    # the backward of W x uses W's transpose: a directed graph tells W from W^T
    torch.manual_seed(1)
    edge_index = torch.randint(0, 8, (2, 20))
    x = torch.randn(8, 3, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: entropy_gradient(x, edge_index, 0.5), (x,),
                                    eps=1e-6, atol=1e-6)


def test_prepared_transpose_is_the_dense_transpose():
    torch.manual_seed(2)
    graph = prepare_graph(torch.randint(0, 9, (2, 30)), 9)  # directed: A != A^T
    values = torch.randn(graph.num_edges, dtype=F64)
    dense = graph.adjacency(F64, torch.device("cpu"), values=values).to_dense()
    transposed = graph.transposed(F64, torch.device("cpu"), values=values)
    assert transposed.layout == torch.sparse_csr
    assert torch.equal(transposed.to_dense(), dense.t())
    ones = graph.transposed(F64, torch.device("cpu"))
    assert ones is graph.transposed(F64, torch.device("cpu"))  # cached
    assert torch.equal(ones.to_dense(), graph.adjacency(F64, torch.device("cpu")).to_dense().t())


_BACKWARD_MEMORY = """
import sys, torch
from eamp.entropy import entropy_gradient, prepare_graph

def status(key):
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith(key))

n = int(sys.argv[1])
torch.manual_seed(0)
edges = torch.randint(0, n, (2, 5 * n))
graph = prepare_graph(torch.cat([edges, edges.flip(0)], 1), n)
x = torch.randn(n, 16, dtype=torch.float64, requires_grad=True)
out = entropy_gradient(x, graph, 1.0).pow(2).sum()
with open("/proc/self/clear_refs", "w") as handle:
    handle.write("5")  # resets the peak resident set (VmHWM) to the current one
before = status("VmRSS:")
out.backward()
print(status("VmHWM:") - before)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"),
                    reason="measures the peak resident set through Linux's /proc")
def test_backward_memory_grows_linearly():
    import subprocess
    import sys

    def growth_kb(n: int) -> int:
        run = subprocess.run([sys.executable, "-c", _BACKWARD_MEMORY, str(n)], check=True,
                             capture_output=True, text=True,
                             env={**os.environ, "OMP_NUM_THREADS": "1"})
        return int(run.stdout.split()[-1])

    small, large = growth_kb(2000), growth_kb(8000)
    # a dense [n, n] float64 gradient would add 32 MB and then 512 MB (16x)
    assert large < 5 * small + 16_000 and large < 64_000, (small, large)


def test_temperature_below_float32_range_is_computed_in_float64():
    edge_index = to_undirected(torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]]))
    x = torch.tensor([[0.0, 1.0], [1e-20, 0.5], [2e-20, 0.2], [0.3, 0.1]])
    for t in (1e-39, 1e-50):
        grad = entropy_gradient(x, edge_index, t)
        assert grad.dtype == torch.float32 and torch.isfinite(grad).all()
        torch.testing.assert_close(grad, entropy_gradient(x.double(), edge_index, t).float())
        s = boltzmann_entropy(x, edge_index, t)
        assert torch.isfinite(s) and s.dtype == torch.float32


def test_numpy_scalars_and_the_dtypes_it_cannot_compute_in():
    import numpy as np

    edge_index = to_undirected(torch.tensor([[0, 1], [1, 2]]))
    x = torch.randn(3, 4)
    expected = entropy_gradient(x, edge_index, 2.0)
    torch.testing.assert_close(
        entropy_gradient(x, edge_index, np.float32(2.0), num_nodes=np.int64(3)), expected)
    assert prepare_graph(edge_index, np.int64(3)).num_nodes == 3
    for dtype in (torch.float16, torch.bfloat16):
        with pytest.raises(ValueError, match=f"x: expected float32 or float64, got {dtype}"):
            entropy_gradient(x.to(dtype), edge_index, 1.0)
    with pytest.raises(ValueError, match="x: the meta device"):
        entropy_gradient(x.to("meta"), edge_index, 1.0)
