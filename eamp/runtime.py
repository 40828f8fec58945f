"""How many threads eamp's processes use, so that runs side by side share the cores instead of
fighting over them (two processes with as many threads as cores each slowed one another
about 20x on a 2-core machine, where sharing fairly costs 2x)."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable

__all__ = ["alive", "defer_exit", "follow_parent", "retain_freed_memory", "thread_budget",
           "use_threads", "warn_if_busy", "worker_threads"]

ENV = "EAMP_NUM_THREADS"

# held while a step must not be cut in two; follow_parent's watcher takes it before it ends
# the process
_EXIT = threading.Lock()


def thread_budget(requested: int | None = None) -> int:
    """The threads this command may use in all: ``requested`` (``--threads``), else
    ``$EAMP_NUM_THREADS``, else the number of cores; at most the number of cores (more
    threads than cores only slow a run down, and OpenMP starts every one it is given).
    Workers of one command split it."""
    cores = os.cpu_count() or 1
    if requested is None:
        text = os.environ.get(ENV)
        if text is None:
            return cores
        if not text.strip().isdigit():
            raise ValueError(f"{ENV}: expected an integer from 1 to {cores} (this machine's "
                             f"cores), got {text!r}")
        requested, name = int(text), ENV
    else:
        name = "threads"
    if not 1 <= requested <= cores:
        raise ValueError(f"{name}: expected an integer from 1 to {cores} (this machine's "
                         f"cores), got {requested}")
    return requested


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


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_MAX = 32 * 2**20  # glibc's ceiling on 64-bit systems
_TRIM_THRESHOLD = 2**30
_RETAINED = False


def retain_freed_memory() -> bool:
    """Makes glibc's ``malloc`` keep freed memory for the next allocation instead of handing
    it back to the system, as the allocators PyTorch's CPU performance guide recommends
    (jemalloc, tcmalloc) do. A training step allocates and frees tensors of a few MB each
    (a ``[n, d]`` embedding of every layer); by default glibc serves each from fresh pages
    (``mmap``) and returns them when freed, and the first touch of every page then costs a
    page fault: on a virtual machine, where faults are slow, a fresh ``2708 x 256`` float
    tensor cost 2 ms to fill against 0.3 ms for a reused one. Allocations up to 32 MB come
    from the heap instead, and up to 1 GB of freed memory stays with the process.

    Called by the command line in every process that trains (the command and its workers).
    Does nothing, and returns ``False``, where the C library is not glibc, or where the
    user already chose: another allocator preloaded (``LD_PRELOAD``) or glibc's own
    variables set (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``). Idempotent."""
    global _RETAINED
    if _RETAINED:
        return True
    if (not sys.platform.startswith("linux") or os.environ.get("LD_PRELOAD")
            or any(k in os.environ for k in ("MALLOC_MMAP_THRESHOLD_",
                                             "MALLOC_TRIM_THRESHOLD_"))):
        return False
    import ctypes
    import platform

    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    _RETAINED = bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)) and bool(
        mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
    return _RETAINED


def worker_threads(workers: int) -> int:
    """Each of ``workers`` processes' share of the budget (at least 1)."""
    return max(1, thread_budget() // max(1, workers))


def follow_parent(parent: int) -> None:
    """Ends this worker process (exit status 1) within a second of ``parent`` ending: killing
    a command stops its workers too, instead of leaving them training on as orphans that take
    the cores from the next command. Watches from a daemon thread; a step under
    :func:`defer_exit` finishes first."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        _EXIT.acquire()
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def defer_exit() -> Callable[[], None]:
    """Holds off :func:`follow_parent`'s end of the process until the returned function is
    called (calling it again does nothing): a step that must not be cut in two by the
    parent's death, such as a new Optuna trial and the attributes that name its worker,
    finishes first. Keep the step short: the worker outlives its parent by as much."""
    _EXIT.acquire()
    done = False

    def resume() -> None:
        nonlocal done
        if not done:
            done = True
            _EXIT.release()

    return resume


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


def alive(pid: int) -> bool:
    """Whether process ``pid`` of this host runs (a zombie, dead but not reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc: trust the signal
