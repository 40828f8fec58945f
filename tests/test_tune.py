import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
from optuna.trial import TrialState

from eamp.models import MODELS, build_model, model_names
from eamp.runs.storage import make_storage
from eamp.runs.tune import TuneConfig, suggest, tune
from eamp.training import TrainConfig

BASE = TrainConfig("gcn", "csbm", 2, hidden=8, epochs=4, patience=4)


def _study(url: str, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=make_storage(url))


def test_every_search_space_builds_its_model():
    assert all(MODELS[m].search_space for m in model_names())  # every model has a space
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for model in model_names():
        for _ in range(5):
            trial = study.ask()
            training, options = suggest(trial, model)
            # width 8: resgnn's GAT splits it over 8 heads
            TrainConfig(model, "csbm", 3, hidden=8, model_options=options, **training)
            build_model(model, 4, 8, 3, 2, dropout=training["dropout"], **options)
            study.tell(trial, 0.0)


def test_two_workers_share_one_sqlite_study_and_a_rerun_continues(tmp_path):
    config = TuneConfig(base=BASE, trials=4, workers=2)
    best = tune(config, tmp_path)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    trials = _study(url, "gcn-csbm-L2").get_trials()
    assert len(trials) == 4
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    assert best.exists() and (tmp_path / "tuning.png").exists()
    tune(TuneConfig(base=BASE, trials=2), tmp_path)
    assert len(_study(url, "gcn-csbm-L2").get_trials()) == 6


def test_best_json_feeds_train_config(tmp_path):
    import json

    from eamp.cli import main

    tune(TuneConfig(base=BASE, trials=2), tmp_path)
    payload = json.loads((tmp_path / "best.json").read_text())
    assert payload["config"]["model"] == "gcn" and "test_score" in payload
    assert main(["train", "--config", str(tmp_path / "best.json"), "--out",
                 str(tmp_path / "run")]) == 0
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["config"]["lr"] == payload["config"]["lr"]


TINY = ["--model", "gcn", "--dataset", "csbm", "--depth", "2", "--hidden", "8"]
SLOW = [*TINY, "--epochs", "400", "--patience", "400"]  # trials of a few seconds
ENDLESS = [*TINY, "--epochs", "100000", "--patience", "100000"]  # trials that never end


def test_a_killed_worker_leaves_a_failed_trial_and_the_study_goes_on(tmp_path):
    journal = f"journal:{tmp_path / 'study.journal'}"
    worker = subprocess.Popen(
        [sys.executable, "-m", "eamp.cli", "tune", *ENDLESS, "--trials", "1", "--out",
         str(tmp_path), "--storage", journal, "--study", "s"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                running = _study(journal, "s").get_trials(states=(TrialState.RUNNING,))
            except KeyError:
                running = []
            if running and "pid" in running[0].user_attrs:
                break
            time.sleep(0.5)
        else:
            pytest.fail("the worker never started a trial")
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
    fast = TrainConfig("gcn", "csbm", 2, hidden=8, epochs=3, patience=3)
    tune(TuneConfig(base=fast, trials=2, storage=journal, study="s"), tmp_path)
    states = [t.state for t in _study(journal, "s").get_trials()]
    assert states.count(TrialState.FAIL) == 1
    assert states.count(TrialState.RUNNING) == 0
    assert len(states) == 3


def _tune_process(tmp_path, url, trials, workers, *extra, training=SLOW):
    return subprocess.Popen(
        [sys.executable, "-m", "eamp.cli", "tune", *training, "--trials", str(trials),
         "--workers", str(workers), "--out", str(tmp_path), "--storage", url, "--study", "s",
         *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"})


def _running_pids(url, count, deadline=120):
    end = time.time() + deadline
    while time.time() < end:
        try:
            running = _study(url, "s").get_trials(states=(TrialState.RUNNING,))
        except KeyError:
            running = []
        pids = [t.user_attrs["pid"] for t in running if "pid" in t.user_attrs]
        if len(pids) >= count:
            return pids
        time.sleep(0.2)
    pytest.fail(f"fewer than {count} trials started")


def _storage(tmp_path, kind):
    return (f"sqlite:///{tmp_path / 'study.db'}" if kind == "sqlite"
            else f"journal:{tmp_path / 'study.journal'}")


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_a_killed_worker_is_replaced_and_trials_means_finished_trials(tmp_path, kind):
    url = _storage(tmp_path, kind)
    command = _tune_process(tmp_path, url, 3, 2)
    (victim, *_) = _running_pids(url, 1)
    os.kill(victim, signal.SIGKILL)
    _, err = command.communicate(timeout=300)
    assert command.returncode == 0, err
    states = [t.state for t in _study(url, "s").get_trials()]
    assert states.count(TrialState.FAIL) == 1  # the killed one
    assert states.count(TrialState.RUNNING) == 0
    assert states.count(TrialState.COMPLETE) + states.count(TrialState.PRUNED) == 3
    assert (tmp_path / "best.json").exists()


def test_workers_die_with_their_parent_and_a_rerun_cleans_up(tmp_path):
    url = _storage(tmp_path, "journal")
    # trials that cannot end in the second a worker takes to notice its parent is gone: one
    # that did end might start the next trial and die before recording its process id
    command = _tune_process(tmp_path, url, 4, 2, training=ENDLESS)
    pids = _running_pids(url, 2)
    os.kill(command.pid, signal.SIGKILL)
    command.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive_pid(p) for p in pids):
        time.sleep(0.2)
    assert not any(_alive_pid(p) for p in pids), "workers outlived their parent"
    fast = TrainConfig("gcn", "csbm", 2, hidden=8, epochs=3, patience=3)
    tune(TuneConfig(base=fast, trials=1, storage=url, study="s"), tmp_path)
    states = [t.state for t in _study(url, "s").get_trials()]
    assert states.count(TrialState.RUNNING) == 0 and states.count(TrialState.FAIL) == 2
    assert (tmp_path / "best.json").exists()


def test_a_rerun_within_the_grace_period_fails_the_killed_trial(tmp_path):
    url = _storage(tmp_path, "sqlite")
    command = _tune_process(tmp_path, url, 1, 1)
    _running_pids(url, 1)
    os.kill(command.pid, signal.SIGKILL)  # the only worker: the command itself
    command.wait()
    fast = TrainConfig("gcn", "csbm", 2, hidden=8, epochs=3, patience=3)
    tune(TuneConfig(base=fast, trials=1, storage=url, study="s"), tmp_path)
    states = [t.state for t in _study(url, "s").get_trials()]
    assert states == [TrialState.FAIL, TrialState.COMPLETE]


def _alive_pid(pid):
    from eamp.runtime import alive

    return alive(pid)


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_an_orphan_failed_by_someone_else_first_is_skipped(tmp_path, kind, monkeypatch):
    """The parent, a worker and the heartbeat may all see the same dead worker's trial as
    running; whoever fails it second must not crash (CI saw "Cannot tell a FAIL trial")."""
    import socket

    from eamp.runs.tune import _fail_orphans

    url = _storage(tmp_path, kind)
    study = optuna.create_study(study_name="s", storage=make_storage(url))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    trial = study.ask()
    trial.set_user_attr("host", socket.gethostname())
    trial.set_user_attr("pid", dead.pid)
    stale = study.get_trials(states=(TrialState.RUNNING,))
    _fail_orphans(study)  # the first one fails it
    assert [t.state for t in _study(url, "s").get_trials()] == [TrialState.FAIL]
    monkeypatch.setattr(study, "get_trials", lambda *a, **k: stale)
    _fail_orphans(study)  # the second, with a stale view, skips it
    assert [t.state for t in _study(url, "s").get_trials()] == [TrialState.FAIL]


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_a_trial_whose_worker_died_before_claiming_it_is_failed_once_old(
        tmp_path, kind, monkeypatch):
    """A worker killed between Optuna creating its trial and the objective recording host
    and pid leaves a running trial nobody can match to a process: it is failed once older
    than UNCLAIMED_AFTER, and left running before that (its worker may still be starting)."""
    import eamp.runs.tune
    from eamp.runs.tune import _fail_orphans

    url = _storage(tmp_path, kind)
    study = optuna.create_study(study_name="s", storage=make_storage(url))
    study.ask()  # created, never claimed
    _fail_orphans(study)
    assert [t.state for t in _study(url, "s").get_trials()] == [TrialState.RUNNING]
    monkeypatch.setattr(eamp.runs.tune, "UNCLAIMED_AFTER", 0)
    _fail_orphans(study)
    assert [t.state for t in _study(url, "s").get_trials()] == [TrialState.FAIL]


def test_only_names_parameters_of_the_models_search_space():
    from eamp.runs.tune import TuneConfig

    base = TrainConfig("entropic_gcn", "csbm", 2, hidden=8, epochs=3)
    assert TuneConfig(base, 1, only=["entropy_weight"]).only == ("entropy_weight",)
    with pytest.raises(ValueError, match="only: expected names from entropic_gcn's search"):
        TuneConfig(base, 1, only=("alpha",))
    with pytest.raises(ValueError, match="only: expected names"):
        TuneConfig(base, 1, only=())


@pytest.mark.parametrize("field", ["trials", "workers", "seeds"])
def test_tune_config_refuses_counts_below_one_when_built(field):
    with pytest.raises(ValueError, match=f"{field}: expected an integer >= 1, got 0"):
        TuneConfig(**{"base": BASE, "trials": 1, field: 0})
