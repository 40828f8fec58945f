"""Files written whole or not at all: a reader never sees half a file, and an interrupted
run leaves no partial result behind."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = ["current_umask", "owner_only", "read_csv", "save_torch_atomic", "write_csv",
           "write_json_atomic", "write_text_atomic"]


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Writes ``text`` to ``path`` through a temporary file in the same folder and a rename;
    creates the folder if needed."""
    return _write_atomic(path, lambda handle: handle.write(text), "w")


def save_torch_atomic(path: str | os.PathLike, payload: Any) -> Path:
    """``torch.save(payload)`` to ``path``, atomically (as :func:`write_text_atomic`): a run
    killed while saving its training state leaves the previous state whole."""
    import torch

    return _write_atomic(path, lambda handle: torch.save(payload, handle), "wb")


def _write_atomic(path: str | os.PathLike, write: Callable[[Any], Any], mode: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes 0600; a result is an ordinary file
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, mode, **({"newline": ""} if "b" not in mode else {})) as handle:
            write(handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def current_umask() -> int:
    """This process's umask (reading it means setting it: set back at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json_atomic(path: str | os.PathLike, payload: Any) -> Path:
    """``payload`` as indented JSON, atomically (:func:`write_text_atomic`)."""
    return write_text_atomic(path, json.dumps(payload, indent=2) + "\n")


def write_csv(path: Path, rows: Iterable[dict], columns: Sequence[str]) -> Path:
    """Tidy ``rows`` as CSV with ``columns`` (other keys are left out), atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return write_text_atomic(path, buffer.getvalue())


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@contextlib.contextmanager
def owner_only() -> Iterator[None]:
    """Within it, every folder and file this process (and any process it starts) creates is
    its owner's only (umask 077: folders 0700, files 0600): for what may hold credentials or
    what others on a shared file system should not read."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)
