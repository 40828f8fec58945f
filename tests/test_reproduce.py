import csv
import json

import pytest

from eamp.experiments.reproduce import ReproduceConfig, reproduce
from eamp.training import read_result


def _median_energy(rows, model, layer):
    values = sorted(float(r["energy"]) for r in rows
                    if r["model"] == model and int(r["layer"]) == layer)
    return values[len(values) // 2]


@pytest.fixture(scope="module")
def quick_run(data_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce")
    # two single-thread workers: small runs gain more from processes than from threads
    reproduce(ReproduceConfig(quick=True, data_dir=str(data_root), workers=2), out)
    return out


def test_quick_reproduction_writes_every_artifact(quick_run):
    out = quick_run
    for name in ("oversmoothing.csv", "oversmoothing.png", "table1.csv", "layer_energy.csv",
                 "layer_energy.png", "report.md"):
        assert (out / name).stat().st_size > 0, name
    with open(out / "table1.csv") as handle:
        table = list(csv.DictReader(handle))
    assert {"protocol", "dataset", "model", "depth", "n_seeds", "test_acc_mean",
            "test_acc_std", "best_val_acc_mean", "paper_acc"} <= set(table[0])
    assert {r["protocol"] for r in table} == {"paper", "standard"}
    assert {r["dataset"] for r in table} == {"cora", "citeseer"}
    assert {r["model"] for r in table} == {"gcn", "entropic_gcn", "g2", "pairnorm_gcn", "gcnii"}
    runs = sorted((out / "runs").rglob("result.json"))
    assert len(runs) == 2 * 2 * 5 * 2  # protocols x datasets x models x depths
    for path in runs:
        read_result(path)
    report = (out / "report.md").read_text()
    for part in ("Figure 2", "Table 1", "Figure 3", "(oversmoothing.png)", "`paper`",
                 "`standard`", "Quick run"):
        assert part in report
    with open(out / "layer_energy.csv") as handle:
        energy = list(csv.DictReader(handle))
    assert {r["model"] for r in energy} == {"gcn", "entropic_gcn", "g2", "pairnorm_gcn",
                                            "gcnii"}
    assert max(int(r["layer"]) for r in energy) == 16


def test_the_report_is_rebuilt_byte_for_byte_from_the_stored_runs(quick_run, data_root,
                                                                  tmp_path):
    """``--report`` trains nothing and writes the same report.md and tables: they are a
    function of the stored runs (and of Figure 2's stored grid) alone."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(quick_run, copy)
    for name in ("report.md", "table1.csv", "layer_energy.csv"):
        (copy / name).unlink()
    stamps = sorted(p.stat().st_mtime_ns for p in copy.rglob("result.json"))
    reproduce(ReproduceConfig(quick=True, data_dir=str(data_root), train=False), copy)
    assert sorted(p.stat().st_mtime_ns for p in copy.rglob("result.json")) == stamps
    for name in ("report.md", "table1.csv", "layer_energy.csv"):
        assert (copy / name).read_text() == (quick_run / name).read_text(), name
    assert "from the 40 of 40 planned training runs" in (copy / "report.md").read_text()


def test_quick_report_says_what_it_ran_and_gives_verdicts(quick_run):
    report = (quick_run / "report.md").read_text()
    assert "30 epochs (the paper: 100; capped in this quick run)" in report
    assert "ours minus the paper's" not in report  # no gaps from a quick run
    assert report.count("**Verdict:** entropic GCN is above GCN in") == 2  # both protocols
    assert "swing between layers" in report
    assert "the same without the models that collapse" not in report  # that is in the PNG


def test_swing_measures_a_zig_zag():
    import numpy as np

    from eamp.experiments.writeup import _swing

    swing, flips = _swing(np.array([1.0, 4.0, 1.0, 4.0, 1.0]))
    assert swing == pytest.approx(4.0) and flips == 1.0
    swing, flips = _swing(np.array([1.0, 2.0, 4.0, 8.0]))
    assert swing == pytest.approx(2.0) and flips == 0.0


def test_grid_gcn_collapses_and_entropic_gcn_does_not(quick_run):
    with open(quick_run / "oversmoothing.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert max(int(r["layer"]) for r in rows) == 200
    gcn_first, gcn_last = _median_energy(rows, "gcn", 1), _median_energy(rows, "gcn", 200)
    assert gcn_last < 1e-3 * gcn_first
    ent_first = _median_energy(rows, "entropic_gcn", 1)
    ent_last = _median_energy(rows, "entropic_gcn", 200)
    assert ent_first / 100 <= ent_last <= ent_first * 100


def test_second_run_trains_nothing(quick_run, data_root, capsys):
    stamps = {p: p.stat().st_mtime_ns for p in (quick_run / "runs").rglob("result.json")}
    reproduce(ReproduceConfig(quick=True, data_dir=str(data_root)), quick_run)
    assert "0 runs trained" in capsys.readouterr().out
    assert stamps == {p: p.stat().st_mtime_ns for p in (quick_run / "runs").rglob("result.json")}


def test_stale_or_broken_results_are_retrained_never_reused(quick_run, data_root, capsys):
    runs = quick_run / "runs" / "standard" / "cora" / "gcn"
    shallow = runs / "depth4" / "seed0" / "result.json"
    deep = runs / "depth16" / "seed0" / "result.json"
    deep.write_text(shallow.read_text())  # a depth-4 result in the depth-16 slot
    payload = json.loads(shallow.read_text())
    payload["test_acc"] = "0.9"  # the right keys, a wrong type
    shallow.write_text(json.dumps(payload))
    other = quick_run / "runs" / "paper" / "cora" / "gcn" / "depth4" / "seed0" / "result.json"
    payload = json.loads(other.read_text())
    payload["config"]["hidden"] = 256  # made by a run of another width
    other.write_text(json.dumps(payload))
    grid = quick_run / "oversmoothing.csv"
    lines = grid.read_text().splitlines(keepends=True)
    grid.write_text("".join(lines[: len(lines) // 2]))  # cut short
    capsys.readouterr()
    reproduce(ReproduceConfig(quick=True, data_dir=str(data_root)), quick_run)
    out = capsys.readouterr().out
    assert "3 runs trained" in out
    assert "retraining standard cora gcn L=16 seed 0: its result.json was made with other " \
           "settings (depth 4 -> 16" in out
    assert "retraining standard cora gcn L=4 seed 0" in out and "test_acc is '0.9'" in out
    assert "hidden 256 -> 64" in out
    assert "recomputing oversmoothing.csv: the stored one is incomplete" in out
    assert read_result(deep)["depth"] == 16
    with open(grid) as handle:
        assert max(int(r["layer"]) for r in csv.DictReader(handle)) == 200


def test_missing_datasets_still_give_figure_2(tmp_path, monkeypatch):
    import torch_geometric.datasets.planetoid as planetoid

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(planetoid.fs, "cp", offline)
    out = tmp_path / "out"
    reproduce(ReproduceConfig(quick=True, data_dir=str(tmp_path / "empty")), out)
    report = (out / "report.md").read_text()
    assert (out / "oversmoothing.png").exists()
    assert "Skipped" in report and "cora" in report and "ind.cora.x" in report
    assert json.loads(json.dumps(report))  # plain text


def test_tuned_settings_make_a_third_protocol(tmp_path):
    from eamp.experiments.depth import plan_runs
    from eamp.experiments.reproduce import _read_tuned

    best = {"config": {"model": "gcn", "dataset": "cora", "lr": 0.02, "dropout": 0.1,
                       "model_options": {}}, "value": 0.8}
    (tmp_path / "gcn").mkdir()
    (tmp_path / "gcn" / "best.json").write_text(json.dumps(best))
    tuned = _read_tuned(tmp_path)
    runs = plan_runs(datasets=("cora",), models=("gcn", "g2"), depths=(4,),
                     protocols=("standard", "tuned"), seeds=2, hidden=16, epochs=None,
                     data_dir=None, tuned=tuned)
    tuned_runs = [r for r in runs if r.protocol == "tuned"]
    assert [(r.config.model, r.config.lr, r.config.dropout) for r in tuned_runs] == [
        ("gcn", 0.02, 0.1), ("gcn", 0.02, 0.1)]
    assert len(runs) == 2 * 2 + 2
    with pytest.raises(ValueError, match="no best.json"):
        _read_tuned(tmp_path / "gcn" / "nothing")


def test_paper_protocol_settings():
    from eamp.experiments.depth import plan_runs

    runs = plan_runs(datasets=("citeseer",), models=("entropic_gcn",), depths=(4, 8),
                     protocols=("paper",), seeds=10, hidden=256, epochs=None, data_dir=None)
    assert len(runs) == 2  # one seed under the paper protocol
    config = runs[0].config
    assert (config.epochs, config.lr, config.weight_decay, config.dropout) == (100, 1e-3, 0.0,
                                                                               0.0)
    assert config.model_options == {"entropy_weight": 10.0, "temperature": 1.0}


def test_oversmoothing_command(tmp_path):
    from eamp.cli import main

    assert main(["oversmoothing", "--out", str(tmp_path), "--layers", "30", "--seeds", "2",
                 "--models", "gcn", "entropic_gcn", "grand", "--energy", "survey"]) == 0
    with open(tmp_path / "oversmoothing.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["model", "seed", "layer", "energy"]
    assert len(rows) == 3 * 2 * 31
    assert (tmp_path / "oversmoothing.png").stat().st_size > 10_000


def test_a_long_run_in_the_pool_says_how_far_it_is(tmp_path, monkeypatch, capsys):
    from eamp.runs import store as module
    from eamp.runs.store import RunSpec
    from eamp.training import TrainConfig

    config = TrainConfig(model="gcn", dataset="grid", depth=2, hidden=8, epochs=3, patience=3)
    # force: trained both times
    job = (RunSpec("standard", config), str(tmp_path / "result.json"), True)
    module._train_one(job)  # a run shorter than HEARTBEAT_S says nothing until it ends
    assert capsys.readouterr().out == ""
    monkeypatch.setattr(module, "HEARTBEAT_S", 0.0)
    module._train_one(job)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines] == [
        f"  standard grid gcn L=2 seed 0: epoch {k}/3" for k in (1, 2, 3)]


def test_the_committed_reproduction_is_the_report_of_its_runs(data_root, tmp_path):
    """``results/reproduce`` (committed: the paper protocol, Figure 2 at 1000 layers): its
    report and tables are what ``eamp reproduce --protocol paper --report`` rebuilds from its
    stored runs, byte for byte."""
    import shutil
    from pathlib import Path

    committed = Path(__file__).resolve().parent.parent / "results" / "reproduce"
    assert sorted(committed.rglob("result.json")), f"no committed runs under {committed}"
    copy = tmp_path / "reproduce"
    shutil.copytree(committed, copy)
    reproduce(ReproduceConfig(protocol="paper", data_dir=str(data_root), train=False), copy)
    for name in ("report.md", "table1.csv", "layer_energy.csv"):
        assert (copy / name).read_text() == (committed / name).read_text(), (
            f"results/reproduce/{name} is not the report of its runs: rebuild it with "
            "`eamp reproduce --protocol paper --out results/reproduce --report`")
