"""How many threads eamp's processes use, so that runs side by side share the cores instead of
fighting over them (two processes with as many threads as cores each slowed one another
about 20x here, where sharing fairly costs 2x)."""

from __future__ import annotations

import os
import sys
import threading
import time

__all__ = ["thread_budget", "use_threads", "worker_threads", "warn_if_busy", "follow_parent"]

ENV = "EAMP_NUM_THREADS"


def thread_budget(requested: int | None = None) -> int:
    """The threads this command may use in all: ``requested`` (``--threads``), else
    ``$EAMP_NUM_THREADS``, else the number of cores. Workers of one command split it."""
    if requested is not None:
        return requested
    text = os.environ.get(ENV)
    if text is None:
        return os.cpu_count() or 1
    if not text.strip().isdigit() or int(text) < 1:
        raise ValueError(f"{ENV}: expected an integer >= 1, got {text!r}")
    return int(text)


def use_threads(requested: int | None = None) -> int:
    """Sets torch's threads to :func:`thread_budget` and records it in the environment, so
    that worker processes split the same budget. Returns it.

    Before PyTorch is imported this only sets ``OMP_NUM_THREADS``, which PyTorch reads when
    it starts (the command line imports it only once a command runs)."""
    threads = thread_budget(requested)
    os.environ[ENV] = str(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    return threads


def worker_threads(workers: int) -> int:
    """Each of ``workers`` processes' share of the budget (at least 1)."""
    return max(1, thread_budget() // max(1, workers))


def follow_parent(parent: int) -> None:
    """Ends this worker process (exit status 1) within a second of ``parent`` ending: killing
    a command stops its workers too, instead of leaving them training on as orphans that take
    the cores from the next command. Watches from a daemon thread."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def warn_if_busy() -> None:
    """One line on stderr when the machine is already loaded beyond its cores."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        return
    cores = os.cpu_count() or 1
    if load > cores:
        print(f"eamp: warning: the machine's load ({load:.1f}) is above its {cores} cores: "
              f"processes side by side slow each other down far more than they share; give "
              f"each fewer threads (--threads or {ENV})", file=sys.stderr)
