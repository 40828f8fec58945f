"""Who is training a run of the store right now: a claim per run, so that commands sharing a
store (two on one machine, a SLURM array beside a local command, machines on a network file
system) train each run once between them.

A claim is a file ``claim.json`` beside the run's ``result.json``, created with ``O_EXCL``
(atomic on local disks and on NFS) and naming its holder: host, process, start time and a
token. The holder refreshes its modification time every :data:`REFRESH_S` seconds while it
trains and removes it when the run is stored. A claim is stale, and taken over, when its
process is gone (on this host) or when it has not been refreshed for :data:`GRACE_S`
seconds (on another host, whose processes this one cannot see); the run then continues from
its saved training state. No ``flock``: its semantics on network file systems vary.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from eamp.runtime import alive

__all__ = ["GRACE_S", "REFRESH_S", "Claim", "Holder", "claim_path", "holder", "take"]

# seconds between two refreshes of a live claim
REFRESH_S = float(os.environ.get("EAMP_CLAIM_REFRESH_S", "30"))
# seconds without a refresh after which another host's claim is taken to be a dead one's
GRACE_S = float(os.environ.get("EAMP_CLAIM_GRACE_S", "300"))


@dataclass(frozen=True)
class Holder:
    """Who holds a claim."""

    host: str
    pid: int
    started: float
    token: str

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}"


def claim_path(result: str | os.PathLike) -> Path:
    """The claim of the run whose result goes to ``result``."""
    return Path(result).with_name("claim.json")


def holder(path: Path) -> Holder | None:
    """The holder named in the claim ``path``, or ``None`` if there is none (or it cannot be
    read: a claim being written, or a broken one, which then counts as stale)."""
    try:
        return Holder(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def stale(path: Path, found: Holder | None, now: float | None = None) -> bool:
    """Whether the claim ``path`` (holding ``found``) belongs to nobody alive: its process is
    gone (this host), or it was not refreshed for :data:`GRACE_S` seconds."""
    try:
        age = (time.time() if now is None else now) - path.stat().st_mtime
    except FileNotFoundError:
        return True
    if found is None:  # unreadable: stale once old enough to be no claim being written
        return age > min(GRACE_S, 10.0)
    if found.host == socket.gethostname():
        return not alive(found.pid)
    return age > GRACE_S


class Claim:
    """A claim this process holds: refreshed from a daemon thread until :meth:`release`."""

    def __init__(self, path: Path, mine: Holder) -> None:
        self.path, self.holder = path, mine
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._refresh, daemon=True)
        self._thread.start()

    def _refresh(self) -> None:
        while not self._stop.wait(REFRESH_S):
            try:
                os.utime(self.path)
            except OSError:
                return

    def release(self) -> None:
        """Stops refreshing and removes the claim if it is still this process's."""
        self._stop.set()
        if holder(self.path) == self.holder:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def take(path: Path) -> Claim | Holder:
    """Claims ``path`` for this process: a :class:`Claim`, or the live :class:`Holder` of
    the claim another process has. A stale claim is taken over (renamed away first, so that
    of two processes taking it over at once one wins)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mine = Holder(socket.gethostname(), os.getpid(), time.time(), uuid.uuid4().hex)
    for _ in range(5):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            found = holder(path)
            if not stale(path, found):
                if found is None:  # being written: look again
                    time.sleep(0.1)
                    continue
                return found
            _remove_stale(path, found)
            continue
        with os.fdopen(fd, "w") as handle:
            json.dump(asdict(mine), handle)
        return Claim(path, mine)
    found = holder(path)
    if found is not None:
        return found
    raise OSError(f"{path}: cannot claim the run (its claim keeps changing)")


def _remove_stale(path: Path, found: Holder | None) -> None:
    """Moves the stale claim ``path`` (judged to hold ``found``) out of the way. If another
    process replaced it with a live claim in between, that claim is put back."""
    aside = path.with_name(f".claim-{uuid.uuid4().hex}.stale")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return  # another process moved it first
    if holder(aside) != found:  # a live claim, made after the stale one was read
        try:
            os.link(aside, path)
        except FileExistsError:
            pass
    aside.unlink(missing_ok=True)
