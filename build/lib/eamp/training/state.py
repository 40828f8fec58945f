"""The resumable training state of one run in progress, kept in one file."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from eamp.checks import real_number
from eamp.io import save_torch_atomic
from eamp.training.config import TrainConfig
from eamp.training.result import SplitResult, config_differences, describe_differences

__all__ = ["RunState", "random_state", "set_random_state"]


def random_state() -> dict[str, Any]:
    """The random states training draws from: the CPU's and every GPU's default generator
    (dropout, initialisation); cluster batching's shuffle has a generator of its own."""
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else []
    return {"cpu": torch.get_rng_state(), "cuda": cuda}


def set_random_state(state: dict[str, Any]) -> None:
    """Restores what :func:`random_state` returned (the GPUs' states where there are as many
    GPUs: a run saved on a GPU and resumed elsewhere continues, though not bit for bit)."""
    torch.set_rng_state(state["cpu"])
    if state["cuda"] and torch.cuda.is_available() \
            and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


# the version of the state file's layout: a state of another version is not resumed
_STATE_FORMAT = 1


class RunState:
    """The training state of one run in progress, kept in one file (``train``'s
    ``state_file``): the finished splits' results and the running split's state. Read when
    the run starts (a state of other settings, or unreadable, is said and replaced)."""

    def __init__(self, path: str | os.PathLike, config: TrainConfig,
                 save_every_s: float) -> None:
        save_every_s = real_number("save_every_s", save_every_s, low=0.0)
        self.path, self.save_every_s = Path(path), save_every_s
        self.payload: dict[str, Any] = {"format": _STATE_FORMAT, "config": config.as_dict(),
                                        "elapsed_s": 0.0, "resumes": 0, "done": [],
                                        "split": None}
        stored = self._read(config)
        if stored is not None:
            stored["resumes"] += 1
            self.payload = stored
            split = stored["split"]
            where = (f"split {split['index']}, epoch {split['epoch']}" if split is not None
                     else f"{len(stored['done'])} split(s) done")
            print(f"eamp: {self.path}: continuing from its saved training state ({where}, "
                  f"{stored['elapsed_s']:.0f} s trained)", file=sys.stderr)
        self.elapsed_before = float(self.payload["elapsed_s"])
        self.resumes = int(self.payload["resumes"])
        self.started = self.last_save = time.perf_counter()

    def _read(self, config: TrainConfig) -> dict[str, Any] | None:
        if not self.path.exists():
            return None
        try:
            stored = torch.load(self.path, map_location="cpu", weights_only=True)
            if stored.get("format") != _STATE_FORMAT:
                raise ValueError(f"format {stored.get('format')!r}, not {_STATE_FORMAT}")
        except Exception as error:  # a state that cannot be read is trained again
            print(f"eamp: {self.path}: not a readable training state ({error}); the run "
                  "starts over", file=sys.stderr)
            return None
        differences = config_differences(stored["config"], config)
        if differences:
            print(f"eamp: {self.path}: a training state of other settings "
                  f"({describe_differences(differences)}); the run starts over",
                  file=sys.stderr)
            return None
        return stored

    def finished_splits(self) -> list[SplitResult]:
        return [SplitResult(**split) for split in self.payload["done"]]

    def split_state(self, index: int) -> dict[str, Any] | None:
        """The saved state of split ``index``, if that is the split the run was in."""
        split = self.payload["split"]
        return split if split is not None and split["index"] == index else None

    def due(self) -> bool:
        return time.perf_counter() - self.last_save >= self.save_every_s

    def save_split(self, split: dict[str, Any]) -> None:
        self.payload["split"] = split
        self._save()

    def finish_split(self, result: SplitResult) -> None:
        self.payload["done"].append(asdict(result))
        self.payload["split"] = None
        self._save()

    def _save(self) -> None:
        self.payload["elapsed_s"] = self.elapsed_before + time.perf_counter() - self.started
        save_torch_atomic(self.path, self.payload)
        self.last_save = time.perf_counter()

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


