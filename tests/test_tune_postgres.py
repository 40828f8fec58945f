"""``eamp tune`` against a real PostgreSQL server: two separate commands share one study,
a worker of one is killed mid-trial, and the study still ends with exactly the asked
number of finished trials.

The server is started here (``initdb`` and ``pg_ctl`` in a temporary folder, listening on
127.0.0.1 only, as the unprivileged user ``nobody`` when the tests run as root, since
PostgreSQL refuses to run as root). Without PostgreSQL's programs or ``psycopg`` the test
skips with the reason, unless ``EAMP_REQUIRE_POSTGRES=1`` (set by ``.ci/run``, which
installs both) makes that a failure.
"""

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest
from optuna.trial import TrialState
from test_tune import _study, _tune_process


def _missing(reason: str) -> None:
    if os.environ.get("EAMP_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"EAMP_REQUIRE_POSTGRES=1 but {reason}")
    pytest.skip(reason)


def _postgres_bin() -> str | None:
    if shutil.which("pg_ctl") and shutil.which("initdb"):
        return os.path.dirname(shutil.which("pg_ctl"))
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))  # Debian's layout
    return os.path.dirname(found[-1]) if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    try:
        import psycopg
    except ImportError:
        _missing("psycopg is not installed (pip install 'psycopg[binary]')")
    folder = _postgres_bin()
    if folder is None:
        _missing("PostgreSQL's initdb and pg_ctl are not on this machine "
                 "(Debian: apt-get install postgresql)")
    as_root = os.geteuid() == 0
    user = {"user": "nobody", "group": "nogroup"} if as_root else {}
    base = tempfile.mkdtemp(prefix="eamp-pg-")  # /tmp itself: nobody can reach it
    data = os.path.join(base, "data")
    if as_root:
        shutil.chown(base, "nobody", "nogroup")
    port = _free_port()

    def run(*command: str) -> None:
        subprocess.run(command, check=True, capture_output=True, cwd=base, **user)

    run(os.path.join(folder, "initdb"), "-D", data, "-U", "eamp", "--auth=trust",
        "--no-sync")
    run(os.path.join(folder, "pg_ctl"), "-D", data, "-w", "-t", "60", "-l",
        os.path.join(base, "log"), "-o",
        f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories='' "
        "-c fsync=off -c max_connections=100", "start")
    try:
        with psycopg.connect(f"postgresql://eamp@127.0.0.1:{port}/postgres",
                             autocommit=True) as connection:
            connection.execute("CREATE DATABASE optuna")
        yield f"postgresql+psycopg://eamp@127.0.0.1:{port}/optuna"
    finally:
        subprocess.run([os.path.join(folder, "pg_ctl"), "-D", data, "-m", "immediate",
                        "stop"], capture_output=True, cwd=base, **user)
        shutil.rmtree(base, ignore_errors=True)


def _parent(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def test_two_commands_share_a_postgres_study_and_a_killed_worker_is_replaced(
        tmp_path, postgres_url):
    first = _tune_process(tmp_path / "a", postgres_url, 2, 2)
    second = _tune_process(tmp_path / "b", postgres_url, 1, 1)
    try:
        victim = None
        deadline = time.time() + 180
        while victim is None and time.time() < deadline:
            try:
                running = _study(postgres_url, "s").get_trials(states=(TrialState.RUNNING,))
            except KeyError:  # the study is not created yet
                running = []
            # a worker process of the first command (its child) in the middle of a trial
            victim = next((t.user_attrs["pid"] for t in running
                           if _parent(t.user_attrs.get("pid", -1)) == first.pid), None)
            time.sleep(0.2)
        assert victim is not None, "no worker of the first command started a trial"
        os.kill(victim, signal.SIGKILL)
        for command in (first, second):
            _, err = command.communicate(timeout=300)
            assert command.returncode == 0, err
    finally:
        for command in (first, second):
            if command.poll() is None:
                command.kill()
    states = [t.state for t in _study(postgres_url, "s").get_trials()]
    assert states.count(TrialState.FAIL) == 1  # the killed one
    assert states.count(TrialState.RUNNING) == 0
    assert states.count(TrialState.COMPLETE) + states.count(TrialState.PRUNED) == 2 + 1
    assert (tmp_path / "a" / "best.json").exists() and (tmp_path / "b" / "best.json").exists()
