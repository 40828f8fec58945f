import csv
import json

import pytest

from eamp.experiments.reproduce import ReproduceConfig, reproduce
from eamp.train import read_result


def _median_energy(rows, model, layer):
    values = sorted(float(r["energy"]) for r in rows
                    if r["model"] == model and int(r["layer"]) == layer)
    return values[len(values) // 2]


@pytest.fixture(scope="module")
def quick_run(data_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce")
    reproduce(ReproduceConfig(quick=True, data_dir=str(data_root)), out)
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
