"""Where the runs of ``eamp reproduce`` and ``eamp benchmark`` execute: a local process pool
(default), or one job per run through submitit (its local executor: subprocesses on this
machine; its SLURM executor: a cluster). The run store stays the single source of truth: a
job writes its run's ``result.json`` and nothing else, and a sweep interrupted anywhere
resumes with the same command, which trains only what the store lacks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["EXECUTORS", "ExecutorConfig", "run_jobs"]

EXECUTORS = ("pool", "local", "slurm")


@dataclass(frozen=True)
class ExecutorConfig:
    """Args:
        kind (str): ``"pool"`` (a ``multiprocessing`` pool of ``workers`` processes),
            ``"local"`` (submitit's local executor: one subprocess per run, at most
            ``workers`` at a time) or ``"slurm"`` (submitit's SLURM executor: one job per
            run in a job array of at most ``workers`` running at once). (default: ``"pool"``)
        timeout_min (int): a job's time limit in minutes. (default: ``240``)
        slurm (mapping): SLURM parameters by submitit's names without the ``slurm_``
            prefix (``partition``, ``gpus_per_task``, ``cpus_per_task``, ``mem``,
            ``account``, ``qos``, ``constraint``, ...). (default: none)
    """

    kind: str = "pool"
    timeout_min: int = 240
    slurm: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in EXECUTORS:
            raise ValueError(f"executor: expected one of {', '.join(EXECUTORS)}, got "
                             f"{self.kind!r}")
        if self.slurm and self.kind != "slurm":
            raise ValueError(f"slurm options: given with executor {self.kind!r}; they apply "
                             "to --executor slurm")
        if isinstance(self.timeout_min, bool) or not isinstance(self.timeout_min, int) \
                or self.timeout_min < 1:
            raise ValueError(f"timeout_min: expected an integer >= 1, got {self.timeout_min!r}")


def run_jobs(function: Callable[[Any], str], jobs: list[Any], folder: Path, workers: int,
             config: ExecutorConfig, report: Callable[[str], None]) -> list[str]:
    """Runs ``function(job)`` for every job through submitit; calls ``report`` with each
    finished job's line. Returns one line per job that failed (killed, timed out, or raised),
    which the next invocation retrains."""
    import submitit

    executor = submitit.AutoExecutor(folder=folder / "%j",
                                     cluster="local" if config.kind == "local" else "slurm")
    parameters: dict[str, Any] = {"timeout_min": config.timeout_min, "name": "eamp"}
    if config.kind == "slurm":
        parameters["slurm_array_parallelism"] = workers
        parameters.update({f"slurm_{k}": v for k, v in config.slurm.items()})
    executor.update_parameters(**parameters)
    failed: list[str] = []

    def collect(job: Any) -> None:
        try:
            report(job.result())
        except Exception as error:  # submitit raises its own kinds for dead jobs
            last = str(error).strip().splitlines()[-1:] or [type(error).__name__]
            failed.append(f"job {job.job_id}: {last[0]}")

    if config.kind == "slurm":
        for job in executor.map_array(function, jobs):
            collect(job)
        return failed
    # submitit's local executor starts every job at once: keep at most `workers` running
    pending, running = list(jobs), []
    while pending or running:
        while pending and len(running) < workers:
            running.append(executor.submit(function, pending.pop(0)))
        done = [job for job in running if job.done()]
        for job in done:
            running.remove(job)
            collect(job)
        if not done:
            time.sleep(0.2)
    return failed
