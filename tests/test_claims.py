"""Commands sharing a run store train each run once between them: a claim per run
(``claim.json`` beside its ``result.json``), taken over when its holder is dead."""

import json
import os
import socket
import subprocess
import sys
import time

from eamp.runs import claims
from eamp.runs.claims import Holder, claim_path, take
from eamp.runs.store import RunSpec, run_all
from eamp.training import TrainConfig


def _specs(count, epochs=3):
    return [RunSpec("claims", TrainConfig("gcn", "csbm", 2, hidden=8, epochs=epochs,
                                          patience=epochs, seed=seed)) for seed in range(count)]


_COMMAND = """
import json, sys
from pathlib import Path
from test_claims import _specs
from eamp.runs.store import run_all
tally = run_all(_specs(6, epochs=150), Path(sys.argv[1]), workers=1, force=False, wait=True)
print(json.dumps({"trained": tally.trained, "done": tally.done, "waited": tally.waited}))
"""


def test_two_commands_on_one_store_train_every_run_once_between_them(tmp_path):
    env = {**os.environ, "EAMP_NUM_THREADS": "1", "EAMP_CLAIM_POLL_S": "0.5",
           "PYTHONPATH": os.path.dirname(__file__)}
    commands = []
    for _ in range(2):
        commands.append(subprocess.Popen([sys.executable, "-c", _COMMAND, str(tmp_path)],
                                         stdout=subprocess.PIPE, text=True, env=env))
        time.sleep(0.5)
    tallies = []
    for command in commands:
        out, _ = command.communicate(timeout=300)
        assert command.returncode == 0
        tallies.append(json.loads(out.strip().splitlines()[-1]))
    # trainings, counted by the commands themselves: six between them, none twice
    assert sum(t["trained"] for t in tallies) == 6
    assert all(t["trained"] > 0 for t in tallies), tallies  # they did share the work
    for t in tallies:  # each accounts for every run, and waited for the other's
        assert t["trained"] + t["done"] + t["waited"] == 6
    assert len(list(tmp_path.rglob("result.json"))) == 6
    assert not list(tmp_path.rglob("claim.json"))  # every claim released


def test_a_run_held_by_a_live_process_is_skipped_and_named(tmp_path, capsys):
    specs = _specs(3)
    held = take(claim_path(tmp_path / specs[1].relpath))  # this process, alive
    tally = run_all(specs, tmp_path, workers=1, force=False)
    assert (tally.trained, tally.done) == (2, 0)
    assert tally.held == {f"{socket.gethostname()}:{os.getpid()}": 1}
    out = capsys.readouterr().out
    assert f"1 held by {socket.gethostname()}:{os.getpid()}, not waited for" in out
    assert "[3/3]" in out and f"held by {socket.gethostname()}" in out  # each run said
    held.release()
    assert not claim_path(tmp_path / specs[1].relpath).exists()
    tally = run_all(specs, tmp_path, workers=1, force=False)
    assert (tally.trained, tally.done, tally.held) == (1, 2, {})


def _write_claim(path, host, pid, age=0.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"host": host, "pid": pid, "started": time.time() - age,
                                "token": "t"}))
    os.utime(path, (time.time() - age, time.time() - age))


def test_a_claim_left_by_a_killed_process_is_taken_over_and_the_run_finishes(tmp_path):
    (spec,) = _specs(1)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid names no process now
    _write_claim(claim_path(tmp_path / spec.relpath), socket.gethostname(), dead.pid)
    tally = run_all([spec], tmp_path, workers=1, force=False)
    assert (tally.trained, tally.held) == (1, {})
    assert (tmp_path / spec.relpath).exists()
    assert not claim_path(tmp_path / spec.relpath).exists()


def test_another_hosts_claim_is_taken_over_once_it_is_not_refreshed(tmp_path, monkeypatch):
    monkeypatch.setattr(claims, "GRACE_S", 60.0)
    (spec,) = _specs(1)
    path = claim_path(tmp_path / spec.relpath)
    _write_claim(path, "elsewhere", 1, age=30.0)  # refreshed 30 s ago: alive
    assert take(path) == Holder("elsewhere", 1, json.loads(path.read_text())["started"], "t")
    assert run_all([spec], tmp_path, workers=1, force=False).held == {"elsewhere:1": 1}
    os.utime(path, (time.time() - 61, time.time() - 61))  # silent past the grace period
    tally = run_all([spec], tmp_path, workers=1, force=False)
    assert (tally.trained, tally.held) == (1, {})


def test_a_live_claim_is_refreshed_while_its_run_trains(tmp_path, monkeypatch):
    monkeypatch.setattr(claims, "REFRESH_S", 0.05)
    path = tmp_path / "claim.json"
    claim = take(path)
    os.utime(path, (0, 0))
    deadline = time.time() + 5
    while path.stat().st_mtime == 0 and time.time() < deadline:
        time.sleep(0.05)
    assert path.stat().st_mtime > 0
    claim.release()
    assert not path.exists()
