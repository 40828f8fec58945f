"""Hyper-parameter search with Optuna: studies in a database that many processes and
machines can share.

Storage: a SQLite file in the output folder by default; any database URL Optuna accepts
(``postgresql://...`` for many machines); or a journal file (``journal:PATH`` or a path ending
in ``.log``/``.journal``) on a shared file system. The same command with the same
``--storage`` and ``--study`` joins a study, and running it again continues it.

A worker killed in the middle of a trial: every trial records its host and process id, and
``eamp tune`` fails the running trials of local workers that are gone at once (when it
notices, and whenever it starts); a worker on another machine is caught by Optuna's heartbeat
(database storage) once it has been silent for :data:`~eamp.runs.storage.GRACE_PERIOD`
seconds; a trial whose worker died before recording them is failed :data:`UNCLAIMED_AFTER`
seconds after it started.
``--trials N`` means N more finished trials: a killed worker is replaced. Workers die with
their parent.

Written here rather than taken from Optuna: the count of finished trials per command
(``MaxTrialsCallback`` counts the whole study, and would count a killed worker's failed trial
as one of it), and the failing of a dead local worker's trial at once (the heartbeat waits
its grace period, and a journal file has no heartbeat at all).
"""

from __future__ import annotations

import datetime
import os
import socket
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import Trial, TrialState

from eamp.checks import integer
from eamp.data.loading import load_dataset, num_splits
from eamp.device import worker_device
from eamp.errors import Incomplete
from eamp.io import owner_only, write_json_atomic
from eamp.models.registry import get_model_spec
from eamp.runs.executor import ExecutorConfig, run_jobs, worker_index
from eamp.runs.storage import hand_over_password, make_storage, storage_url
from eamp.runtime import alive, defer_exit
from eamp.training.config import TrainConfig
from eamp.training.loop import train

__all__ = ["TuneConfig", "TuneIncomplete", "best_config", "suggest", "tune"]

# seconds after which a running trial that never recorded its host and process is taken to
# be a dead worker's: a live one records them first thing (a database lock waits 60 s at most)
UNCLAIMED_AFTER = 600


def suggest(trial: Trial, model: str, only: tuple[str, ...] | None = None
            ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Samples ``model``'s search space (:attr:`~eamp.models.ModelSpec.search_space`), or
    the parameters of it named in ``only``: (training settings, model options)."""
    training, options = {}, {}
    for p in get_model_spec(model).search_space:
        if only is not None and p.name not in only:
            continue
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
    """A tuning: what is searched, for how many trials, where the study lives.

    Args:
        base (TrainConfig): what is not searched (model, dataset, depth, hidden, split...).
        trials (int): finished trials to add in this run, shared by the workers.
        storage (str, optional): Optuna storage URL or journal file (default: SQLite in the
            output folder); a database password goes in the database's own place
            (:mod:`eamp.runs.storage`), not in the URL.
        study (str, optional): study name (default: ``<model>-<dataset>-L<depth>``).
        workers (int): local processes on the same study. (default: ``1``)
        seeds (int): seeds averaged per trial (a multi-split dataset with
            ``split_index="all"`` averages over its splits instead). (default: ``1``)
        only (tuple of str, optional): search only these parameters of the model's search
            space; every other setting is the base's (e.g. the entropy's parameters on top
            of a preset). (default: the whole space)
    """

    base: TrainConfig
    trials: int
    storage: str | None = None
    study: str | None = None
    workers: int = 1
    seeds: int = 1
    only: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        # checked here, where tune() (which splits the trials by the workers) gets it
        for name in ("trials", "workers", "seeds"):
            integer(name, getattr(self, name), low=1)
        if self.only is not None:
            names = [p.name for p in get_model_spec(self.base.model).search_space]
            unknown = [name for name in self.only if name not in names]
            if unknown or not self.only:
                raise ValueError(f"only: expected names from {self.base.model}'s search "
                                 f"space ({', '.join(names)}), got {list(self.only)!r}")
            object.__setattr__(self, "only", tuple(self.only))

    def study_name(self) -> str:
        b = self.base
        return self.study or f"{b.model}-{b.dataset}-L{b.depth}"


def _open_study(config: TuneConfig, url: str) -> optuna.Study:
    return optuna.create_study(
        study_name=config.study_name(), storage=make_storage(url), direction="maximize",
        load_if_exists=True, sampler=optuna.samplers.TPESampler(seed=None),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=20),
    )


def _fail_orphans(study: optuna.Study) -> None:
    """Fails the running trials of local workers that are gone (each trial records its host
    and process id), at once rather than after a heartbeat's grace period (a journal file has
    no heartbeat at all), and any worker's trial that recorded neither within
    :data:`UNCLAIMED_AFTER` seconds of its start (its worker died between Optuna creating the
    trial and the objective's first line, before a heartbeat too). A trial that the parent,
    another worker or the heartbeat has failed meanwhile is left as it is."""
    host = socket.gethostname()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid, start = trial.user_attrs.get("pid"), trial.datetime_start
        # Optuna stamps trials in naive local time; an aware stamp gets an aware "now"
        unclaimed = pid is None and start is not None and (
            datetime.datetime.now(start.tzinfo) - start).total_seconds() >= UNCLAIMED_AFTER
        if unclaimed or (trial.user_attrs.get("host") == host and pid is not None
                         and not alive(int(pid))):
            try:  # skips a trial already finished; the storage refuses one finished since
                study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
            except optuna.exceptions.UpdateFinishedTrialError:
                pass


def _count(study: optuna.Study, run: str) -> tuple[int, int]:
    """(finished, running) trials of the ``eamp tune`` command ``run``. Finished: complete,
    pruned, or failed by an error of its own (not by a worker that died)."""
    finished = running = 0
    for t in study.get_trials(deepcopy=False):
        if t.user_attrs.get("run") != run:
            continue
        if t.state == TrialState.RUNNING:
            running += 1
        elif t.state != TrialState.FAIL or "error" in t.user_attrs:
            finished += 1
    return finished, running


def objective_for(config: TuneConfig, on_start: Callable[[], None] | None = None,
                  run: str = "") -> Callable[[Trial], float]:
    """The objective: mean best validation accuracy over the seeds (or splits) of one
    sampled configuration. Each trial records the host, process and ``run`` (the command)
    it belongs to; ``on_start`` is called once it has."""
    base = config.base
    data = load_dataset(base.dataset, base.data_dir, split=base.split,
                        normalize_features=base.normalize_features, graph=base.graph)
    over_splits = base.split_index == "all" and num_splits(data) > 1
    seeds = [base.seed] if over_splits else [base.seed + s for s in range(config.seeds)]

    def objective(trial: Trial) -> float:
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("pid", os.getpid())
        trial.set_user_attr("run", run)
        if on_start is not None:
            on_start()
        training, options = suggest(trial, base.model, config.only)
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
            except RuntimeError as error:  # failed by its own error: it counts as finished
                trial.set_user_attr("error", f"{type(error).__name__}: {error}")
                raise
            vals.append(result.val_score)  # the dataset's metric, at the selected epoch
            tests.append(result.test_score)
        # recorded, never used to choose
        trial.set_user_attr("test_score", sum(tests) / len(tests))
        trial.set_user_attr("config", replace(trial_config, seed=base.seed).as_dict())
        return sum(vals) / len(vals)

    return objective


class TuneIncomplete(Incomplete):
    """Fewer trials finished than asked for (workers kept dying)."""


def _worker(config: TuneConfig, url: str, run: str) -> None:
    """Runs trials of the job ``run`` until ``config.trials`` of them have finished or are
    running. In a pool's worker process that ends with its command, never between the
    creation of a trial and the attributes that name its worker (a trial without them could
    not be failed as an orphan at once)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = _open_study(config, url)
    resume_exit: Callable[[], None] | None = None

    def release() -> None:  # the trial names its worker (or none was started)
        nonlocal resume_exit
        if resume_exit is not None:
            resume_exit()
            resume_exit = None

    objective = objective_for(config, on_start=release, run=run)
    while True:
        try:
            _fail_orphans(study)
            finished, running = _count(study, run)
            if finished + running >= config.trials:
                return
            resume_exit = defer_exit()
            study.optimize(objective, n_trials=1, catch=(RuntimeError,))
        finally:
            release()


@dataclass(frozen=True)
class _TuneJob:
    """One tuning worker: its share of the trials, the study's storage, and the id its
    trials record (a worker that dies is replaced by the same job, which counts on)."""

    config: TuneConfig
    url: str
    run: str


def _tune_job(job: _TuneJob) -> str:
    config = job.config
    if worker_index() is not None:  # round robin over several GPUs
        device = worker_device(config.base.device, worker_index())
        config = replace(config, base=replace(config.base, device=device))
    _worker(config, job.url, job.run)
    done, _ = _count(_open_study(config, job.url), job.run)
    return f"{config.study_name()}: {done} trials"


def tune(config: TuneConfig, out: Path, executor: ExecutorConfig | None = None) -> Path:
    """Runs trials until ``config.trials`` more trials of the study have finished (complete,
    pruned, or failed by their own error), then writes ``out/best.json``,
    ``out/tuning.png`` and ``out/importance.png``. Returns the path of ``best.json``.

    ``config.workers`` workers (at most one per trial) share the trials, each one worker on
    the study's storage, through :func:`~eamp.runs.executor.run_jobs` with ``executor``
    (default: local processes). The storage must be one the workers reach: with SLURM a
    journal file on a shared file system or a database server. A worker killed mid-trial
    has its trial failed and is replaced, so the study still gains ``config.trials``
    finished trials; if workers keep dying, :class:`TuneIncomplete` says how many finished,
    and the same command adds the rest. ``out`` and everything written into it are its
    owner's only (0700 folders, 0600 files): a job file holds the tuning's settings."""
    executor = executor or ExecutorConfig()
    url = storage_url(config.storage, out)
    if executor.kind == "slurm" and url.startswith("sqlite"):
        raise ValueError(f"storage: SLURM jobs on other machines cannot share the SQLite file "
                         f"{url!r}; use a journal file on a shared file system "
                         "(journal:PATH) or a database URL")
    # a password in the URL goes to the workers in their environment, never in a job file
    url = hand_over_password(url)
    config = replace(config, storage=url)
    with owner_only():  # what tuning writes is its owner's only: 0700 folders, 0600 files
        out.mkdir(parents=True, exist_ok=True)
        out.chmod(0o700)
        _fail_orphans(_open_study(config, url))  # create it once, before the workers race to
        count = min(config.workers, config.trials)
        shares = [config.trials // count + (i < config.trials % count) for i in range(count)]
        jobs = [_TuneJob(replace(config, trials=share), url, uuid.uuid4().hex)
                for share in shares]
        failed = run_jobs(_tune_job, jobs, workers=count, config=executor,
                          folder=out / "jobs", report=lambda line: None)
        study = _open_study(config, url)
        _fail_orphans(study)
        done = sum(_count(study, job.run)[0] for job in jobs)
        path = write_outputs(study, config, out)
    if done < config.trials or failed:
        why = failed[0] if failed else "their trials are marked failed"
        raise TuneIncomplete(f"tune: {done} of {config.trials} trials finished; workers kept "
                             f"dying ({why}; study {study.study_name!r}); run the same "
                             "command again to add the rest")
    return path


def best_config(study: optuna.Study) -> dict[str, Any]:
    best = study.best_trial
    return {"config": best.user_attrs.get("config"), "value": best.value,
            "test_score": best.user_attrs.get("test_score"), "trial": best.number,
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
    import matplotlib
    from optuna.visualization import matplotlib as optuna_plots

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
