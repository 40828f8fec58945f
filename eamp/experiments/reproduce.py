"""``eamp reproduce``: the paper's Figure 2, Table 1 and Figure 3, resumably, and a report.

Every training run is stored as its own ``result.json`` under ``DIR/runs/<protocol>/<dataset>/
<model>/depth<L>/seed<s>/``; a rerun skips the runs already there (``force`` redoes them),
and a run in flight keeps its training state beside it (``state.pt``, saved every
:data:`STATE_EVERY_S` seconds), so an interrupted reproduction loses at most the last minute
of each run in flight: the same command continues them.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from eamp.data import DatasetUnavailable, load_dataset, num_splits
from eamp.device import worker_device
from eamp.errors import Incomplete
from eamp.experiments.depth import (
    TABLE1_COLUMNS,
    RunSpec,
    layer_energy_rows,
    plan_runs,
    table1_rows,
)
from eamp.experiments.executor import ExecutorConfig
from eamp.experiments.oversmoothing import ENERGY_COLUMNS, OversmoothingConfig, oversmoothing_rows
from eamp.experiments.plan import DATASETS, Plan, ReproduceConfig, Reproduction
from eamp.experiments.report import plot_layer_energy, plot_oversmoothing
from eamp.io import read_csv, write_csv, write_json_atomic
from eamp.models import reproduction_models
from eamp.runtime import follow_parent, worker_threads
from eamp.train import config_differences, describe_differences, read_result, train, versions

__all__ = ["ReproduceConfig", "reproduce", "Plan"]

def reproduce(config: ReproduceConfig, out: Path) -> Path:
    """Runs what is not done yet and writes every figure, table and ``report.md``."""
    plan = Plan.of(config)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    tuned = _read_tuned(Path(config.tuned)) if config.tuned else None
    grid = OversmoothingConfig(layers=plan.grid_layers, seeds=plan.grid_seeds,
                               device=config.device)
    grid_rows = _grid_rows(grid, out, force=config.force)
    plot_oversmoothing(grid_rows, out / "oversmoothing.png")
    _log(f"figure 2: {len(grid_rows)} energies of {grid.layers}-layer grid models")

    available, skipped = [], {}
    for dataset in DATASETS:
        try:
            load_dataset(dataset, config.data_dir)
            available.append(dataset)
        except DatasetUnavailable as error:
            skipped[dataset] = str(error)
            _log(f"skipping {dataset}: {error}")

    runs = plan_runs(datasets=tuple(available), models=reproduction_models(), depths=plan.depths,
                     protocols=plan.protocols, seeds=plan.seeds, hidden=plan.hidden,
                     epochs=plan.epochs, data_dir=config.data_dir, tuned=tuned,
                     device=config.device, precision=config.precision)
    trained = run_all(runs, out, workers=config.workers, force=config.force,
                      executor=config.executor)
    results = [(spec, read_result(out / spec.relpath)) for spec in runs]

    table = table1_rows(results)
    write_csv(out / "table1.csv", table, TABLE1_COLUMNS)
    figure3_protocol = "paper" if "paper" in plan.protocols else plan.protocols[0]
    energy_rows = layer_energy_rows(results, dataset="cora", depth=plan.figure3_depth,
                                    protocol=figure3_protocol)
    write_csv(out / "layer_energy.csv", energy_rows, ENERGY_COLUMNS)
    if energy_rows:
        plot_layer_energy(energy_rows, out / "layer_energy.png",
                          f"Energy of each layer, {plan.figure3_depth}-layer models trained "
                          f"on Cora ({figure3_protocol} protocol)")
    from eamp.experiments.writeup import write_report

    report = write_report(out, Reproduction(
        plan=plan, config=config, grid_rows=grid_rows, table=table, energy_rows=energy_rows,
        figure3_protocol=figure3_protocol, trained=trained, total_runs=len(runs),
        wall=time.perf_counter() - started, versions=versions(), skipped=skipped))
    _log(f"{trained} runs trained, {len(runs) - trained} already done; report: {report}")
    return report


def _grid_rows(grid: OversmoothingConfig, out: Path, *, force: bool) -> list[dict]:
    """Figure 2's rows: reused from ``oversmoothing.csv`` only when ``oversmoothing.json``
    beside it records the same grid settings and the CSV is complete; else recomputed."""
    csv_path, key_path = out / "oversmoothing.csv", out / "oversmoothing.json"
    key = json.loads(json.dumps({"config": grid.key()}))  # as it reads back from JSON
    if not force and csv_path.exists():
        expected = grid.seeds * len(grid.models) * (grid.layers + 1)
        try:
            same = json.loads(key_path.read_text()) == key
            rows = [{"model": r["model"], "seed": int(r["seed"]), "layer": int(r["layer"]),
                     "energy": float(r["energy"])} for r in read_csv(csv_path)]
            reason = ("made with other settings" if not same else
                      f"incomplete ({len(rows)} of {expected} rows)")
        except (OSError, ValueError, KeyError, TypeError) as error:
            same, rows, reason = False, [], f"unreadable ({error})"
        if same and len(rows) == expected:
            return rows
        _log(f"figure 2: recomputing {csv_path.name}: the stored one is {reason}")
    rows = oversmoothing_rows(grid)
    write_csv(csv_path, rows, ENERGY_COLUMNS)
    write_json_atomic(key_path, key)
    return rows


def _read_tuned(folder: Path) -> dict[tuple[str, str], dict[str, Any]]:
    if not folder.is_dir():
        raise ValueError(f"tuned: no best.json under {folder} (no such folder)")
    tuned = {}
    for path in sorted(folder.rglob("best.json")):
        try:
            payload = json.loads(path.read_text())
            config = payload["config"]
            tuned[(config["dataset"], config["model"])] = config
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ValueError(f"tuned: {path} is not a best.json of eamp tune with a config "
                             f"({type(error).__name__}: {error})") from None
    if not tuned:
        raise ValueError(f"tuned: no best.json under {folder}")
    return tuned


def _log(message: str) -> None:
    print(message, flush=True)


def is_done(spec: RunSpec, path: Path, *, quiet: bool = False) -> bool:
    """Whether ``path`` holds this run's result: a valid ``result.json`` whose stored config
    is the planned one. A stale or broken one is said (unless ``quiet``) and retrained."""
    if not path.exists():
        return False
    try:
        stored = read_result(path)
    except ValueError as error:
        if not quiet:
            _log(f"retraining {spec.label()}: {error}")
        return False
    differences = config_differences(stored["config"], spec.config)
    if differences and quiet:
        return False
    if differences:
        _log(f"retraining {spec.label()}: its result.json was made with other settings "
             f"({describe_differences(differences)})")
        return False
    return True


def run_seconds(result: dict[str, Any]) -> float:
    """Seconds a stored run took: its ``wall_time_s``, or for a result stored before that was
    recorded, its median epoch time times the epochs it ran."""
    seconds = float(result.get("wall_time_s", math.nan))
    if math.isnan(seconds):
        seconds = float(result.get("epoch_time_s", 0.0)) * sum(
            int(split.get("epochs_run", 0)) for split in result.get("splits", ()))
    return seconds


def run_minutes(out: Path, specs: list[RunSpec]) -> float:
    """Minutes the stored runs ``specs`` took (:func:`run_seconds` of each)."""
    return sum(run_seconds(read_result(out / spec.relpath)) for spec in specs) / 60


def run_all(runs: list[RunSpec], out: Path, *, workers: int, force: bool,
            executor: ExecutorConfig | None = None) -> int:
    """Trains the runs whose ``out/relpath`` holds no result of the same settings, in
    ``workers`` processes (or jobs, see :class:`~eamp.experiments.executor.ExecutorConfig`);
    returns how many were trained. The store ``eamp reproduce`` and ``eamp benchmark``
    share. Jobs that die leave their runs untrained: :class:`~eamp.errors.Incomplete` says
    how many, and the same command trains them."""
    from tqdm.auto import tqdm

    todo = [spec for spec in runs if force or not is_done(spec, out / spec.relpath)]
    _log(f"{len(runs)} runs, {len(runs) - len(todo)} already done, {len(todo)} to "
         f"train with {workers} worker(s)")
    if not todo:
        return 0
    bar = tqdm(total=len(todo), disable=not sys.stderr.isatty(), desc="runs")
    jobs = [(spec, str(out / spec.relpath)) for spec in todo]
    if force:  # retrained from the start, not from a state an earlier attempt saved
        for _, path in jobs:
            state_path(path).unlink(missing_ok=True)
    finished = 0

    def report(line: str) -> None:
        nonlocal finished
        finished += 1
        bar.update(1)
        # through the bar on a terminal, so that the line does not tear it
        (bar.write if not bar.disable else _log)(f"[{finished}/{len(todo)}] {line}")

    executor = executor or ExecutorConfig()
    if executor.kind != "pool":
        from eamp.experiments.executor import run_jobs

        threads = worker_threads(workers)
        failed = run_jobs(_train_job, [(spec, path, threads) for spec, path in jobs],
                          out / "jobs", workers, executor, report)
        bar.close()
        if failed:
            raise Incomplete(f"{len(failed)} of {len(todo)} jobs failed ({failed[0]}"
                             f"{'; ...' if len(failed) > 1 else ''}); run the same command "
                             "again to train what is missing")
        return len(todo)
    if workers == 1:
        for job in jobs:
            report(_train_one(job))
    else:
        threads = worker_threads(workers)
        context = multiprocessing.get_context("spawn")
        counter = context.Value("i", 0)
        with context.Pool(workers, initializer=_init_worker,
                          initargs=(threads, counter, os.getpid())) as pool:
            for line in pool.imap_unordered(_train_one, jobs):
                report(line)
    bar.close()
    return len(todo)


# this worker process's number (round robin over several GPUs), set by _init_worker
_WORKER: int | None = None


def _init_worker(threads: int, counter: Any, parent: int) -> None:
    import torch

    global _WORKER
    follow_parent(parent)  # a killed command leaves no worker training on
    # several processes on few cores: more threads each only fight over the cores
    torch.set_num_threads(threads)
    with counter.get_lock():
        _WORKER, counter.value = counter.value, counter.value + 1


@lru_cache(maxsize=8)
def _dataset(name: str, data_dir: str | None, split: str,
             normalize_features: bool, graph: str):  # noqa: ANN202
    return load_dataset(name, data_dir, split=split, normalize_features=normalize_features,
                        graph=graph)


def _train_job(job: tuple[RunSpec, str, int]) -> str:
    """One run in a job of its own (submitit): the job's threads (SLURM's CPUs if set)."""
    import torch

    spec, path, threads = job
    torch.set_num_threads(int(os.environ.get("SLURM_CPUS_PER_TASK", threads)))
    return _train_one((spec, path))


# a run still training says how far it is at most this often (a residual run on minesweeper
# takes 20-80 min on a CPU, and the pool otherwise prints only when a run ends)
HEARTBEAT_S = 300.0


def _heartbeat(label: str, epochs: int) -> Callable[[int, float], None]:
    """An ``on_epoch`` for :func:`~eamp.train.train`: one line ``label: epoch k/epochs, val
    v`` once :data:`HEARTBEAT_S` seconds have passed since the run began or last said it."""
    last = time.perf_counter()

    def on_epoch(step: int, val_score: float) -> None:
        nonlocal last
        if time.perf_counter() - last >= HEARTBEAT_S:
            last = time.perf_counter()
            print(f"  {label}: epoch {step + 1}/{epochs}, val {val_score:.3f}", flush=True)

    return on_epoch


# a run in progress saves its training state beside its result.json this often, so that a
# killed sweep (a session's end, a SLURM time limit) continues its runs where they were
STATE_EVERY_S = 60.0


def state_path(result: str | Path) -> Path:
    """Where the run whose result goes to ``result`` keeps its training state while it
    trains (``train``'s ``state_file``)."""
    return Path(result).with_name("state.pt")


def _train_one(job: tuple[RunSpec, str]) -> str:
    spec, path = job
    start = time.perf_counter()
    config = spec.config
    if _WORKER is not None:
        config = replace(config, device=worker_device(config.device, _WORKER))
    data = _dataset(config.dataset, config.data_dir, config.split, config.normalize_features,
                    config.graph)
    splits = num_splits(data) if config.split_index == "all" else 1
    result = train(config, data, progress=False,
                   on_epoch=_heartbeat(spec.label(), config.epochs * splits),
                   state_file=state_path(path), save_every_s=STATE_EVERY_S)
    result.to_json(path)
    return (f"{spec.label()}: {result.metric} val {result.val_score:.3f} test "
            f"{result.test_score:.3f} ({time.perf_counter() - start:.1f} s)")
