"""The entropy study: paired intervals, the quick suite end to end, resumption."""

import csv
import math

import pytest
from scipy import stats

from eamp.cli import main
from eamp.experiments.benchmark import BenchmarkConfig
from eamp.experiments.report import signed
from eamp.experiments.study import STUDY_SUITES
from eamp.experiments.study_report import paired_interval
from eamp.experiments.suite import PlanRow
from eamp.models.registry import entropic_version


def test_paired_interval_is_scipys_paired_t_interval():
    a = [80.1, 79.5, 81.2, 78.8, 80.0]
    b = [81.0, 80.9, 81.1, 80.2, 80.4]
    mean, low, high = paired_interval(a, b)
    result = stats.ttest_rel(b, a)
    ci = result.confidence_interval(0.95)
    assert mean == pytest.approx(sum(y - x for x, y in zip(a, b, strict=True)) / 5)
    assert (low, high) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert math.isnan(paired_interval([1.0], [2.0])[1])


@pytest.mark.parametrize(("value", "text"), [(-1e-12, "+0.00"), (-0.004, "+0.00"),
                                             (-0.005, "-0.01"), (0.0, "+0.00"),
                                             (2.345, "+2.35"), (-3.78, "-3.78")])
def test_a_signed_difference_that_rounds_to_zero_is_plus_zero(value, text):
    """Two models equal on every split differ by a float's rounding error: ``+0.00``."""
    assert signed(value) == text


def test_every_study_backbone_has_an_entropic_version():
    for suite in STUDY_SUITES.values():
        for cell in suite.cells:
            assert entropic_version(cell.backbone).startswith("entropic_")
    with pytest.raises(ValueError, match="no entropic version"):
        entropic_version("pairnorm_gcn")


def test_entropy_quick_tunes_runs_reports_and_resumes(data_root, tmp_path, capsys,
                                                      monkeypatch):
    from dataclasses import replace

    from eamp.experiments import study
    from eamp.training import read_result

    argv = ["benchmark", "--suite", "entropy-quick", "--out", str(tmp_path), "--data-dir",
            str(data_root)]
    # before anything ran: 2 trials of each model; 2 runs of GCN, 2 of entropic GCN, up to 2
    # of each open proposal and 2 of the entropic GCN with lambda = 0
    config = BenchmarkConfig("entropy-quick", data_dir=str(data_root))
    assert study.plan_study(config, tmp_path) == [
        PlanRow("cora L3 gcn", "gcn", 0, 2, 0, 2, 0.0, 0.0),
        PlanRow("cora L3 gcn", "entropic_gcn", 0, 2, 0, 8, 0.0, 0.0)]
    assert main([*argv, "--plan"]) == 0
    plan = capsys.readouterr().out
    assert "4 tuning trials, 10 runs" in plan
    assert "compute: nothing timed yet" in plan
    assert not (tmp_path / "tune").exists()  # planning trains and tunes nothing
    assert main(argv) == 0
    # each run trained once (the proposals' pairs repeat the tuned entropic runs)
    import re

    trained = re.search(r"(\d+) runs, 0 already done", capsys.readouterr().out)
    stored = [p for p in tmp_path.rglob("result.json") if "study-entropy-quick" in str(p)]
    assert trained is not None and int(trained.group(1)) == len(stored) >= 4
    with open(tmp_path / "study.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["variant"] == "tuned" and rows[0]["n"] == "2"
    assert rows[0]["verdict"] in ("helps", "hurts", "no difference")
    # predicting one class for every node: Neural_Networks, 319 of Cora's 1000 test nodes
    assert float(rows[0]["chance"]) == pytest.approx(31.9)
    # the ablation: the tuned entropic runs on the right, the same model with lambda = 0 left
    off = next(r for r in rows if r["variant"] == study.ENTROPY_OFF)
    assert off["entropic_mean"] == rows[0]["entropic_mean"] and off["n"] == "2"
    zero = [read_result(p) for p in tmp_path.rglob("result.json") if "-no-entropy/" in str(p)]
    assert len(zero) == 2
    assert all(r["config"]["model_options"]["entropy_weight"] == 0.0 for r in zero)
    report = (tmp_path / "report.md").read_text()
    assert "not a result" in report and "In plain words" in report
    assert "points above predicting one class for every node" in report
    assert (tmp_path / "depth_cora.png").exists()
    assert (tmp_path / "layers_cora_L3_gcn.png").exists()
    with open(tmp_path / "layers.csv") as handle:
        layers = list(csv.DictReader(handle))
    # input and 3 layers of both models, each the mean over the 2 paired runs' result.json
    assert [(r["model"], r["layer"]) for r in layers] == [
        (m, str(k)) for m in ("gcn", "entropic_gcn") for k in range(4)]
    runs = [read_result(p) for p in sorted(tmp_path.rglob("result.json"))
            if "/gcn/" in str(p) and "study-entropy-quick/" in str(p)]
    assert len(runs) == 2
    assert float(layers[3]["mad"]) == pytest.approx(
        sum(r["layer_mad"][3] for r in runs) / 2)
    # the tuned row's compute: both studies' trial durations, its paired runs' wall times
    import optuna

    trials = [t for m in ("gcn", "entropic_gcn") for t in optuna.load_study(
        study_name=f"{m}-cora-L3",
        storage=f"sqlite:///{tmp_path / 'tune' / 'cora-L3' / m / 'study.db'}").trials]
    assert len(trials) == 4 and all(t.state.name in ("COMPLETE", "PRUNED") for t in trials)
    assert float(rows[0]["tune_min"]) == pytest.approx(
        sum(t.duration.total_seconds() for t in trials) / 60)
    paired = [read_result(p) for p in sorted(tmp_path.rglob("result.json"))
              if "study-entropy-quick/" in str(p)]
    assert len(paired) == 4 and all(r["wall_time_s"] > 0 for r in paired)
    assert float(rows[0]["runs_min"]) == pytest.approx(
        sum(r["wall_time_s"] for r in paired) / 60)
    assert "Compute stored in this folder" in report
    plan = study.plan_study(BenchmarkConfig("entropy-quick", data_dir=str(data_root)), tmp_path)
    stored = [p for p in tmp_path.rglob("result.json") if "study-entropy-quick" in str(p)]
    assert [(r.trials_done, r.runs_done == r.runs_planned) for r in plan] == [
        (2, True), (2, True)]
    assert sum(r.runs_planned for r in plan) == len(stored)
    # and each model's compute: its trials' and its stored runs' own times
    assert plan[0].runs_min == pytest.approx(
        sum(read_result(p)["wall_time_s"] for p in stored if "/gcn/" in str(p)) / 60)
    assert all(row.tune_min > 0 for row in plan)
    assert main([*argv, "--plan"]) == 0
    assert "about 0.0 min left" in capsys.readouterr().out
    results = sorted(tmp_path.rglob("result.json"))
    stamps = [p.stat().st_mtime_ns for p in results]
    capsys.readouterr()
    assert main(argv) == 0  # studies hold their trials, runs are stored: nothing redone
    assert [p.stat().st_mtime_ns for p in sorted(tmp_path.rglob("result.json"))] == stamps
    assert main([*argv, "--cases", "nope"]) == 2

    # a cell left out by --cases keeps its stored runs in the rebuilt report (it used to be
    # listed as not run: only the selected cells were read back)
    first = {(r["depth"], r["variant"]): r for r in rows}
    quick = STUDY_SUITES["entropy-quick"]
    two = replace(quick, cells=(*quick.cells, study.StudyCell("cora", 2, "gcn")), trials=1)
    monkeypatch.setitem(study.STUDY_SUITES, "entropy-quick", two)
    (tmp_path / "study.csv").unlink()
    assert main([*argv, "--report"]) == 0  # from the store: the new cell is neither tuned
    assert not (tmp_path / "tune" / "cora-L2").exists()  # nor run, the rest read back
    with open(tmp_path / "study.csv") as handle:
        reported = {(r["depth"], r["variant"]): r for r in csv.DictReader(handle)}
    assert all(reported[key] == row for key, row in first.items())
    assert reported[("2", "tuned")]["n"] == "0"
    assert "Not run in this output folder" in (tmp_path / "report.md").read_text()
    assert main([*argv, "--cases", "cora L2 gcn"]) == 0
    with open(tmp_path / "study.csv") as handle:
        again = {(r["depth"], r["variant"]): r for r in csv.DictReader(handle)}
    assert again[("2", "tuned")]["n"] == "2"
    for key, row in first.items():  # the L3 cell and its proposal rows, read back unchanged
        assert again[key] == row
    assert "Not run in this output folder" not in (tmp_path / "report.md").read_text()


def test_plan_estimates_what_is_left_at_each_rows_own_rate():
    def _minutes_left(row):
        return row.minutes_left()

    def row(trials, planned, runs, runs_planned, tune_min, runs_min):
        return PlanRow("cell", "model", trials, planned, runs, runs_planned, tune_min,
                       runs_min)

    # 2 min a trial: 15 trials left, and 10 runs counted at the trial rate until one is done
    assert _minutes_left(row(5, 20, 0, 10, 10.0, 0.0)) == 15 * 2 + 10 * 2
    # a run done sets the runs' own rate (3 min)
    assert _minutes_left(row(20, 20, 1, 10, 40.0, 3.0)) == 9 * 3
    # a preset's untuned model: runs only
    assert _minutes_left(row(0, 0, 2, 10, 0.0, 4.0)) == 8 * 2
    assert _minutes_left(row(20, 20, 10, 10, 40.0, 30.0)) == 0
    assert _minutes_left(row(0, 20, 0, 10, 0.0, 0.0)) is None  # nothing timed yet
    assert _minutes_left(row(0, 0, 0, 10, 0.0, 0.0)) is None


def test_a_preset_suite_runs_the_backbone_as_published_and_tunes_only_the_entropy(
        data_root, tmp_path):
    import optuna

    from eamp.experiments.study import entropy_parameters
    from eamp.models.registry import get_preset
    from eamp.training import read_result

    argv = ["benchmark", "--suite", "entropy-quick-preset", "--out", str(tmp_path),
            "--data-dir", str(data_root)]
    assert main(argv) == 0
    searched = entropy_parameters("gcnii")
    assert "entropy_weight" in searched and "alpha" not in searched and "lr" not in searched
    folder = tmp_path / "tune" / "cora-L3"
    assert [p.name for p in folder.iterdir()] == ["entropic_gcnii-gcnii-chen2020"]  # GCNII: none
    study = optuna.load_study(study_name="entropic_gcnii-gcnii-chen2020-cora-L3",
                              storage=f"sqlite:///{folder / 'entropic_gcnii-gcnii-chen2020'}"
                                      "/study.db")
    assert all(set(t.params) <= set(searched) for t in study.trials)
    published = get_preset("gcnii-chen2020")[1].for_dataset("cora")
    results = [read_result(p) for p in sorted(tmp_path.rglob("result.json"))]
    assert sorted(r["model"] for r in results) == ["entropic_gcnii"] * 2 + ["gcnii"] * 2
    for result in results:  # both models train with the preset's settings
        config = result["config"]
        assert config["preset"] == "gcnii-chen2020" and config["depth"] == 3
        for key in ("lr", "weight_decay", "dropout", "hidden", "select"):
            assert config[key] == published[key]
        assert config["model_options"]["alpha"] == published["model_options"]["alpha"]
    with open(tmp_path / "study.csv") as handle:
        assert next(csv.DictReader(handle))["n"] == "2"
    assert "with preset `gcnii-chen2020` as published" in (tmp_path / "report.md").read_text()


def test_run_minutes_reads_wall_time_or_estimates_it_for_older_results(tmp_path):
    import json
    from pathlib import Path
    from types import SimpleNamespace

    from eamp.runs.store import run_minutes

    base = {"model": "gcn", "dataset": "cora", "depth": 2, "seed": 0, "config": {},
            "best_val_acc": 0.5, "test_acc": 0.5, "layer_energy": [1.0],
            "epoch_time_s": 0.5, "splits": [{"epochs_run": 30}, {"epochs_run": 10}]}
    for name, extra in (("new", {"wall_time_s": 90.0}), ("old", {})):
        (tmp_path / name).mkdir()
        (tmp_path / name / "result.json").write_text(json.dumps({**base, **extra}))
    specs = [SimpleNamespace(relpath=Path(name, "result.json")) for name in ("new", "old")]
    # 90 s stored; 0.5 s x (30 + 10) epochs estimated for the result without it
    assert run_minutes(tmp_path, specs) == pytest.approx((90.0 + 20.0) / 60)


def test_tuning_minutes_count_finished_and_pruned_trials_not_failed_ones(tmp_path):
    from datetime import datetime, timedelta

    import optuna
    from optuna.trial import TrialState, create_trial

    from eamp.experiments.study import _study_folder, _study_name, _study_url, _tuning_minutes

    suite = STUDY_SUITES["entropy-quick"]
    cell = suite.cells[0]
    folder = _study_folder(cell, "gcn", suite, tmp_path)
    folder.mkdir(parents=True)
    study = optuna.create_study(study_name=_study_name(cell, folder),
                                storage=_study_url(folder))
    start = datetime(2026, 1, 1)
    for state, minutes in ((TrialState.COMPLETE, 3), (TrialState.PRUNED, 2),
                           (TrialState.FAIL, 50)):  # a killed trial, marked failed later
        trial = create_trial(state=state, value=0.5 if state != TrialState.FAIL else None)
        trial.datetime_start, trial.datetime_complete = start, start + timedelta(minutes=minutes)
        study.add_trial(trial)
    assert _tuning_minutes(cell, ("gcn", "entropic_gcn"), suite, tmp_path) == pytest.approx(5)


def test_a_study_keeps_its_storage_and_slurm_starts_a_journal(tmp_path):
    from eamp.experiments.study import _study_url

    assert _study_url(tmp_path) == f"sqlite:///{(tmp_path / 'study.db').resolve()}"
    assert _study_url(tmp_path, journal=True) == f"journal:{(tmp_path / 'study.log').resolve()}"
    (tmp_path / "study.db").touch()  # a study begun locally continues in its file
    assert _study_url(tmp_path, journal=True).startswith("sqlite:///")
    (tmp_path / "study.db").unlink()
    (tmp_path / "study.log").touch()  # and one begun on SLURM in its journal
    assert _study_url(tmp_path).startswith("journal:")


def test_with_slurm_a_cells_tuning_goes_to_jobs_on_a_journal(data_root, tmp_path,
                                                               monkeypatch):
    """The wiring only (no SLURM here): each study is handed to ``tune`` with a journal file
    and the SLURM executor; the stand-in runs it in this process, and the runs go to the
    local pool."""
    from eamp.experiments import study
    from eamp.runs.executor import ExecutorConfig

    handed = []
    real_tune, real_run_all = study.tune, study.run_all

    def fake_tune(config, folder, executor):
        handed.append((config.storage, executor.kind, config.trials))
        return real_tune(config, folder)

    monkeypatch.setattr(study, "tune", fake_tune)
    monkeypatch.setattr(study, "run_all", lambda runs, out, **kw: real_run_all(
        runs, out, **{**kw, "executor": None}))
    study.run_study(BenchmarkConfig("entropy-quick", data_dir=str(data_root),
                                    executor=ExecutorConfig("slurm")), tmp_path)
    folder = tmp_path / "tune" / "cora-L3"
    assert handed == [(f"journal:{(folder / m / 'study.log').resolve()}", "slurm", 2)
                      for m in ("gcn", "entropic_gcn")]
    assert not list(folder.rglob("study.db"))
    plan = study.plan_study(BenchmarkConfig("entropy-quick", data_dir=str(data_root)), tmp_path)
    assert [r.trials_done for r in plan] == [2, 2]  # read back from the journals


def test_each_proposal_is_the_tuned_model_with_and_without_it():
    from eamp.experiments.study import _variants
    from eamp.experiments.study_report import ENTROPY_OFF
    from eamp.training import TrainConfig

    suite = STUDY_SUITES["entropy-quick"]
    cell = suite.cells[0]
    options = {"entropy_weight": 0.5, "temperature": 1.0, "detach": False,
               "schedule": "constant"}  # the search chose the gradient through the step
    tuned = {"gcn": TrainConfig("gcn", "cora", 3).as_dict(),
             "entropic_gcn": TrainConfig("entropic_gcn", "cora", 3,
                                         model_options=options).as_dict()}
    variants = _variants(cell, "entropic_gcn", tuned, suite, 2, "study")
    assert [v for v, _, _ in variants] == [
        "tuned", "adaptive lambda (against tuned entropic)",
        "gradient through the step (tuned entropic, against it without)", ENTROPY_OFF]
    tuned_runs = variants[0][2]

    def options_of(runs):
        return [(r.config.model_options["schedule"], r.config.model_options["detach"])
                for r in runs]

    # adaptive: tuned on the left, tuned with the adaptive schedule on the right
    assert variants[1][1] == tuned_runs
    assert options_of(variants[1][2]) == [("adaptive", False)] * 2
    # through: the tuned model has it, so the left is the same model detached
    assert variants[2][2] == tuned_runs
    assert options_of(variants[2][1]) == [("constant", True)] * 2
    assert [r.config.seed for r in variants[2][1]] == [0, 1]  # paired by seed
    # the ablation: the tuned model against itself with lambda = 0, all else the same
    assert variants[3][2] == tuned_runs
    for off, on in zip(variants[3][1], tuned_runs, strict=True):
        assert off.config.model_options == {**on.config.model_options, "entropy_weight": 0.0}
        assert off.config.seed == on.config.seed and off.config.lr == on.config.lr


def test_report_names_the_cells_whose_base_model_collapsed_to_one_class():
    from eamp.experiments.study import STUDY_SUITES
    from eamp.experiments.study_report import COLLAPSED
    from eamp.experiments.study_report import report_text as _report

    def row(dataset, base, chance):
        return {"dataset": dataset, "depth": 64, "backbone": "gcn", "variant": "tuned",
                "metric": "accuracy", "n": 10, "base_mean": base, "base_std": 1.0,
                "entropic_mean": base + 4, "entropic_std": 2.0, "difference": 4.0,
                "ci_low": 1.0, "ci_high": 7.0, "verdict": "helps", "base_energy": 0.1,
                "entropic_energy": 1.0, "base_mad": 0.1, "entropic_mad": 0.5, "base_erank": 2.0,
                "entropic_erank": 1.5, "tune_min": 1.0, "runs_min": 1.0, "chance": chance}

    report = _report("entropy-core", STUDY_SUITES["entropy-core"],
                     [row("cora", 31.9 + COLLAPSED, 31.9), row("citeseer", 25.2, 23.1)])
    line = next(x for x in report.splitlines() if x.startswith("- The base model scores"))
    # at the bound counts as collapsed; 2.1 points above it does not
    assert "cora L64 gcn (base 33.90, entropic 37.90, one class 31.90)" in line
    assert "citeseer" not in line
    assert "| 33.90 ± 1.00 | 37.90 ± 2.00 | 31.90 | +4.00 [1.00, 7.00] | helps |" in report
    assert "`eamp benchmark --suite entropy-core --out <this folder> --report`" in report


def test_the_report_reads_the_store_after_this_invocation_tuned_and_ran(tmp_path, monkeypatch):
    # a long invocation reports the cells another one finished meanwhile: every cell is
    # read back from the store only after the selected ones were tuned and run
    from dataclasses import replace

    from eamp.experiments import study

    quick = STUDY_SUITES["entropy-quick"]
    two = replace(quick, cells=(study.StudyCell("cora", 2, "gcn"), *quick.cells))
    monkeypatch.setitem(study.STUDY_SUITES, "entropy-quick", two)
    calls = []
    monkeypatch.setattr(study, "_tuned", lambda cell, model, *a: calls.append(
        ("tune", cell.depth)) or {"model": model})
    monkeypatch.setattr(study, "_stored", lambda cell, *a: calls.append(("read", cell.depth)))
    monkeypatch.setattr(study, "_variants", lambda *a: [])
    monkeypatch.setattr(study, "run_all", lambda *a, **k: calls.append(("run", None)))
    study.run_study(BenchmarkConfig("entropy-quick", cases=("cora L3 gcn",)), tmp_path)
    assert calls == [("tune", 3), ("tune", 3), ("run", None), ("read", 2)]


# the study suites whose runs are committed under results/<suite>
COMMITTED_STUDIES = ("entropy-core", "entropy-gcnii-paper")


@pytest.mark.parametrize("suite", COMMITTED_STUDIES)
def test_the_committed_study_is_the_report_of_its_runs(suite, data_root, tmp_path):
    """``results/<suite>`` (committed: the cells measured so far): its report and tables are
    what ``eamp benchmark --suite <suite> --report`` rebuilds from the committed studies and
    runs, byte for byte. Only tracked files are copied: a working tree may hold cells still
    training."""
    import shutil
    import subprocess
    from pathlib import Path

    from eamp.experiments.study import run_study

    root = Path(__file__).resolve().parent.parent
    committed = root / "results" / suite
    tracked = subprocess.run(["git", "-C", str(root), "ls-files", f"results/{suite}"],
                             capture_output=True, text=True, check=False).stdout.split()
    files = ([root / f for f in tracked] if tracked
             else [p for p in committed.rglob("*") if p.is_file()])
    assert any(f.name == "result.json" for f in files), f"no committed runs in {committed}"
    copy = tmp_path / suite
    for f in files:
        relative = f.relative_to(committed)
        if relative.parts[0] in ("runs", "tune"):
            (copy / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, copy / relative)
    run_study(BenchmarkConfig(suite, data_dir=str(data_root), train=False), copy)
    for name in ("report.md", "study.csv", "layers.csv"):
        assert (copy / name).read_text() == (committed / name).read_text(), (
            f"results/{suite}/{name} is not the report of its runs: rebuild it with "
            f"`eamp benchmark --suite {suite} --out results/{suite} --report`")
