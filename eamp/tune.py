"""Hyper-parameter search with Optuna: studies in a database that many processes and
machines can share.

Storage: a SQLite file in the output folder by default; any database URL Optuna accepts
(``postgresql://...`` for many machines); or a journal file (``journal:PATH`` or a path ending
in ``.log``/``.journal``) on a shared file system. The same command with the same
``--storage`` and ``--study`` joins a study, and running it again continues it.

A worker killed in the middle of a trial: with a database storage, Optuna's heartbeat marks
its trial failed once it has been silent for :data:`GRACE_PERIOD` seconds; with a journal
file, the next worker on the same machine fails the trials of workers that are gone (their
process id and host are recorded on each trial).
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import Trial, TrialState

from eamp.data import load_dataset, num_splits
from eamp.io import write_json_atomic
from eamp.models import get_model_spec
from eamp.train import TrainConfig, train

__all__ = ["TuneConfig", "tune", "make_storage", "suggest", "best_config"]

HEARTBEAT_INTERVAL = 5
# seconds of silence after which a database trial counts as dead (env override for tests)
GRACE_PERIOD = int(os.environ.get("EAMP_TUNE_GRACE_PERIOD", "20"))


def suggest(trial: Trial, model: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Samples ``model``'s search space (:attr:`~eamp.models.ModelSpec.search_space`):
    (training settings, model options)."""
    training, options = {}, {}
    for p in get_model_spec(model).search_space:
        if p.choices is not None:
            value = trial.suggest_categorical(p.name, list(p.choices))
        elif p.integer:
            value = trial.suggest_int(p.name, int(p.low), int(p.high), log=p.log)
        else:
            value = trial.suggest_float(p.name, p.low, p.high, log=p.log)
        (training if p.training else options)[p.name] = value
    return training, options


@dataclass(frozen=True)
class TuneConfig:
    """Args:
        base (TrainConfig): what is not searched (model, dataset, depth, hidden, split...).
        trials (int): finished trials to add in this run, shared by the workers.
        storage (str, optional): Optuna storage URL or journal file (default: SQLite in the
            output folder).
        study (str, optional): study name (default: ``<model>-<dataset>-L<depth>``).
        workers (int): local processes on the same study. (default: ``1``)
        seeds (int): seeds averaged per trial (a multi-split dataset with
            ``split_index="all"`` averages over its splits instead). (default: ``1``)
    """

    base: TrainConfig
    trials: int
    storage: str | None = None
    study: str | None = None
    workers: int = 1
    seeds: int = 1

    def study_name(self) -> str:
        b = self.base
        return self.study or f"{b.model}-{b.dataset}-L{b.depth}"


def _storage_url(storage: str | None, out: Path) -> str:
    return storage or f"sqlite:///{(out / 'study.db').resolve()}"


def _is_journal(url: str) -> bool:
    return url.startswith("journal:") or url.endswith((".log", ".journal"))


def make_storage(url: str) -> optuna.storages.BaseStorage:
    """A storage for ``url``: a journal file, or a database with a heartbeat. A URL that
    cannot be opened is a ``ValueError`` naming it."""
    try:
        return _make_storage(url)
    except Exception as error:  # SQLAlchemy, drivers and the file system raise many kinds
        raise ValueError(f"storage: cannot open {url!r} ({type(error).__name__}: "
                         f"{str(error).splitlines()[0] if str(error) else ''})") from error


def _make_storage(url: str) -> optuna.storages.BaseStorage:
    if _is_journal(url):
        path = url.removeprefix("journal:")
        backend = optuna.storages.journal.JournalFileBackend(path)
        return optuna.storages.JournalStorage(backend)
    with warnings.catch_warnings():
        # the heartbeat is what fails a killed worker's trial; Optuna calls it experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(
            url, heartbeat_interval=HEARTBEAT_INTERVAL, grace_period=GRACE_PERIOD,
            engine_kwargs={"connect_args": {"timeout": 60}} if url.startswith("sqlite")
            else None,
        )


def _open_study(config: TuneConfig, url: str) -> optuna.Study:
    return optuna.create_study(
        study_name=config.study_name(), storage=make_storage(url), direction="maximize",
        load_if_exists=True, sampler=optuna.samplers.TPESampler(seed=None),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=20),
    )


def _fail_orphans(study: optuna.Study) -> None:
    """Journal storage has no heartbeat: fail the running trials of dead local workers."""
    host = socket.gethostname()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if trial.user_attrs.get("host") != host:
            continue
        pid = trial.user_attrs.get("pid")
        if pid is not None and not _alive(int(pid)):
            study.tell(trial.number, state=TrialState.FAIL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def objective_for(config: TuneConfig) -> Callable[[Trial], float]:
    base = config.base.resolved()
    data = load_dataset(base.dataset, base.data_dir, split=base.split,
                        normalize_features=base.normalize_features)
    over_splits = base.split_index == "all" and num_splits(data) > 1
    seeds = [base.seed] if over_splits else [base.seed + s for s in range(config.seeds)]

    def objective(trial: Trial) -> float:
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("pid", os.getpid())
        training, options = suggest(trial, base.model)
        trial_config = replace(base, **training,
                               model_options={**base.model_options, **options})
        vals, tests = [], []
        for position, seed in enumerate(seeds):
            offset = position * (trial_config.epochs or 0) * max(1, num_splits(data))

            def report(epoch: int, val_acc: float, offset: int = offset) -> None:
                trial.report(val_acc, offset + epoch)
                if trial.should_prune():
                    raise optuna.TrialPruned()

            try:
                result = train(replace(trial_config, seed=seed), data, progress=False,
                               on_epoch=report)
            except FloatingPointError as error:
                trial.set_user_attr("error", str(error))
                raise optuna.TrialPruned() from error
            vals.append(result.best_val_acc)
            tests.append(result.test_acc)
        # recorded, never used to choose
        trial.set_user_attr("test_acc", sum(tests) / len(tests))
        trial.set_user_attr("config", replace(trial_config, seed=base.seed).as_dict())
        return sum(vals) / len(vals)

    return objective


def _worker(config: TuneConfig, url: str, trials: int) -> None:
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(1, config.workers)))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = _open_study(config, url)
    if _is_journal(url):
        _fail_orphans(study)
    study.optimize(objective_for(config), n_trials=trials, catch=(RuntimeError,))


def tune(config: TuneConfig, out: Path) -> Path:
    """Adds ``config.trials`` trials to the study, then writes ``out/best.json``,
    ``out/tuning.png`` and ``out/importance.png``. Returns the path of ``best.json``."""
    if config.trials < 1 or config.workers < 1 or config.seeds < 1:
        raise ValueError("trials, workers, seeds: expected integers >= 1")
    out.mkdir(parents=True, exist_ok=True)
    url = _storage_url(config.storage, out)
    _open_study(config, url)  # create it once, before the workers race to
    shares = [config.trials // config.workers + (i < config.trials % config.workers)
              for i in range(config.workers)]
    shares = [s for s in shares if s > 0]
    if len(shares) == 1:
        _worker(config, url, shares[0])
    else:
        context = multiprocessing.get_context("spawn")
        processes = [context.Process(target=_worker, args=(config, url, s)) for s in shares]
        for process in processes:
            process.start()
        for process in processes:
            process.join()
    study = _open_study(config, url)
    return write_outputs(study, config, out)


def best_config(study: optuna.Study) -> dict[str, Any]:
    best = study.best_trial
    return {"config": best.user_attrs.get("config"), "value": best.value,
            "test_acc": best.user_attrs.get("test_acc"), "trial": best.number,
            "params": best.params, "study": study.study_name,
            "finished_trials": len(study.get_trials(
                states=(TrialState.COMPLETE, TrialState.PRUNED)))}


def write_outputs(study: optuna.Study, config: TuneConfig, out: Path) -> Path:
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    path = out / "best.json"
    if complete:
        write_json_atomic(path, best_config(study))
    _plot(study, out)
    return path


def _plot(study: optuna.Study, out: Path) -> None:
    """Optuna's optimisation history (``tuning.png``) and, from two complete trials on, its
    hyper-parameter importances (``importance.png``, fANOVA)."""
    from optuna.visualization import matplotlib as optuna_plots

    from eamp.experiments.report import pyplot

    plt = pyplot()
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        plots = {"tuning.png": lambda: optuna_plots.plot_optimization_history(
            study, target_name="validation accuracy")}
        if len(complete) > 1:
            plots["importance.png"] = lambda: optuna_plots.plot_param_importances(study)
        for name, plot in plots.items():
            try:
                figure = plot().figure
            except (RuntimeError, ValueError):
                continue  # importances need trials whose values differ
            figure.set_size_inches(7, 4.5)
            figure.tight_layout()
            figure.savefig(out / name, dpi=110)
            plt.close(figure)
