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
from test_tune import TINY, _study, _tune_process

# the password of the role alice (only a password logs her in)
PASSWORD = "Secret-pw-4711"


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
    # the role alice logs in with a password only (checked: scram-sha-256); eamp is trusted
    with open(os.path.join(data, "pg_hba.conf"), "w") as hba:
        hba.write("host all alice 127.0.0.1/32 scram-sha-256\n"
                  "host all all 127.0.0.1/32 trust\n")
    run(os.path.join(folder, "pg_ctl"), "-D", data, "-w", "-t", "60", "-l",
        os.path.join(base, "log"), "-o",
        f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories='' "
        "-c fsync=off -c max_connections=100", "start")
    try:
        with psycopg.connect(f"postgresql://eamp@127.0.0.1:{port}/postgres",
                             autocommit=True) as connection:
            connection.execute("CREATE DATABASE optuna")
            connection.execute(f"CREATE ROLE alice LOGIN PASSWORD '{PASSWORD}'")
            connection.execute("CREATE DATABASE secret OWNER alice")
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


def _alice(postgres_url: str, password: bool) -> str:
    """The URL of alice's database on the test server, with or without her password."""
    port = postgres_url.rsplit(":", 1)[1].split("/")[0]
    secret = f":{PASSWORD}" if password else ""
    return f"postgresql+psycopg://alice{secret}@127.0.0.1:{port}/secret"


def test_a_storage_that_cannot_be_opened_is_one_line_without_its_password(tmp_path, capsys):
    from eamp.cli import main

    url = f"postgresql+psycopg://alice:{PASSWORD}@127.0.0.1:1/db"  # nothing listens on port 1
    assert main(["tune", *TINY, "--trials", "1", "--out", str(tmp_path / "t"), "--storage",
                 url]) == 2
    err = capsys.readouterr().err
    assert PASSWORD not in err
    errors = [line for line in err.splitlines() if line.startswith("eamp: error: ")]
    assert len(errors) == 1 and "cannot open 'postgresql+psycopg://alice@127.0.0.1:1/db'" \
        in errors[0]
    warned = [line for line in err.splitlines() if line.startswith("eamp: warning: storage")]
    # the warning shows the URL masked and names the safer ways
    assert len(warned) == 1 and "alice:***@127.0.0.1:1/db" in warned[0]
    assert "PGPASSWORD" in warned[0] and "~/.pgpass" in warned[0]


def test_a_url_that_cannot_be_opened_is_named_with_its_password_masked():
    from eamp.runs.storage import make_storage

    with pytest.raises(ValueError) as raised:
        make_storage(f"postgresql+psycopg://alice:{PASSWORD}@127.0.0.1:1/db")
    assert PASSWORD not in str(raised.value) and "alice:***@127.0.0.1:1/db" in str(raised.value)
    assert raised.value.__cause__ is None  # no chained error that would show it


def test_a_password_in_the_url_reaches_no_file_and_what_tune_writes_is_private(
        tmp_path, postgres_url, monkeypatch):
    from eamp.cli import main

    monkeypatch.delenv("PGPASSWORD", raising=False)
    out = tmp_path / "tune"
    assert main(["tune", *TINY, "--epochs", "3", "--trials", "2", "--workers", "2",
                 "--executor", "local", "--out", str(out), "--storage",
                 _alice(postgres_url, password=True), "--study", "private"]) == 0
    assert (out / "best.json").exists() and list((out / "jobs").iterdir())
    for path in [out, *out.rglob("*")]:
        mode = path.stat().st_mode & 0o077
        assert mode == 0, f"{path} is readable by others ({oct(path.stat().st_mode)})"
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), f"{path} holds the password"


def test_a_password_in_pgpassword_and_none_in_the_url_finishes_its_trials(
        tmp_path, postgres_url, monkeypatch):
    from eamp.cli import main

    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    out = tmp_path / "tune"
    assert main(["tune", *TINY, "--epochs", "3", "--trials", "2", "--out", str(out),
                 "--storage", _alice(postgres_url, password=False), "--study", "env"]) == 0
    study = _study(_alice(postgres_url, password=False), "env")
    assert len(study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))) == 2
    monkeypatch.delenv("PGPASSWORD")  # and without it, alice is refused: the check is real
    with pytest.raises(ValueError, match="password authentication failed|no password"):
        _study(_alice(postgres_url, password=False), "env")
