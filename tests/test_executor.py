"""Runs through submitit's local executor: real subprocesses, a job killed
mid-run, the sweep completed by a second invocation with nothing trained twice."""

import os
import signal
import threading
import time

import pytest

from eamp.errors import Incomplete
from eamp.runs.executor import ExecutorConfig
from eamp.runs.store import RunSpec, run_all
from eamp.training import TrainConfig, read_result


def _job_processes(folder) -> list[int]:
    """PIDs of submitit's job processes whose job folder is under ``folder``."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                args = handle.read().decode(errors="replace").replace("\0", " ")
        except OSError:
            continue
        if "submitit.core._submit" in args and str(folder) in args:
            pids.append(int(entry))
    return pids


def test_a_killed_job_is_retrained_by_the_next_invocation_and_nothing_twice(tmp_path):
    pytest.importorskip("submitit")
    long = TrainConfig("gcn", "csbm", 2, hidden=8, epochs=100_000, patience=100_000, seed=5)
    runs = [RunSpec("executor", TrainConfig("gcn", "csbm", 2, hidden=8, epochs=3, seed=s))
            for s in range(2)] + [RunSpec("executor", long)]
    executor = ExecutorConfig("local", timeout_min=10)
    errors: list[BaseException] = []

    def first() -> None:
        try:
            run_all(runs, tmp_path, workers=3, force=False, executor=executor)
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            errors.append(error)

    thread = threading.Thread(target=first)
    thread.start()
    # wait for the two short runs, then kill the long one's job process
    deadline = time.time() + 240
    while time.time() < deadline and not all((tmp_path / r.relpath).exists()
                                             for r in runs[:2]):
        time.sleep(0.5)
    pids = _job_processes(tmp_path / "jobs")
    assert pids, "no job process found"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    thread.join(timeout=120)
    assert not thread.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], Incomplete)
    assert "1 of 3 runs failed" in str(errors[0])
    assert not (tmp_path / runs[2].relpath).exists()
    stamps = [(tmp_path / r.relpath).stat().st_mtime_ns for r in runs[:2]]

    # the same sweep again, with the long run made short: only it is trained
    runs[2] = RunSpec("executor", TrainConfig("gcn", "csbm", 2, hidden=8, epochs=3, seed=5))
    assert run_all(runs, tmp_path, workers=2, force=False, executor=executor).trained == 1
    assert [(tmp_path / r.relpath).stat().st_mtime_ns for r in runs[:2]] == stamps
    for run in runs:
        assert read_result(tmp_path / run.relpath)["config"]["epochs"] == 3


def test_executor_settings_are_checked():
    with pytest.raises(ValueError, match="executor: expected one of pool, local, slurm"):
        ExecutorConfig("sge")
    with pytest.raises(ValueError, match="apply to --executor slurm"):
        ExecutorConfig("local", slurm={"partition": "gpu"})


def test_tuning_trials_run_as_jobs_on_one_shared_study(tmp_path):
    pytest.importorskip("submitit")
    import optuna

    from eamp.runs.tune import TuneConfig, tune

    base = TrainConfig("gcn", "csbm", 2, hidden=8, epochs=3, patience=3)
    config = TuneConfig(base=base, trials=3, workers=2, study="jobs",
                        storage=f"journal:{tmp_path / 'study.log'}")
    best = tune(config, tmp_path, ExecutorConfig("local", timeout_min=10))
    assert best.exists() and (tmp_path / "tuning.png").exists()
    study = optuna.load_study(study_name="jobs", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp_path / "study.log"))))
    trials = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,
                                      optuna.trial.TrialState.PRUNED))
    assert len(trials) == 3
    # two jobs (2 trials and 1), neither of them this process
    pids = {t.user_attrs["pid"] for t in trials}
    assert len(pids) == 2 and os.getpid() not in pids
    assert len({t.user_attrs["run"] for t in trials}) == 2
    # SLURM jobs on other machines cannot share a SQLite file: refused before submitting
    with pytest.raises(ValueError, match="cannot share the SQLite file"):
        tune(TuneConfig(base=base, trials=1), tmp_path / "sqlite", ExecutorConfig("slurm"))
    assert not (tmp_path / "sqlite").exists()


def test_eamp_tune_on_slurm_refuses_a_sqlite_study_in_one_line(tmp_path, capsys):
    from eamp.cli import main

    out = tmp_path / "tune"
    argv = ["tune", "--model", "gcn", "--dataset", "csbm", "--depth", "2", "--trials", "2",
            "--out", str(out), "--executor", "slurm", "--workers", "2"]
    assert main(argv) == 2
    assert "storage: SLURM jobs on other machines cannot share" in capsys.readouterr().err
    assert not out.exists()
