"""What a run hands back (:class:`RunResult`) and the schema of ``result.json``, in one
place: :meth:`RunResult.to_json` writes it and :func:`read_result` reads it for the run
store, tuning and the reports."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import eamp
from eamp.io import write_json_atomic
from eamp.training.config import TrainConfig

if TYPE_CHECKING:
    import torch

__all__ = ["RESULT_SCHEMA", "RunResult", "SplitResult", "config_differences",
           "describe_differences", "environment", "ran_on", "read_result", "run_hardware",
           "run_versions", "versions"]

RESULT_SCHEMA = 1


@dataclass
class SplitResult:
    split_index: int
    best_val_acc: float
    test_acc: float
    train_acc: float
    val_score: float
    test_score: float
    val_loss: float
    best_epoch: int
    epochs_run: int
    val_curve: list[float]
    val_loss_curve: list[float]
    layer_energy: list[float]
    layer_mad: list[float]
    layer_effective_rank: list[float]
    epoch_times: list[float]
    num_parameters: int


@dataclass
class RunResult:
    """What ``result.json`` holds. The kept epoch is chosen by ``config["select"]``;
    ``best_val_acc`` and ``test_acc`` are the validation and test accuracy there (with the
    default selection, ``best_val_acc`` is the best validation accuracy over epochs, what
    the paper reported); ``val_score`` and ``test_score`` are the same in the dataset's
    ``metric`` (accuracy, or ROC AUC); ``val_loss`` the validation loss there.
    ``layer_energy``, ``layer_mad`` and ``layer_effective_rank`` measure the kept model's
    hidden states, input first (:mod:`eamp.metrics`), on the whole graph (in cluster
    batching, on the first evaluation batch). Over several splits all are means, and
    ``splits`` has each one. ``wall_time_s``: the seconds :func:`train` took, loading the
    data included (``nan`` in results stored before it was recorded)."""

    model: str
    dataset: str
    depth: int
    seed: int
    config: dict[str, Any]
    best_val_acc: float
    test_acc: float
    layer_energy: list[float]
    epoch_time_s: float
    splits: list[dict[str, Any]]
    versions: dict[str, str]
    num_parameters: int
    environment: dict[str, Any] = field(default_factory=dict)
    layer_mad: list[float] = field(default_factory=list)
    layer_effective_rank: list[float] = field(default_factory=list)
    metric: str = "accuracy"
    val_score: float = float("nan")
    test_score: float = float("nan")
    val_loss: float = float("nan")
    wall_time_s: float = float("nan")
    schema: int = RESULT_SCHEMA

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, path: str | os.PathLike) -> None:
        write_json_atomic(path, self.to_dict())


# what a result.json must hold, and of which type, to be read as one
_RESULT_TYPES: dict[str, tuple[type, ...]] = {
    "model": (str,), "dataset": (str,), "depth": (int,), "seed": (int,),
    "best_val_acc": (int, float), "test_acc": (int, float), "layer_energy": (list,),
    "config": (dict,),
}


def read_result(path: str | os.PathLike) -> dict[str, Any]:
    """Reads a ``result.json``; raises ``ValueError`` if it is not one (unreadable, not JSON,
    a key missing or of the wrong type)."""
    try:
        with open(path) as handle:
            payload = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a readable result.json ({error})") from None
    if not isinstance(payload, dict):
        raise ValueError(f"{path}: not a result.json (a JSON {type(payload).__name__})")
    missing = set(_RESULT_TYPES) - set(payload)
    if missing:
        raise ValueError(f"{path}: not a result.json (missing {', '.join(sorted(missing))})")
    for key, types in _RESULT_TYPES.items():
        value = payload[key]
        if isinstance(value, bool) or not isinstance(value, types):
            raise ValueError(f"{path}: not a result.json ({key} is {value!r})")
    if not all(isinstance(e, (int, float)) for e in payload["layer_energy"]):
        raise ValueError(f"{path}: not a result.json (layer_energy holds non-numbers)")
    return payload


# where and how a run computes, not what: a stored result from another data folder or
# device, or with(out) activation checkpointing (same gradients), counts
_WHERE = ("data_dir", "device", "checkpoint")


def config_differences(stored: dict[str, Any], config: TrainConfig) -> dict[str, tuple]:
    """``{setting: (stored, planned)}`` where a result's stored config differs from
    ``config``; ``data_dir`` and ``device`` (where the data lives and the run computes, not
    what it computes) are not compared."""
    planned = config.as_dict()
    defaults = {name: f.default for name, f in TrainConfig.__dataclass_fields__.items()}
    # a setting added after the result was stored counts at its default
    return {key: (stored.get(key), value) for key, value in planned.items()
            if key not in _WHERE and stored.get(key, defaults.get(key)) != value}


def describe_differences(differences: dict[str, tuple]) -> str:
    """:func:`config_differences` as one phrase: ``setting stored -> planned, ...``."""
    return ", ".join(f"{k} {old!r} -> {new!r}" for k, (old, new) in differences.items())


def environment(device: torch.device, precision: str, sparse_input: bool | str,
                cut_fraction: float | None = None) -> dict[str, Any]:
    """What a run's numbers depend on besides its config: a deep network's result moves
    with the summation order, which the device, the thread count and the deterministic
    flags set; the precision and a sparse input projection (``"per batch"`` in cluster
    batching) are recorded with them; cluster batching adds the share of cut edges."""
    import torch

    from eamp.device import device_name

    cut = {} if cut_fraction is None else {"cut_fraction": cut_fraction}
    return {"threads": torch.get_num_threads(),
            "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
            "cudnn_deterministic": torch.backends.cudnn.deterministic,
            "device": str(device), "device_name": device_name(device),
            "precision": precision, "sparse_input": sparse_input, **cut}


def versions() -> dict[str, str]:
    import torch
    import torch_geometric

    return {"eamp": eamp.__version__, "torch": torch.__version__,
            "torch_geometric": torch_geometric.__version__,
            "python": sys.version.split()[0]}


def run_versions(results: list[dict[str, Any]]) -> str:
    """The package versions the runs ``results`` were trained with, each package's distinct
    versions in order: ``eamp 0.1.0, torch 2.13.0+cpu, ...``."""
    found: dict[str, set[str]] = {}
    for result in results:
        for package, version in result.get("versions", {}).items():
            found.setdefault(package, set()).add(str(version))
    return ", ".join(f"{package} {' / '.join(sorted(versions))}"
                     for package, versions in found.items()) or "none stored"


def ran_on(result: Mapping[str, Any]) -> str:
    """Where a run trained, from its recorded environment: the CPU model and thread count
    (``"AMD EPYC, 1 thread"``) or the GPU's name (``"?"`` for a result stored before the
    environment was recorded)."""
    env = result.get("environment")
    if not env:
        return "?"
    if str(env.get("device", "cpu")).startswith("cpu"):
        threads = int(env.get("threads", 1))
        return (f"{env.get('device_name') or 'cpu'}, {threads} "
                f"thread{'s' if threads != 1 else ''}")
    return str(env.get("device_name") or env.get("device"))


def run_hardware(results: list[Mapping[str, Any]]) -> str:
    """Where the runs ``results`` trained, each place with its number of runs:
    ``AMD EPYC, 1 thread (50 runs)``."""
    counts = Counter(ran_on(result) for result in results)
    return "; ".join(f"{where} ({n} run{'s' if n != 1 else ''})"
                     for where, n in sorted(counts.items())) or "none stored"
