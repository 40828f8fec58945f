"""eamp.runtime: workers that end with the command that started them; the allocator."""

import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# a command (the child) that starts a worker (the grandchild) following it, then waits
COMMAND = """
import subprocess, sys, time
worker = subprocess.Popen([sys.executable, "-c",
    "import os, time; from eamp.runtime import follow_parent; follow_parent(os.getppid()); "
    "time.sleep(60)"])
print(worker.pid, flush=True)
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (ended, not yet reaped by init) counts as ended
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[1].startswith("Z"))


def test_a_worker_ends_with_the_command_that_started_it():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = subprocess.Popen([sys.executable, "-c", COMMAND], stdout=subprocess.PIPE,
                               text=True, env=env)
    worker = int(command.stdout.readline())
    time.sleep(2.0)  # the worker is up and following
    assert _alive(worker)
    command.send_signal(signal.SIGKILL)  # a kill leaves the command no time to clean up
    command.wait()
    deadline = time.monotonic() + 15
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(worker)


# a worker whose parent is gone at once (-1 is nobody's pid) while a deferred step runs
DEFERRED = """
import time
from eamp.runtime import defer_exit, follow_parent
resume = defer_exit()
follow_parent(-1)
time.sleep(2.0)  # the watcher has long seen the parent gone
print("step finished", flush=True)
resume()
time.sleep(30)
print("outlived its parent", flush=True)
"""


def test_a_deferred_step_finishes_before_the_worker_follows_its_parent():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", DEFERRED], capture_output=True, text=True,
                          env=env, timeout=25)
    assert (done.returncode, done.stdout) == (1, "step finished\n")


def test_retained_memory_is_set_in_a_fresh_process_unless_the_user_chose():
    # a subprocess each: the setting is per process and idempotent
    code = ("from eamp.runtime import retain_freed_memory; "
            "print(retain_freed_memory(), retain_freed_memory())")
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ([str(glibc)] * 2)
    out = subprocess.run([sys.executable, "-c", code],
                         env={**env, "MALLOC_TRIM_THRESHOLD_": "1000000"},
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
