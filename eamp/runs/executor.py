"""The one way eamp runs many jobs: the runs of ``eamp reproduce`` and ``eamp benchmark`` and
the workers of ``eamp tune`` all go through :func:`run_jobs`.

Where they execute (:class:`ExecutorConfig`):

- ``pool``: on this machine. One worker runs the jobs in this process; several are spawned
  processes, each with its share of the threads, that take jobs one at a time. A worker that
  dies (killed, out of memory) is replaced and its job given to another, up to ``retries``
  times; every worker ends with the command.
- ``local``: submitit's local executor, a subprocess per job, at most ``workers`` at a time.
- ``slurm``: submitit's SLURM executor, a job array of at most ``workers`` running at once.

A job is any picklable value and ``function(job)`` returns one line saying what it did. The
callers keep the single source of truth (the run store, or the Optuna study) so that a
command interrupted anywhere resumes with the same invocation and trains nothing twice.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eamp.checks import choice, integer
from eamp.io import current_umask, owner_only
from eamp.runtime import ENV, follow_parent, retain_freed_memory, thread_budget

__all__ = ["EXECUTORS", "ExecutorConfig", "run_jobs", "worker_index"]

EXECUTORS = ("pool", "local", "slurm")


@dataclass(frozen=True)
class ExecutorConfig:
    """Where jobs execute.

    Args:
        kind (str): ``"pool"``, ``"local"`` or ``"slurm"`` (see the module). (default:
            ``"pool"``)
        timeout_min (int): a submitit job's time limit in minutes. (default: ``240``)
        slurm (mapping): SLURM parameters by submitit's names without the ``slurm_``
            prefix (``partition``, ``gpus_per_task``, ``cpus_per_task``, ``mem``,
            ``account``, ``qos``, ``constraint``, ...). (default: none)
    """

    kind: str = "pool"
    timeout_min: int = 240
    slurm: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        choice("executor", self.kind, EXECUTORS)
        if self.slurm and self.kind != "slurm":
            raise ValueError(f"slurm options: given with executor {self.kind!r}; they apply "
                             "to --executor slurm")
        integer("timeout_min", self.timeout_min, low=1)
        for name in ("gpus_per_task", "cpus_per_task"):
            if name in self.slurm:
                integer(f"slurm {name}", self.slurm[name], low=0)


# this process's number among the pool's workers (None in the command's own process): the
# runs use it to go round robin over several GPUs
_WORKER: int | None = None


def worker_index() -> int | None:
    """This process's number among a pool's workers, or ``None`` outside one."""
    return _WORKER


def run_jobs(function: Callable[[Any], Any], jobs: list[Any], *, workers: int,
             config: ExecutorConfig | None = None, folder: Path | None = None,
             report: Callable[[Any], None] = print, retries: int = 2) -> list[str]:
    """Runs ``function(job)`` for every job in ``workers`` workers of ``config``'s kind and
    calls ``report`` with what each finished job returned (a line, or any picklable value).
    Returns one line per job that failed (its worker died more than ``retries`` times; a
    submitit job killed, timed out or raised). In the pool an exception a job raises ends
    the command, as it would in one process; ``folder`` holds submitit's job files."""
    config = config or ExecutorConfig()
    workers = max(1, min(workers, len(jobs) or 1))
    if config.kind != "pool":
        return _submitit(function, jobs, workers, config, folder or Path("jobs"), report)
    if workers == 1:
        for job in jobs:
            report(function(job))
        return []
    return _pool(function, jobs, workers, report, retries)


def _pool(function: Callable[[Any], str], jobs: list[Any], workers: int,
          report: Callable[[str], None], retries: int) -> list[str]:
    """Spawned worker processes, each handed one job at a time. Written here because neither
    ``multiprocessing.Pool`` (which waits forever for the job of a worker that died) nor
    ``concurrent.futures`` (which breaks the whole pool) carries on past a dead worker."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    threads = max(1, thread_budget() // workers)
    pending = list(range(len(jobs)))
    holding: dict[Any, int | None] = {}  # worker process -> the job it holds
    inboxes: dict[Any, Any] = {}
    attempts = dict.fromkeys(range(len(jobs)), 0)
    failed: list[str] = []
    done: set[int] = set()
    started = 0

    def start() -> None:
        nonlocal started
        inbox = context.Queue()
        process = context.Process(target=_worker, args=(
            function, jobs, inbox, results, threads, started, os.getpid()), daemon=True)
        started += 1
        process.start()
        holding[process], inboxes[process] = None, inbox

    def hand_out() -> None:
        for process, held in holding.items():
            if held is None and pending:
                index = pending.pop(0)
                attempts[index] += 1
                holding[process] = index
                inboxes[process].put(index)

    def read(timeout: float) -> None:
        try:
            kind, pid, index, payload = results.get(timeout=timeout)
        except queue.Empty:
            return
        if kind == "error":
            raise payload
        done.add(index)
        for process, held in holding.items():
            if process.pid == pid and held == index:
                holding[process] = None
        report(payload)

    for _ in range(workers):
        start()
    try:
        while len(done) + len(failed) < len(jobs):
            hand_out()
            read(0.2)
            for process in [p for p in holding if not p.is_alive()]:
                while not results.empty():  # what it said before it died
                    read(0.0)
                held = holding.pop(process)
                inboxes.pop(process)
                if held is not None and held not in done:
                    if attempts[held] <= retries:  # give its job to another worker
                        pending.insert(0, held)
                    else:
                        failed.append(f"job {held}: its worker died {attempts[held]} times "
                                      f"(exit code {process.exitcode})")
                if pending:
                    start()
        return failed
    finally:
        for inbox in inboxes.values():
            inbox.put(None)
        for process in holding:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()


def _worker(function: Callable[[Any], str], jobs: list[Any], inbox: Any, results: Any,
            threads: int, number: int, parent: int) -> None:
    """A pool worker: runs the jobs it is handed until it is handed ``None``."""
    import torch

    global _WORKER
    _WORKER = number
    follow_parent(parent)  # a killed command leaves no worker training on
    retain_freed_memory()
    os.environ[ENV] = str(threads)
    torch.set_num_threads(threads)
    while (index := inbox.get()) is not None:
        try:
            line = function(jobs[index])
        except BaseException as error:  # handed to the command, which raises it
            try:
                pickle.dumps(error)
            except Exception:  # an exception that does not pickle: its text
                error = RuntimeError("".join(traceback.format_exception_only(error)).strip())
            results.put(("error", os.getpid(), index, error))
            results.close()
            results.join_thread()  # sent before the process ends
            return
        results.put(("done", os.getpid(), index, line))


def _submitit(function: Callable[[Any], str], jobs: list[Any], workers: int,
              config: ExecutorConfig, folder: Path, report: Callable[[str], None]
              ) -> list[str]:
    """One submitit job per job: the job's threads are SLURM's CPUs if set, else this
    command's share."""
    import submitit

    # the job files hold the jobs' arguments: their folder is its owner's only, and what is
    # submitted is written with umask 077 (the jobs' own work keeps this command's umask)
    umask = current_umask()
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    executor = submitit.AutoExecutor(folder=folder / "%j",
                                     cluster="local" if config.kind == "local" else "slurm")
    parameters: dict[str, Any] = {"timeout_min": config.timeout_min, "name": "eamp"}
    if config.kind == "slurm":
        parameters["slurm_array_parallelism"] = workers
        parameters.update({f"slurm_{k}": v for k, v in config.slurm.items()})
    executor.update_parameters(**parameters)
    threads = max(1, thread_budget() // workers)
    failed: list[str] = []

    def collect(job: Any) -> None:
        try:
            report(job.result())
        except Exception as error:  # submitit raises its own kinds for dead jobs
            last = str(error).strip().splitlines()[-1:] or [type(error).__name__]
            failed.append(f"job {job.job_id}: {last[0]}")

    calls = [_Threaded(function, threads, umask) for _ in jobs]
    if config.kind == "slurm":
        with owner_only():
            submitted = executor.map_array(_call, calls, jobs)
        for job in submitted:
            collect(job)
        return failed
    # submitit's local executor starts every job at once and has no limit of its own
    pending, running = list(zip(calls, jobs, strict=True)), []
    while pending or running:
        while pending and len(running) < workers:
            with owner_only():
                running.append(executor.submit(_call, *pending.pop(0)))
        done = [job for job in running if job.done()]
        for job in done:
            running.remove(job)
            collect(job)
        if not done:
            time.sleep(0.2)
    return failed


@dataclass(frozen=True)
class _Threaded:
    """``function`` to run in a job of its own with ``threads`` threads (SLURM's CPUs per
    task where it sets them) and the submitting command's ``umask``."""

    function: Callable[[Any], str]
    threads: int
    umask: int


def _call(call: _Threaded, job: Any) -> str:
    import torch

    os.umask(call.umask)
    retain_freed_memory()
    threads = int(os.environ.get("SLURM_CPUS_PER_TASK", call.threads))
    os.environ[ENV] = str(threads)
    torch.set_num_threads(threads)
    return call.function(job)
