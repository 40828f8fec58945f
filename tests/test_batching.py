import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.utils import to_undirected

from eamp.cli import main
from eamp.data import csbm_graph
from eamp.data.batching import Batches, batch_gradient_error, partition
from eamp.entropy import entropy_gradient
from eamp.training import TrainConfig, train


def _random_graph(n, m, seed):
    gen = torch.Generator().manual_seed(seed)
    edges = torch.randint(0, n, (2, m), generator=gen)
    edges = edges[:, edges[0] != edges[1]]
    return to_undirected(edges, num_nodes=n)


def _cliques(count, size):
    """``count`` disjoint cliques of ``size`` nodes, interleaved (node i in clique i % count)."""
    members = torch.arange(count * size).view(size, count).t()
    edges = [torch.combinations(c, 2).t() for c in members]
    return to_undirected(torch.cat(edges, dim=1)), members


@pytest.mark.parametrize("method", ["metis", "random"])
def test_every_node_gets_one_part_and_the_cut_is_repeatable(method):
    edge_index = _random_graph(200, 800, 0)
    parts = partition(edge_index, 200, 7, method, seed=3)
    assert parts.shape == (200,) and parts.dtype == torch.long
    assert set(parts.tolist()) == set(range(7))
    assert torch.equal(parts, partition(edge_index, 200, 7, method, seed=3))
    if method == "random":  # balanced: sizes differ by at most one
        sizes = torch.bincount(parts)
        assert int(sizes.max() - sizes.min()) <= 1


def test_metis_takes_a_directed_graph_with_self_loops_as_its_undirected_graph():
    edge_index, _ = _cliques(4, 6)
    directed = edge_index[:, edge_index[0] < edge_index[1]]
    loops = torch.arange(24).repeat(2, 1)
    parts = partition(torch.cat([directed, loops], dim=1), 24, 4, "metis")
    assert torch.equal(parts, partition(edge_index, 24, 4, "metis"))


def test_metis_cuts_no_edge_between_disjoint_cliques():
    edge_index, members = _cliques(4, 6)
    parts = partition(edge_index, 24, 4, "metis")
    for clique in members:  # each clique is one part
        assert len(set(parts[clique].tolist())) == 1
    assert Batches(edge_index, parts, 1).cut_fraction() == 0.0
    random_cut = Batches(edge_index, partition(edge_index, 24, 4, "random"), 1).cut_fraction()
    assert random_cut > 0.5


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 40), m=st.integers(0, 120), num_parts=st.integers(1, 8),
       per_batch=st.integers(1, 8), seed=st.integers(0, 1000), shuffle=st.booleans())
def test_a_pass_covers_every_node_once_with_exactly_the_induced_edges(
        n, m, num_parts, per_batch, seed, shuffle):
    num_parts = min(num_parts, n)
    per_batch = min(per_batch, num_parts)
    edge_index = _random_graph(n, m, seed)
    parts = partition(edge_index, n, num_parts, "random", seed=seed)
    batches = Batches(edge_index, parts, per_batch)
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    seen = []
    all_edges = {tuple(e) for e in edge_index.t().tolist()}
    for batch in batches(generator):
        nodes = batch.nodes.tolist()
        assert nodes == sorted(nodes)
        seen += nodes
        inside = set(nodes)
        expected = {e for e in all_edges if e[0] in inside and e[1] in inside}
        got = {(nodes[a], nodes[b]) for a, b in batch.edge_index.t().tolist()}
        assert got == expected and batch.edge_index.size(1) == len(expected)
    assert sorted(seen) == list(range(n))
    assert len(list(batches(generator))) == len(batches)


def test_batch_gradient_is_exact_when_no_edge_is_cut_and_off_when_edges_are():
    edge_index, _ = _cliques(4, 6)
    x = torch.randn(24, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    exact = Batches(edge_index, partition(edge_index, 24, 4, "metis"), 1)
    assert batch_gradient_error(x, exact, 2.0) < 1e-12
    cut = Batches(edge_index, partition(edge_index, 24, 4, "random"), 1)
    assert batch_gradient_error(x, cut, 2.0) > 0.1
    # against the definition: each batch's gradient is the full formula on its subgraph
    for batch in cut():
        full = entropy_gradient(x, edge_index, 2.0)
        mine = entropy_gradient(x[batch.nodes], batch.edge_index, 2.0)
        isolated = torch.bincount(batch.edge_index[0], minlength=len(batch.nodes)) == 0
        assert torch.all(mine[isolated] == 0)
        assert not torch.allclose(mine, full[batch.nodes])
    # one batch of every part is the whole graph
    assert batch_gradient_error(x, Batches(edge_index, cut.parts, 4), 2.0) < 1e-12


def test_one_batch_of_every_part_trains_exactly_as_full_batch():
    data = csbm_graph(num_nodes=120, channels=8, seed=1)
    common = dict(hidden=8, epochs=6, patience=6, model_options={"temperature": 2.0})
    full = train(TrainConfig("entropic_gcn", "csbm", 4, **common), data)
    cluster = train(TrainConfig("entropic_gcn", "csbm", 4, batching="cluster", num_parts=3,
                                parts_per_batch=3, **common), data)
    assert cluster.splits[0]["val_curve"] == full.splits[0]["val_curve"]
    assert cluster.test_acc == full.test_acc
    assert cluster.environment["cut_fraction"] > 0 and "cut_fraction" not in full.environment


def test_cluster_batches_train_and_record_their_settings(tmp_path):
    assert main(["train", "--model", "entropic_gcn", "--dataset", "csbm", "--depth", "3",
                 "--hidden", "16", "--epochs", "30", "--patience", "30", "--lr", "0.01",
                 "--batching", "cluster", "--num-parts", "8", "--parts-per-batch", "2",
                 "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["config"]["batching"] == "cluster" and result["config"]["num_parts"] == 8
    assert result["config"]["partition"] == "metis"
    assert result["test_acc"] > 0.6  # 3 balanced classes: chance is 1/3
    assert 0 < result["environment"]["cut_fraction"] < 1


@pytest.mark.parametrize(("settings", "message"), [
    (dict(batching="minibatch"), "batching: expected one of full, cluster"),
    (dict(batching="cluster", partition="spectral"), "partition: expected one of metis"),
    (dict(batching="cluster", num_parts=0), "num_parts: expected an integer >= 1"),
    (dict(batching="cluster", num_parts=4, parts_per_batch=5),
     "parts_per_batch: expected at most num_parts (4)"),
])
def test_bad_batching_settings_name_the_setting(settings, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        TrainConfig("gcn", "csbm", 2, **settings)


def test_more_parts_than_nodes_is_one_clear_error():
    with pytest.raises(ValueError, match=r"num_parts: expected 1 <= num_parts <= 1000"):
        train(TrainConfig("gcn", "csbm", 2, hidden=8, epochs=1, batching="cluster",
                          num_parts=5000, parts_per_batch=1))


def test_cluster_flags_without_cluster_batching_are_refused(capsys, tmp_path):
    assert main(["train", "--model", "gcn", "--dataset", "csbm", "--depth", "2",
                 "--num-parts", "4", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["eamp: error: --num-parts applies to --batching cluster"]
