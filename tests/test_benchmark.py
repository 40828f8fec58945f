"""Model selection, ROC AUC, presets, G2's layers and ``eamp benchmark``."""

import csv
import itertools
import shutil
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from eamp.cli import main
from eamp.experiments.benchmark import SUITES, BenchmarkConfig, Case, Published
from eamp.metrics import roc_auc
from eamp.models import build_model, get_model_spec
from eamp.models.registry import Preset, get_preset, preset_names
from eamp.training import TrainConfig, read_result, train


def _brute_auc(scores: list[float], labels: list[int]) -> float:
    pos = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    neg = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-3, 3), st.integers(0, 1)), min_size=2, max_size=30))
def test_roc_auc_equals_the_pairwise_definition_with_ties(pairs):
    scores = [float(s) for s, _ in pairs]  # small integers: many ties
    labels = [y for _, y in pairs]
    logits = torch.tensor([[0.0, s] for s in scores], dtype=torch.float64)
    y = torch.tensor(labels)
    mask = torch.ones(len(labels), dtype=torch.bool)
    got = roc_auc(logits, y, mask)
    if 0 < sum(labels) < len(labels):
        assert got == pytest.approx(_brute_auc(scores, labels), abs=1e-12)
    else:
        assert got != got  # NaN without both classes


def _tiny_graph_config(**kwargs):
    return TrainConfig("gcn", "csbm", 2, hidden=16, epochs=30, patience=30, **kwargs)


@pytest.mark.parametrize("select", ["val_metric", "val_loss"])
def test_the_kept_epoch_is_the_one_the_selection_names(select):
    result = train(_tiny_graph_config(select=select, lr=0.05), progress=False)
    split = result.splits[0]
    if select == "val_loss":
        curve = split["val_loss_curve"]
        assert split["best_epoch"] == curve.index(min(curve))
        assert result.val_loss == pytest.approx(min(curve))
    else:
        curve = split["val_curve"]
        assert split["best_epoch"] == curve.index(max(curve))
        assert result.val_score == pytest.approx(max(curve))
    assert result.config["select"] == select
    assert result.metric == "accuracy" and result.val_score == result.best_val_acc


@pytest.mark.parametrize("name, kind", [("adam", torch.optim.Adam),
                                         ("adamax", torch.optim.Adamax)])
def test_the_optimizer_is_the_one_named_and_recorded(name, kind, monkeypatch):
    built = []
    original = kind.__init__

    def spy(self, *args, **kwargs):
        built.append(type(self))
        original(self, *args, **kwargs)

    monkeypatch.setattr(kind, "__init__", spy)
    result = train(_tiny_graph_config(optimizer=name), progress=False)
    assert built == [kind] and result.config["optimizer"] == name


def test_select_and_preset_are_checked_when_built():
    with pytest.raises(ValueError, match="optimizer: expected one of adam, adamax, got 'sgd'"):
        _tiny_graph_config(optimizer="sgd")
    with pytest.raises(ValueError, match="select: expected one of val_metric, val_loss"):
        _tiny_graph_config(select="val_acc")
    with pytest.raises(ValueError, match="preset: gcnii-chen2020 is a preset of gcnii"):
        TrainConfig("gcn", "cora", 2, preset="gcnii-chen2020")
    # an entropic version may take its backbone's preset, no other model may
    entropic = TrainConfig.from_preset("gcnii-chen2020", "cora", model="entropic_gcnii")
    assert entropic.model == "entropic_gcnii" and entropic.depth == 64
    with pytest.raises(ValueError, match="preset: gcnii-chen2020 is a preset of gcnii"):
        TrainConfig("entropic_gcn", "cora", 2, preset="gcnii-chen2020")
    with pytest.raises(ValueError, match="preset: unknown name 'nope'"):
        TrainConfig.from_preset("nope", "cora")
    with pytest.raises(ValueError, match="depth: preset gcnii-chen2020 sets no depth for texas"):
        TrainConfig.from_preset("gcnii-chen2020", "texas")


def test_gcnii_preset_holds_its_papers_settings_per_dataset():
    cora = TrainConfig.from_preset("gcnii-chen2020", "cora")
    assert (cora.model, cora.depth, cora.hidden, cora.dropout, cora.select) == (
        "gcnii", 64, 64, 0.6, "val_loss")
    assert cora.normalize_features and cora.model_options["theta"] == 0.5
    citeseer = TrainConfig.from_preset("gcnii-chen2020", "CiteSeer", seed=3)
    assert (citeseer.depth, citeseer.hidden, citeseer.dropout, citeseer.seed) == (32, 256, 0.7, 3)
    assert citeseer.model_options == {"alpha": 0.1, "theta": 0.6, "conv_weight_decay": 0.01}
    # settings given win over the preset's; model options merge
    mine = TrainConfig.from_preset("gcnii-chen2020", "cora", depth=8,
                                   model_options={"alpha": 0.2})
    assert mine.depth == 8 and mine.model_options["alpha"] == 0.2
    assert mine.model_options["theta"] == 0.5 and mine.preset == "gcnii-chen2020"


def test_every_preset_has_a_source_and_builds_for_its_datasets():
    assert len(preset_names()) == len(set(preset_names()))
    for name in preset_names():
        spec, preset = get_preset(name)
        assert preset.source and name.startswith(spec.name + "-")
        for dataset in (*preset.datasets, "cora"):
            TrainConfig.from_preset(name, dataset, depth=preset.for_dataset(dataset).get(
                "depth", 2))


def test_a_preset_with_an_unknown_setting_or_option_is_refused():
    with pytest.raises(ValueError, match="unknown settings nope"):
        Preset("x-y", "s", "src", settings={"nope": 1})
    from eamp.models.registry import ModelSpec

    bad = Preset("gcn-bad", "s", "src", settings={"model_options": {"nope": 1}})
    with pytest.raises(ValueError, match="preset gcn-bad: options: gcn2 does not take nope"):
        ModelSpec("gcn2", get_model_spec("gcn").model_class, get_model_spec("gcn").defaults,
                  "x", presets=(bad,))


def test_cli_preset_sets_the_model_and_flags_win(tmp_path):
    from eamp.cli.parser import build_parser
    from eamp.cli.settings import config_from_args

    args = build_parser().parse_args(["train", "--preset", "g2-rusch2023", "--dataset", "texas",
                                      "--lr", "0.01", "--out", str(tmp_path)])
    config = config_from_args(args)
    assert config.model == "g2" and config.depth == 6 and config.lr == 0.01
    assert config.model_options["conv"] == "sage" and config.preset == "g2-rusch2023"
    assert main(["train", "--preset", "gcnii-chen2020", "--model", "gcn", "--dataset", "cora",
                 "--out", str(tmp_path / "x")]) == 2


@pytest.mark.parametrize("conv", ["gcn", "sage", "gat"])
@pytest.mark.parametrize("gate_conv", [True, False])
def test_g2_wraps_gcn_sage_and_gat(conv, gate_conv):
    torch.manual_seed(0)
    edge_index = torch.tensor([[0, 1, 1, 2, 2, 3, 3, 0], [1, 0, 2, 1, 3, 2, 0, 3]])
    model = build_model("g2", 5, 8, 3, 3, conv=conv, gate_conv=gate_conv)
    logits, hidden = model(torch.randn(4, 5), edge_index, return_hidden=True)
    assert logits.shape == (4, 3) and len(hidden) == 4
    assert all(h.shape == (4, 8) for h in hidden[1:])
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    with pytest.raises(ValueError, match="conv: expected one of"):
        build_model("g2", 5, 256, 3, 3, conv="gin")


def test_a_case_is_met_by_its_floor_or_the_published_spread():
    pub = Published(80.0, 2.0, "src")
    assert Case("c", "gcn-nazari2023", "cora", pub).met(78.5)
    assert not Case("c", "gcn-nazari2023", "cora", pub).met(77.9)
    assert Case("c", "gcn-nazari2023", "cora", Published(80.0, None, "s"), tolerance=3).met(77.1)
    assert not Case("c", "gcn-nazari2023", "cora", pub, floor=85.0).met(84.9)
    for suite in SUITES.values():
        for case in suite:
            assert case.published.source and get_preset(case.preset)


def _rows(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_fidelity_quick_writes_its_tables_and_resumes(all_data_root, tmp_path, capsys):
    argv = ["benchmark", "--suite", "fidelity-quick", "--out", str(tmp_path), "--data-dir",
            str(all_data_root)]
    assert main([*argv, "--plan"]) == 0  # lists what would train, trains nothing
    plan = capsys.readouterr().out
    assert f"0 tuning trials, {2 * len(SUITES['fidelity-quick'])} runs" in plan
    assert not list(tmp_path.rglob("result.json"))
    report = [*argv, "--report", "--cases", "Texas, 2 layers"]
    assert main(report) == 0  # reports the empty store, trains nothing
    assert not list(tmp_path.rglob("result.json"))
    assert {r["n"] for r in _rows(tmp_path / "benchmark.csv")} == {"0"}
    md = (tmp_path / "benchmark.md").read_text()
    assert "| not run (0 of 2) |" in md
    # how to rebuild it, and nothing that changes from one rebuild to the next
    assert "`eamp benchmark --suite fidelity-quick --out <this folder> --report`" in md
    assert "The runs were trained with none stored." in md
    assert main(argv) == 0
    rows = _rows(tmp_path / "benchmark.csv")
    assert [r["case"] for r in rows] == [c.name for c in SUITES["fidelity-quick"]]
    assert all(r["n"] == "2" and 0 < float(r["mean"]) <= 100 for r in rows)
    md = (tmp_path / "benchmark.md").read_text()
    assert "not comparable" in md
    assert "**MISSED**" in md  # the quick GCNII row cannot reach the paper's floor
    assert ("## Missed targets: what was found" in md
            and "- GCNII, Cora public, 8 layers, 40 epochs (" in md and "a quick row" in md)
    assert "Rusch et al. 2023" in md and "Chen et al. 2020" in md
    results = sorted(tmp_path.rglob("result.json"))
    assert len(results) == 4
    stamps = [p.stat().st_mtime_ns for p in results]
    capsys.readouterr()
    assert main(argv) == 0  # resumed: nothing retrained
    assert "4 already done, 0 to train" in capsys.readouterr().out
    assert main([*argv, "--plan"]) == 0
    plan = capsys.readouterr().out
    assert "0 tuning trials, 0 runs" in plan and "about 0.0 min left" in plan
    minutes = sum(read_result(p)["wall_time_s"] for p in results) / 60
    assert f"compute: {minutes:.1f} min done" in plan
    for row in rows:  # each row's run time is that of its stored runs
        seconds = [read_result(p)["wall_time_s"] for p in results
                   if p.relative_to(tmp_path).parts[1] == row["preset"]]
        assert (row["run_s_min"], row["run_s_max"]) == (str(round(min(seconds))),
                                                        str(round(max(seconds))))
        env = read_result(results[0])["environment"]
        threads = f"{env['threads']} thread{'s' if env['threads'] != 1 else ''}"
        assert row["ran_on"] == f"{env['device_name']}, {threads}"
    assert [p.stat().st_mtime_ns for p in results] == stamps
    md = (tmp_path / "benchmark.md").read_text()
    assert "trained with eamp " in md  # the versions the runs record
    (tmp_path / "benchmark.csv").unlink()
    assert main([*argv, "--report"]) == 0  # the same tables, read back from the store
    assert _rows(tmp_path / "benchmark.csv") == rows
    assert (tmp_path / "benchmark.md").read_text() == md


def test_benchmark_config_is_checked():
    with pytest.raises(ValueError, match="suite: expected one of fidelity, fidelity-quick, "
                       "entropy, .*, got 'nope'"):
        BenchmarkConfig("nope")
    with pytest.raises(ValueError, match="precision: expected one of"):
        BenchmarkConfig("fidelity-quick", precision="fp8")
    with pytest.raises(ValueError, match="device: expected"):
        BenchmarkConfig("fidelity-quick", device="gpu")
    # a config names a device without asking this machine: it plans and reports anywhere
    assert BenchmarkConfig("fidelity-quick", device="cuda:1").device == "cuda:1"


@pytest.mark.parametrize("conv", ["gcn", "sage"])
def test_residual_gcn_and_sage_blocks_are_platonovs_formula(conv):
    """Both aggregations are sparse products (the sage mean too): the model's
    output and its gradient equal the dense formula's in float64, on a graph with a one-way
    edge (3 -> 0: a mean over in-neighbours) and an isolated node (its mean is zero)."""
    from torch_geometric.nn.conv.gcn_conv import gcn_norm
    from torch_geometric.utils import to_dense_adj

    torch.manual_seed(0)
    edge_index = torch.tensor([[0, 1, 1, 2, 2, 3, 0, 2, 3], [1, 0, 2, 1, 3, 2, 2, 0, 0]])
    model = build_model("resgnn", 4, 6, 2, 2, conv=conv).double().eval()
    x = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)  # node 4 is isolated
    if conv == "gcn":
        ei, w = gcn_norm(edge_index, None, 5, add_self_loops=True, dtype=torch.float64)
        a_hat = to_dense_adj(ei, edge_attr=w, max_num_nodes=5)[0].t()  # rows: targets
    else:
        a = to_dense_adj(edge_index, max_num_nodes=5)[0].double().t()
        a_hat = a / a.sum(1, keepdim=True).clamp(min=1)
        assert a_hat[0].tolist() == [0, 1 / 3, 1 / 3, 1 / 3, 0] and not a_hat[4].any()
    h = torch.nn.functional.gelu(model.encoder(x))
    for k in range(2):
        ff, xn = model.feed_forwards[k], model.norms[k](h)
        agg = a_hat @ xn if conv == "gcn" else torch.cat([xn, a_hat @ xn], dim=-1)
        h = h + ff.lin2(torch.nn.functional.gelu(ff.lin1(agg)))
    expected = model.decoder(model.out_norm(h))
    out = model(x, edge_index)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-12)
    weights = torch.randn_like(out)
    grad, = torch.autograd.grad((out * weights).sum(), x)
    expected_grad, = torch.autograd.grad((expected * weights).sum(), x)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("conv", ["sage", "gat"])
def test_residual_sage_and_gat_train_and_check_their_options(conv):
    edge_index = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
    model = build_model("resgnn", 4, 8, 2, 3, conv=conv, heads=2)
    logits, hidden = model(torch.randn(4, 4), edge_index, return_hidden=True)
    assert logits.shape == (4, 3) and len(hidden) == 3
    logits.sum().backward()
    with pytest.raises(ValueError, match="heads: expected a divisor of hidden_channels"):
        build_model("resgnn", 4, 8, 2, 3, conv="gat", heads=3)


@pytest.mark.parametrize("path", ["sparse", "gather-scatter"])
def test_platonov_attention_is_their_formula_by_brute_force(path, monkeypatch):
    """The attention's weighted sum is one sparse product per head with a hand-written
    backward (eamp._products.headwise_product); under torch.compile PyG's gather-scatter
    (forced here). Both equal the formula, output and gradients, in float64 on a graph with
    one-way edges (3 -> 2, 0 -> 2) and an isolated node."""
    import eamp.models.resgnn as resgnn
    from eamp.models.resgnn import HeadScoredAttention

    if path == "gather-scatter":
        monkeypatch.setattr(resgnn.torch.compiler, "is_compiling", lambda: True)
    torch.manual_seed(0)
    heads, width, n = 2, 6, 5
    edge_index = torch.tensor([[0, 1, 1, 2, 3, 0], [1, 0, 2, 1, 2, 2]])  # node 4: isolated
    conv = HeadScoredAttention(width, heads).double()
    x = torch.randn(n, width, dtype=torch.float64, requires_grad=True)
    h = conv.lin(x)
    source, target = conv.score_source(h), conv.score_target(h)
    expected = torch.zeros(n, width, dtype=torch.float64)
    for i in range(n):
        js = [i] + [int(j) for j, t in edge_index.t().tolist() if t == i]
        for k in range(heads):
            e = torch.stack([torch.nn.functional.leaky_relu(source[j, k] + target[i, k], 0.2)
                             for j in js])
            alpha = torch.softmax(e, 0)
            for c in range(k, width, heads):  # head k holds channels k, k + H, ...
                expected[i, c] = sum(a * h[j, c] for a, j in zip(alpha, js))
    out = conv(x, edge_index)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-12)
    weights, inputs = torch.randn_like(out), (x, *conv.parameters())
    grads = torch.autograd.grad((out * weights).sum(), inputs)
    expected_grads = torch.autograd.grad((expected * weights).sum(), inputs)
    assert len(grads) == 6 and all(g.abs().sum() > 0 for g in grads)  # x, lin, both scores
    for grad, expected_grad in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(grad, expected_grad, rtol=1e-10, atol=1e-12)
    assert repr(conv) == "HeadScoredAttention(6, heads=2)"
    with pytest.raises(ValueError, match="heads: expected a divisor of channels"):
        HeadScoredAttention(6, 4)


def test_residual_gat_attention_is_the_authors_or_gatconv():
    from torch_geometric.nn import GATConv

    from eamp.models.resgnn import HeadScoredAttention

    def layer(**options):
        return build_model("resgnn", 4, 8, 1, 3, conv="gat", heads=2,
                           **options).attentions[0]

    assert isinstance(layer(), HeadScoredAttention)
    assert isinstance(layer(attention="gatconv"), GATConv)
    with pytest.raises(ValueError, match="attention: expected one of"):
        layer(attention="dot")
    assert get_preset("resgnn-gat-platonov2023")[1].for_dataset("minesweeper")[
        "model_options"]["attention"] == "platonov"


def test_residual_gat_builds_one_attention_pattern_for_all_blocks(monkeypatch):
    """The blocks of a residual GAT share one pattern, built once per graph, and give what
    each block gives with its own."""
    from eamp._products import RowPattern

    built = []
    build = RowPattern.build.__func__

    def counting(cls, edge_index, num_nodes):
        built.append(num_nodes)
        return build(cls, edge_index, num_nodes)

    monkeypatch.setattr(RowPattern, "build", classmethod(counting))
    torch.manual_seed(0)
    model = build_model("resgnn", 4, 8, 3, 3, conv="gat", heads=2).double()
    model.eval()
    x, edge_index = torch.randn(5, 4, dtype=torch.float64), torch.tensor([[0, 1, 3], [1, 2, 2]])
    shared = model(x, edge_index)
    model(x, edge_index)
    assert built == [5]  # once for three blocks and two calls
    # each block on its own (its own cache, unused so far)
    monkeypatch.setattr(model, "_attention_pattern", lambda edge_index, x: None)
    torch.testing.assert_close(model(x, edge_index), shared, rtol=0, atol=0)
    assert built == [5, 5, 5, 5]


def test_a_partial_row_says_so_and_one_run_has_no_spread():
    from eamp.experiments.benchmark import _markdown

    base = dict(metric="accuracy", planned=10, published=73.4, published_std=None,
                difference=0.6, target=">= 72.5", within=True, verified=True, note="", finding="",
                preset="gcnii-chen2020", source="a paper", ran_on="cpu, 1 thread")
    rows = [dict(base, case="one", n=1, mean=74.0, std=float("nan"), run_s_min=12,
                 run_s_max=12, run_min=0.2),
            dict(base, case="four", n=4, mean=40.75, std=5.17, run_s_min=159, run_s_max=306,
                 run_min=15.05),
            dict(base, case="all", n=10, mean=73.0, std=1.0, run_s_min=60, run_s_max=66,
                 run_min=10.5, ran_on="NVIDIA H100; cpu, 2 threads")]
    text = _markdown(BenchmarkConfig(suite="fidelity"), rows, "")
    assert "| one | accuracy | 74.00 (1 of 10) |" in text and "nan" not in text
    assert "| 40.75 ± 5.17 (4 of 10) |" in text and "yes so far (4 of 10) |" in text
    assert "| 73.00 ± 1.00 (10) |" in text and text.count("so far") == 2
    assert "| 12 s a run (cpu, 1 thread) |" in text
    assert "| 159-306 s a run (cpu, 1 thread) |" in text
    assert "| 60-66 s a run (NVIDIA H100; cpu, 2 threads) |" in text
    assert "took 25.8 min (0.4 h) of run time in all, 15 of 30 planned runs done" in text
    assert "Missed targets" not in text  # every row met (so far)
    missed = [dict(base, case="low", n=10, mean=60.0, std=1.0, difference=-13.4,
                   within=False, run_s_min=1, run_s_max=2, run_min=0.2),
              dict(base, case="lower", n=3, mean=50.0, std=1.0, difference=-23.4, within=False,
                   finding="the settings differ", run_s_min=1, run_s_max=2, run_min=0.1)]
    text = _markdown(BenchmarkConfig(suite="fidelity"), rows + missed, "")
    assert "| **MISSED** |" in text and "| **MISSED** so far (3 of 10) |" in text
    section = text.split("## Missed targets: what was found")[1].split("## Sources")[0]
    assert section.strip().splitlines() == ["- low (-13.40): no cause found yet.",
                                            "- lower (-23.40): the settings differ."]


@pytest.mark.parametrize("environment, where", [
    ({"device": "cpu", "threads": 1}, "cpu, 1 thread"),
    ({"device": "cpu", "threads": 16}, "cpu, 16 threads"),
    ({"device": "cpu", "device_name": "AMD EPYC", "threads": 2}, "AMD EPYC, 2 threads"),
    ({"device": "cuda:0", "device_name": "NVIDIA H100 80GB HBM3", "threads": 16},
     "NVIDIA H100 80GB HBM3"),
    (None, "?"),
])
def test_a_run_says_where_it_trained(environment, where):
    from eamp.training.result import ran_on

    assert ran_on({} if environment is None else {"environment": environment}) == where


def test_the_gpu_script_trains_reports_and_packs_the_store(all_data_root, tmp_path):
    import os
    import subprocess
    import sys
    import tarfile
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "EAMP_NUM_THREADS": "1"}
    store, pack = tmp_path / "store", tmp_path / "back" / "store.tar.gz"
    args = ["bash", str(root / "scripts" / "gpu_benchmark.sh"), "5", str(store), str(pack),
            "--suite", "fidelity-quick", "--cases", "Texas", "--data-dir", str(all_data_root),
            "--device", "cpu"]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with tarfile.open(pack) as tar:
        names = tar.getnames()
    assert sum(n.endswith("result.json") for n in names) == 2
    assert "store/benchmark.md" in names
    md = (store / "benchmark.md").read_text()  # the GCNII row was not selected: not run
    assert "| not run (0 of 2) |" in md and md.count("| not run |") == 1
    usage = subprocess.run(["bash", str(root / "scripts" / "gpu_benchmark.sh"), "5"],
                           capture_output=True, text=True)
    assert usage.returncode == 2 and "usage:" in usage.stderr
    for bad in ("ten", "0", "-1"):
        refused = subprocess.run(["bash", str(root / "scripts" / "gpu_benchmark.sh"), bad,
                                  str(store), str(pack)], capture_output=True, text=True)
        assert refused.returncode == 2
        assert refused.stderr == f"MINUTES: expected a positive number of minutes, got '{bad}'\n"


RESULTS = Path(__file__).resolve().parents[1] / "results" / "fidelity"


def test_committed_fidelity_runs_are_current_and_their_table_is_theirs(tmp_path):
    """``results/fidelity`` (committed) holds the runs behind the README's table. Every stored
    run must be one the suite plans, with the settings it plans (a preset changed since would
    retrain it), and the committed ``benchmark.csv`` must be the one those runs give."""
    from eamp.experiments.benchmark import benchmark
    from eamp.runs.store import RunSpec, is_done

    stored = sorted(RESULTS.rglob("result.json"))
    assert stored, f"no committed runs under {RESULTS}"
    plan = {spec.relpath: spec for case in SUITES["fidelity"]
            for spec in (RunSpec(case.preset, c) for c in case.configs(None, None, "cpu", "32"))}
    unplanned = [p for p in stored if p.relative_to(RESULTS) not in plan]
    assert not unplanned, f"runs the fidelity suite does not plan: {unplanned[:3]}"
    stale = [p for p in stored if not is_done(plan[p.relative_to(RESULTS)], p, quiet=True)]
    assert not stale, f"runs made with other settings than their case's now: {stale[:3]}"
    shutil.copytree(RESULTS, tmp_path / "fidelity")
    benchmark(BenchmarkConfig("fidelity", device="cpu", train=False), tmp_path / "fidelity")
    for name in ("benchmark.csv", "benchmark.md"):  # byte for byte
        assert (tmp_path / "fidelity" / name).read_text() == (RESULTS / name).read_text(), (
            f"results/fidelity/{name} is not the table of its runs: rebuild it with "
            "`eamp benchmark --suite fidelity --out results/fidelity --report`")


@pytest.mark.parametrize("suite", list(SUITES))
def test_every_row_that_names_its_depth_trains_at_it(suite):
    """A row's label says how many layers its runs have: a case's ``settings`` (the residual
    SAGE on minesweeper at 5 layers, chosen by validation) must reach every run it plans."""
    import re

    named = 0
    for case in SUITES[suite]:
        match = re.search(r"(\d+) layers", case.name)
        if match is None:
            continue
        named += 1
        depths = {config.depth for config in case.configs(2, None, "cpu", "32")}
        assert depths == {int(match.group(1))}, (case.name, depths)
    assert named


def test_platonov_rows_take_their_depth_from_the_preset():
    """A residual row's depth has one home, its preset's per-dataset settings: the suite's
    row plans it and ``eamp train --preset`` gets it; the other datasets keep 3 layers."""
    from eamp.models.presets import _PLATONOV_DEPTHS

    rows = {(case.dataset, case.preset): case for case in SUITES["fidelity"]
            if case.preset.startswith("resgnn-")}
    for (conv, dataset), (depth, how) in _PLATONOV_DEPTHS.items():
        preset = f"resgnn-{conv}-platonov2023"
        assert get_preset(preset)[1].for_dataset(dataset)["depth"] == depth
        assert how in get_preset(preset)[1].source
        case = rows[(dataset, preset)]
        assert "depth" not in case.settings
        assert {c.depth for c in case.configs(2, None, "cpu", "32")} == {depth}
    assert get_preset("resgnn-sage-platonov2023")[1].for_dataset("minesweeper")["depth"] == 5
    assert get_preset("resgnn-sage-platonov2023")[1].for_dataset("tolokers")["depth"] == 3
    assert get_preset("resgnn-gat-platonov2023")[1].for_dataset("minesweeper")["depth"] == 5
    assert get_preset("resgnn-gat-platonov2023")[1].for_dataset("tolokers")["depth"] == 3
    assert rows[("minesweeper", "resgnn-sage-platonov2023")].configs(
        1, None, "cpu", "32")[0].depth == 5
    assert rows[("minesweeper", "resgnn-gcn-platonov2023")].configs(
        1, None, "cpu", "32")[0].depth == 3
