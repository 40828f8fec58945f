"""The run store: every training run of ``eamp reproduce``, ``eamp benchmark`` and the entropy
studies is one ``result.json`` under ``DIR/runs/<label>/<dataset>/<model>/depth<L>/seed<s>/``
(:class:`RunSpec`), the single source of truth for what is done. A command trains only
the runs whose file is missing or holds other settings; a run in flight keeps its training
state beside it (``state.pt``, saved every :data:`STATE_EVERY_S` seconds), so an interrupted
command loses at most the last minute of each run in flight: the same command continues
them.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from eamp.device import worker_device
from eamp.errors import Incomplete
from eamp.runs.claims import Claim, Holder, claim_path, holder, stale, take
from eamp.runs.executor import ExecutorConfig, run_jobs, worker_index
from eamp.training.config import TrainConfig
from eamp.training.result import config_differences, describe_differences, read_result

__all__ = ["RunSpec", "STATE_EVERY_S", "Tally", "cached_dataset", "is_done", "run_all",
           "run_minutes", "run_seconds", "state_path", "stored_result"]


@dataclass(frozen=True)
class RunSpec:
    protocol: str
    config: TrainConfig

    @property
    def relpath(self) -> Path:
        c = self.config
        split = f"-split{c.split_index}" if c.split_index != 0 else ""
        return Path("runs", self.protocol, c.dataset, c.model, f"depth{c.depth}",
                    f"seed{c.seed}{split}", "result.json")

    def label(self) -> str:
        c = self.config
        split = f" split {c.split_index}" if c.split_index != 0 else ""
        return f"{self.protocol} {c.dataset} {c.model} L={c.depth} seed {c.seed}{split}"


def _log(message: str) -> None:
    print(message, flush=True)


def stored_result(spec: RunSpec, path: Path, *, quiet: bool = False) -> dict[str, Any] | None:
    """This run's result if ``path`` holds it: a valid ``result.json`` whose stored config
    is the planned one (read once); else ``None``. A stale or broken one is said (unless
    ``quiet``) and retrained."""
    if not path.exists():
        return None
    try:
        stored = read_result(path)
    except ValueError as error:
        if not quiet:
            _log(f"retraining {spec.label()}: {error}")
        return None
    differences = config_differences(stored["config"], spec.config)
    if differences and not quiet:
        _log(f"retraining {spec.label()}: its result.json was made with other settings "
             f"({describe_differences(differences)})")
    return None if differences else stored


def is_done(spec: RunSpec, path: Path, *, quiet: bool = False) -> bool:
    """Whether ``path`` holds this run's result (:func:`stored_result`)."""
    return stored_result(spec, path, quiet=quiet) is not None


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


@dataclass
class Tally:
    """What :func:`run_all` did with its runs: trained them, found them done (before, or
    finished by another process by the time it claimed them), found them held by another
    live process (by holder), or waited for those to finish."""

    trained: int = 0
    done: int = 0
    held: dict[str, int] = field(default_factory=dict)
    waited: int = 0

    def summary(self) -> str:
        held = sum(self.held.values())
        text = f"{self.trained} runs trained, {self.done} already done"
        if self.waited:
            text += f", {self.waited} trained by other processes (waited for)"
        if held:
            text += (f", {held} held by {', '.join(sorted(self.held))}, not waited for "
                     "(--wait waits for them)")
        return text


# seconds between two looks at the runs another process holds, with wait
POLL_S = float(os.environ.get("EAMP_CLAIM_POLL_S", "5"))


def run_all(runs: list[RunSpec], out: Path, *, workers: int, force: bool,
            executor: ExecutorConfig | None = None, wait: bool = False) -> Tally:
    """Trains the runs whose ``out/relpath`` holds no result of the same settings, in
    ``workers`` workers of ``executor`` (:func:`~eamp.runs.executor.run_jobs`). The store
    ``eamp reproduce``, ``eamp benchmark`` and the entropy studies share, with other commands
    too: a run another live process is training (its claim, :mod:`eamp.runs.claims`) is
    skipped, or with ``wait`` waited for (and trained here if its holder dies). Jobs that die
    leave their runs untrained: :class:`~eamp.errors.Incomplete` says how many, and the same
    command trains them."""
    todo = [spec for spec in runs if force or not is_done(spec, out / spec.relpath)]
    _log(f"{len(runs)} runs, {len(runs) - len(todo)} already done, {len(todo)} to "
         f"train with {workers} worker(s)")
    tally = Tally(done=len(runs) - len(todo))
    if force:  # retrained from the start, not from a state an earlier attempt saved
        for spec in todo:
            claim = take(claim_path(out / spec.relpath))
            if isinstance(claim, Claim):  # not another's
                state_path(out / spec.relpath).unlink(missing_ok=True)
                claim.release()
    held = _dispatch(todo, out, workers, force, executor, tally)
    while wait and held:
        time.sleep(POLL_S)
        retry, still = [], []
        for spec, by in held:
            path = out / spec.relpath
            found = holder(claim_path(path))
            if found is not None and not stale(claim_path(path), found):
                still.append((spec, by))
            elif is_done(spec, path, quiet=True):
                tally.waited += 1
            else:  # its holder died: trained here, from its saved state
                retry.append(spec)
        held = still + _dispatch(retry, out, workers, force, executor, tally)
    for _, by in held:
        tally.held[by] = tally.held.get(by, 0) + 1
    _log(tally.summary())
    return tally


def _dispatch(specs: list[RunSpec], out: Path, workers: int, force: bool,
              executor: ExecutorConfig | None, tally: Tally) -> list[tuple[RunSpec, str]]:
    """Runs ``specs`` through the executor, counting them into ``tally``; returns those that
    another process holds, with their holder."""
    from tqdm.auto import tqdm

    if not specs:
        return []
    bar = tqdm(total=len(specs), disable=not sys.stderr.isatty(), desc="runs")
    held: list[tuple[RunSpec, str]] = []
    by_path = {str(out / spec.relpath): spec for spec in specs}

    count = 0

    def report(outcome: tuple[str, str, str]) -> None:
        nonlocal count
        status, path, line = outcome
        count += 1
        bar.update(1)
        if status == "trained":
            tally.trained += 1
        elif status == "done":
            tally.done += 1
        else:
            held.append((by_path[path], line))
            line = f"{by_path[path].label()}: held by {line}"
        # through the bar on a terminal, so that the line does not tear it
        (bar.write if not bar.disable else _log)(f"[{count}/{len(specs)}] {line}")

    failed = run_jobs(_train_one, [(spec, path, force) for path, spec in by_path.items()],
                      workers=workers, config=executor, folder=out / "jobs", report=report)
    bar.close()
    if failed:
        raise Incomplete(f"{len(failed)} of {len(specs)} runs failed ({failed[0]}"
                         f"{'; ...' if len(failed) > 1 else ''}); run the same command "
                         "again to train what is missing")
    return held


@lru_cache(maxsize=8)
def cached_dataset(name: str, data_dir: str | None, split: str,
                   normalize_features: bool, graph: str) -> Any:
    """:func:`~eamp.data.load_dataset`, kept for the next run of the same process."""
    from eamp.data.loading import load_dataset

    return load_dataset(name, data_dir, split=split, normalize_features=normalize_features,
                        graph=graph)


# a run still training says how far it is at most this often (a residual run on minesweeper
# takes 20-80 min on a CPU, and the pool otherwise prints only when a run ends)
HEARTBEAT_S = 300.0


def _heartbeat(label: str, epochs: int) -> Callable[[int, float], None]:
    """An ``on_epoch`` for :func:`~eamp.training.train`: one line ``label: epoch k/epochs, val
    v`` once :data:`HEARTBEAT_S` seconds have passed since the run began or last said it."""
    last = time.perf_counter()

    def on_epoch(step: int, val_score: float) -> None:
        nonlocal last
        if time.perf_counter() - last >= HEARTBEAT_S:
            last = time.perf_counter()
            print(f"  {label}: epoch {step + 1}/{epochs}, val {val_score:.3f}", flush=True)

    return on_epoch


# a run in progress saves its training state beside its result.json this often, so that a
# killed sweep (a machine's end, a SLURM time limit) continues its runs where they were
STATE_EVERY_S = 60.0


def state_path(result: str | Path) -> Path:
    """Where the run whose result goes to ``result`` keeps its training state while it
    trains (``train``'s ``state_file``)."""
    return Path(result).with_name("state.pt")


def _train_one(job: tuple[RunSpec, str, bool]) -> tuple[str, str, str]:
    """Trains one run under its claim: ``("trained", path, line)``; ``("done", path, line)``
    if another process stored it meanwhile; ``("held", path, holder)`` if another live
    process is training it."""
    spec, path, force = job
    claim = take(claim_path(path))
    if isinstance(claim, Holder):
        return "held", path, str(claim)
    with claim:
        if not force and is_done(spec, Path(path), quiet=True):
            return "done", path, f"{spec.label()}: stored by another process meanwhile"
        start = time.perf_counter()
        config = spec.config
        if worker_index() is not None:
            config = replace(config, device=worker_device(config.device, worker_index()))
        data = cached_dataset(config.dataset, config.data_dir, config.split,
                              config.normalize_features, config.graph)
        from eamp.data.loading import num_splits
        from eamp.training.loop import train

        splits = num_splits(data) if config.split_index == "all" else 1
        result = train(config, data, progress=False,
                       on_epoch=_heartbeat(spec.label(), config.epochs * splits),
                       state_file=state_path(path), save_every_s=STATE_EVERY_S)
        result.to_json(path)
    return "trained", path, (f"{spec.label()}: {result.metric} val {result.val_score:.3f} "
                             f"test {result.test_score:.3f} "
                             f"({time.perf_counter() - start:.1f} s)")
