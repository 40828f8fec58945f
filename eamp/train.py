"""One full-batch node-classification run: a :class:`TrainConfig` in, a :class:`RunResult` out.

The schema of ``result.json`` lives here, once: :meth:`RunResult.to_json` writes it and
:func:`read_result` reads it for the experiments, tuning and the report.
"""

from __future__ import annotations

import copy
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric import seed_everything
from torch_geometric.data import Data

import eamp
from eamp.batching import BATCHING, PARTITIONS, Batches, partition
from eamp.catalog import OPTIMIZERS
from eamp.data import (
    GRAPHS,
    SPLITS,
    check_dataset,
    dataset_metric,
    load_dataset,
    num_splits,
    split_masks,
)
from eamp.device import (
    autocast,
    check_precision,
    device_name,
    grad_scaler,
    native_bf16,
    resolve_device,
    usable_device,
)
from eamp.io import save_torch_atomic, write_json_atomic
from eamp.models import build_model, get_model_spec
from eamp.models.base import DeepGNN
from eamp.models.registry import get_preset
from eamp.nn.options import real_number
from eamp.nn.sparse import sparse_features

__all__ = ["TrainConfig", "RunResult", "SplitResult", "train", "read_result", "versions",
           "config_differences", "SELECT", "accuracy", "roc_auc"]

# how the epoch whose parameters are kept is chosen: the best validation score in the
# dataset's metric (accuracy, or ROC AUC), or the lowest validation loss (GCNII's code)
SELECT = ("val_metric", "val_loss")

RESULT_SCHEMA = 1


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of one run, checked when built (a ``ValueError`` names the first bad
    setting; no model is built to check it). ``None`` training settings take the model's
    defaults (:class:`~eamp.models.TrainDefaults`); :meth:`resolved` fills them in.

    Args:
        model (str): a registry name.
        dataset (str): a dataset name.
        depth (int): message-passing layers.
        hidden (int): width. (default: ``256``)
        epochs, patience (int, optional): at most ``epochs``; stop after ``patience``
            epochs without a better validation accuracy.
        lr, weight_decay, dropout (float, optional): the optimizer's and the model's.
        optimizer (str): ``"adam"`` or ``"adamax"`` (``torch.optim``'s). (default:
            ``"adam"``)
        seed (int): seeds torch, numpy and random. (default: ``0``)
        split (str): ``"public"`` or ``"geom-gcn"``. (default: ``"public"``)
        split_index (int or "all"): which fixed split to train on, or all of them in turn.
            (default: ``0``)
        normalize_features (bool): row-normalise features. (default: ``False``)
        data_dir (str, optional): the data root.
        model_options (dict): the model's own options (``entropy_weight``, ``p``, ...).
        device (str): ``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda``, ``cuda:N``
            or ``mps``; checked against this machine. (default: ``"auto"``)
        precision (str): ``32``, ``bf16-mixed`` or ``16-mixed`` (GPU only); see
            :mod:`eamp.device` for which ops run in which dtype. (default: ``"32"``)
        select (str): which epoch's parameters are kept (and the patience counts from):
            ``"val_metric"``, the best validation score in the dataset's metric (accuracy;
            ROC AUC on minesweeper and tolokers), or ``"val_loss"``, the lowest validation
            loss. Ties keep the earlier epoch. (default: ``"val_metric"``)
        preset (str, optional): the preset these settings came from (a record; see
            :meth:`from_preset`).
        checkpoint (bool): activation checkpointing of every layer
            (:meth:`~eamp.models.DeepGNN.set_checkpointing`): less memory, the same
            gradients, more time. Not for the ODE models (use their ``adjoint``).
            (default: ``False``)
        batching (str): ``"full"`` (the whole graph every step) or ``"cluster"``
            (Cluster-GCN: each step on the subgraph induced by ``parts_per_batch`` of
            ``num_parts`` parts; see :mod:`eamp.batching` for what the entropy term then
            approximates). (default: ``"full"``)
        num_parts (int): parts of the graph in cluster batching. (default: ``32``)
        parts_per_batch (int): parts per batch in cluster batching, at most ``num_parts``.
            (default: ``1``)
        partition (str): how the parts are cut: ``"metis"`` (few cut edges) or
            ``"random"``. (default: ``"metis"``)
        graph (str): ``"undirected"`` (every graph made undirected without self-loops) or
            ``"as-loaded"`` (edge directions and self-loops as the dataset class gives
            them, as G2's authors trained on WebKB); entropic models need ``"undirected"``.
            (default: ``"undirected"``)
    """

    model: str
    dataset: str
    depth: int
    hidden: int = 256
    epochs: int | None = None
    patience: int | None = None
    lr: float | None = None
    weight_decay: float | None = None
    dropout: float | None = None
    seed: int = 0
    split: str = "public"
    split_index: int | str = 0
    normalize_features: bool = False
    data_dir: str | None = None
    model_options: dict[str, Any] = field(default_factory=dict)
    device: str = "auto"
    precision: str = "32"
    select: str = "val_metric"
    preset: str | None = None
    checkpoint: bool = False
    batching: str = "full"
    num_parts: int = 32
    parts_per_batch: int = 1
    partition: str = "metis"
    graph: str = "undirected"
    optimizer: str = "adam"

    @classmethod
    def from_preset(cls, preset: str, dataset: str, **settings: Any) -> TrainConfig:
        """The settings of ``preset`` (see :func:`~eamp.models.registry.get_preset`) for
        ``dataset``; ``settings`` replace the preset's (``model_options`` are merged) and
        must give ``depth`` where the preset does not. ``model`` may name the entropic
        version of the preset's model: its backbone's settings with its own entropy
        options."""
        spec, found = get_preset(preset)
        base = found.for_dataset(dataset)
        options = {**base.pop("model_options"), **settings.pop("model_options", {})}
        merged = {"model": spec.name, **base, **settings}
        if merged.get("depth") is None:
            raise ValueError(f"depth: preset {found.name} sets no depth for {dataset}; give one")
        return cls(dataset=dataset, model_options=options, preset=found.name, **merged)

    def __post_init__(self) -> None:
        spec = get_model_spec(self.model)
        check_dataset(self.dataset)
        for name in ("depth", "hidden", "epochs", "patience", "num_parts", "parts_per_batch"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed: expected an integer, got {self.seed!r}")
        if not isinstance(self.model_options, dict):
            raise ValueError(f"model_options: expected a mapping of option names to values, "
                             f"got {self.model_options!r}")
        if not isinstance(self.normalize_features, bool):
            raise ValueError(f"normalize_features: expected true or false, got "
                             f"{self.normalize_features!r}")
        if self.data_dir is not None and not isinstance(self.data_dir, (str, os.PathLike)):
            raise ValueError(f"data_dir: expected a path, got {self.data_dir!r}")
        if self.data_dir is not None:
            object.__setattr__(self, "data_dir", os.fspath(self.data_dir))
        checked: dict[str, Any] = {
            "model": spec.name,
            "dataset": self.dataset.lower(),
            "split_index": _split_index(self.split_index),
            "model_options": spec.check_options(self.model_options),
            "device": usable_device(self.device),
        }
        checked["precision"] = check_precision(self.precision, checked["device"])
        if self.lr is not None:
            checked["lr"] = real_number("lr", self.lr, low=0.0, allow_low=False)
        if self.weight_decay is not None:
            checked["weight_decay"] = real_number("weight_decay", self.weight_decay, low=0.0)
        if self.dropout is not None:
            checked["dropout"] = real_number("dropout", self.dropout, low=0.0)
            if checked["dropout"] >= 1:
                raise ValueError(f"dropout: expected a rate in [0, 1), got {self.dropout}")
        if self.split not in SPLITS:
            raise ValueError(f"split: expected one of {SPLITS}, got {self.split!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer: expected one of {', '.join(OPTIMIZERS)}, got "
                             f"{self.optimizer!r}")
        if self.select not in SELECT:
            raise ValueError(f"select: expected one of {', '.join(SELECT)}, got "
                             f"{self.select!r}")
        if not isinstance(self.checkpoint, bool):
            raise ValueError(f"checkpoint: expected true or false, got {self.checkpoint!r}")
        if self.checkpoint and not spec.model_class.supports_checkpointing:
            raise ValueError(f"checkpoint: {spec.name} has no layers to checkpoint (an ODE); "
                             "use its adjoint option for memory")
        if self.batching not in BATCHING:
            raise ValueError(f"batching: expected one of {', '.join(BATCHING)}, got "
                             f"{self.batching!r}")
        if self.partition not in PARTITIONS:
            raise ValueError(f"partition: expected one of {', '.join(PARTITIONS)}, got "
                             f"{self.partition!r}")
        if self.graph not in GRAPHS:
            raise ValueError(f"graph: expected one of {', '.join(GRAPHS)}, got {self.graph!r}")
        if self.graph != "undirected" and spec.entropic_of is not None:
            raise ValueError(f"graph: {spec.name} needs an undirected graph (the entropy's "
                             f"gradient assumes one), got {self.graph!r}")
        if self.parts_per_batch > self.num_parts:
            raise ValueError(f"parts_per_batch: expected at most num_parts "
                             f"({self.num_parts}), got {self.parts_per_batch}")
        if self.preset is not None:
            owner, found = get_preset(self.preset)
            # an entropic version may train with its backbone's published settings
            if owner.name not in (spec.name, spec.entropic_of):
                raise ValueError(f"preset: {found.name} is a preset of {owner.name}, not of "
                                 f"{spec.name}")
            checked["preset"] = found.name
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    def resolved(self) -> TrainConfig:
        """This config with the model's default training settings in place of ``None``."""
        defaults = get_model_spec(self.model).defaults
        missing = {name: getattr(defaults, name)
                   for name in ("epochs", "patience", "lr", "weight_decay", "dropout")
                   if getattr(self, name) is None}
        return replace(self, **missing) if missing else self

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _split_index(value: Any) -> int | str:
    """``"all"``, or a split number given as an integer or its digits."""
    if value == "all":
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ValueError(f"split_index: expected an integer >= 0 or 'all', got {value!r}")


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
    ``config`` resolved; ``data_dir`` and ``device`` (where the data lives and the run
    computes, not what it computes) are not compared."""
    planned = config.resolved().as_dict()
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
    cut = {} if cut_fraction is None else {"cut_fraction": cut_fraction}
    return {"threads": torch.get_num_threads(),
            "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
            "cudnn_deterministic": torch.backends.cudnn.deterministic,
            "device": str(device), "device_name": device_name(device),
            "precision": precision, "sparse_input": sparse_input, **cut}


def versions() -> dict[str, str]:
    import torch_geometric

    return {"eamp": eamp.__version__, "torch": torch.__version__,
            "torch_geometric": torch_geometric.__version__,
            "python": sys.version.split()[0]}


def accuracy(logits: Tensor, y: Tensor, mask: Tensor) -> float:
    if int(mask.sum()) == 0:
        return float("nan")
    return float((logits[mask].argmax(-1) == y[mask]).float().mean())


def roc_auc(logits: Tensor, y: Tensor, mask: Tensor) -> float:
    r"""Area under the ROC curve of a binary task: the probability that a positive node
    (class 1) scores above a negative one, ties counting one half (Mann-Whitney U, with
    mid-ranks), scored by ``logits[:, 1] - logits[:, 0]`` (the log-odds of class 1; what
    Platonov et al. score with their single logit). NaN without both classes.
    Written out because it is a few lines on tensors (scikit-learn is not a dependency)."""
    score = (logits[mask, 1] - logits[mask, 0]).double()
    positive = y[mask] == 1
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    values, inverse, counts = torch.unique(score, return_inverse=True, return_counts=True)
    ends = counts.cumsum(0).double()
    mid_ranks = ends - (counts.double() - 1) / 2  # 1-based mean rank of each tied group
    rank_sum = float(mid_ranks[inverse][positive].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


METRIC_FUNCTIONS = {"accuracy": accuracy, "roc_auc": roc_auc}


EpochCallback = Callable[[int, float], None]


def train(
    config: TrainConfig,
    data: Data | None = None,
    *,
    progress: bool | None = None,
    on_epoch: EpochCallback | None = None,
    log_every: int = 0,
    state_file: str | os.PathLike | None = None,
    save_every_s: float = 60.0,
) -> RunResult:
    """Trains ``config.model`` on ``config.dataset`` with ``config.optimizer``, full batch.

    Every epoch evaluates on the validation split; the parameters of the epoch chosen by
    ``config.select`` (the best validation score in the dataset's metric, or the lowest
    validation loss; ties keep the earlier epoch) are kept and the test scores are read
    there. Training stops after ``patience`` epochs without improvement. The per-layer total
    Dirichlet energy (the paper's E, input first) is measured on the best model.

    Args:
        config (TrainConfig): the run.
        data (Data, optional): the graph, if already loaded (else :func:`load_dataset`).
        progress (bool, optional): an epoch progress bar; default: only on a terminal.
        on_epoch (callable, optional): ``on_epoch(epoch, val_score)`` after each epoch, e.g.
            Optuna's pruning; an exception it raises stops the run and propagates.
        log_every (int): without a progress bar, a line on stderr every ``log_every``
            epochs (``0``: none), for logs that are not a terminal. (default: ``0``)
        state_file (path, optional): where the run keeps its training state while it
            trains (parameters, optimizer moments, random states, the kept epoch, the
            curves so far, finished splits): saved at the end of an epoch once
            ``save_every_s`` seconds have passed since the last save, and after each
            split. If the file holds a state of the same settings when the run starts, the
            run continues from it and ends with the numbers of an uninterrupted run (bit for
            bit where training is deterministic: on the CPU at the same thread count); a
            state of other settings is said and replaced. Removed when the run ends.
            ``wall_time_s`` then counts the interrupted attempts up to their last save.
            (default: none)
        save_every_s (float): seconds between saves of ``state_file``; ``0`` saves after
            every epoch. (default: ``60``)

    Returns:
        RunResult
    """
    started = time.perf_counter()
    config = config.resolved()
    state = None if state_file is None else _RunState(state_file, config, save_every_s)
    device = resolve_device(config.device)
    if data is None:
        data = load_dataset(config.dataset, config.data_dir, split=config.split,
                            normalize_features=config.normalize_features, seed=config.seed,
                            graph=config.graph)
    check_memory(config, data, device)
    if config.precision == "bf16-mixed" and device.type == "cpu" and not native_bf16():
        print("eamp: warning: this CPU has no native bfloat16 (AVX-512 BF16 or AMX): "
              "bf16-mixed is emulated and slower than --precision 32 here", file=sys.stderr)
    data = copy.copy(data).to(device)  # the caller's data stays where it is
    batches = None
    if config.batching == "cluster":  # one partition for every split (it ignores labels)
        parts = partition(data.edge_index, data.num_nodes, config.num_parts, config.partition,
                          seed=config.seed)
        batches = Batches(data.edge_index, parts, config.parts_per_batch)
        features = data.x  # made sparse batch by batch
    else:
        features = sparse_features(data.x)
    count = num_splits(data)
    indices = list(range(count)) if config.split_index == "all" else [int(config.split_index)]
    if progress is None:
        progress = sys.stderr.isatty()
    splits = [] if state is None else state.finished_splits()
    for position, index in enumerate(indices):
        if position < len(splits):
            continue  # finished before the run was interrupted
        splits.append(_train_split(
            config, data, features, index, progress, on_epoch,
            step_offset=position * config.epochs, log_every=log_every, batches=batches,
            resume=None if state is None else state.split_state(index), state=state))
        if state is not None:
            state.finish_split(splits[-1])
    layer_energy = np.mean([s.layer_energy for s in splits], axis=0).tolist()
    epoch_times = [t for s in splits for t in s.epoch_times]
    result = RunResult(
        model=config.model,
        dataset=config.dataset,
        depth=config.depth,
        seed=config.seed,
        config=config.as_dict(),
        best_val_acc=float(np.mean([s.best_val_acc for s in splits])),
        test_acc=float(np.mean([s.test_acc for s in splits])),
        layer_energy=layer_energy,
        epoch_time_s=statistics.median(epoch_times) if epoch_times else 0.0,
        splits=[{k: v for k, v in asdict(s).items() if k not in ("epoch_times", "num_parameters")}
                for s in splits],
        versions=versions(),
        num_parameters=splits[0].num_parameters,
        environment={**environment(
            device, config.precision,
            "per batch" if batches else features.layout != torch.strided,
            batches.cut_fraction() if batches else None),
            **({"resumed": state.resumes} if state is not None and state.resumes else {})},
        layer_mad=np.mean([s.layer_mad for s in splits], axis=0).tolist(),
        layer_effective_rank=np.mean([s.layer_effective_rank for s in splits], axis=0).tolist(),
        metric=dataset_metric(config.dataset),
        val_score=float(np.mean([s.val_score for s in splits])),
        test_score=float(np.mean([s.test_score for s in splits])),
        val_loss=float(np.mean([s.val_loss for s in splits])),
        wall_time_s=(0.0 if state is None else state.elapsed_before)
        + time.perf_counter() - started,
    )
    if state is not None:
        state.remove()
    return result


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


class _RunState:
    """The training state of one run in progress, kept in one file (``train``'s
    ``state_file``): the finished splits' results and the running split's state. Read when
    the run starts (a state of other settings, or unreadable, is said and replaced)."""

    def __init__(self, path: str | os.PathLike, config: TrainConfig,
                 save_every_s: float) -> None:
        from pathlib import Path

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


def check_memory(config: TrainConfig, data: Data,
                 device: torch.device | None = None) -> None:
    """Refuses, before anything is built, a run that cannot fit in ``device``'s memory
    (default: the CPU's): every model keeps ``depth`` hidden states of ``n x hidden``
    numbers (2 bytes each in a mixed precision, else 4) and has at least an
    ``in x hidden`` and a ``hidden x out`` float32 weight (with their gradients and Adam's
    two moments). This is a lower bound, so nothing that fits is refused. In cluster
    batching the states are a batch's: ``parts_per_batch / num_parts`` of the nodes."""
    n, hidden = data.num_nodes, config.hidden
    if config.batching == "cluster":
        n = -(-n * config.parts_per_batch // config.num_parts)
    weights = hidden * (data.num_features + int(data.y.max()) + 1)
    state_bytes = 4 if config.precision == "32" else 2
    states = state_bytes * config.depth * n * hidden
    need = states + 16 * weights
    available = _available_memory(device or torch.device("cpu"))
    if available is not None and need > available:
        gib = 2**30
        raise ValueError(
            f"depth, hidden: a {config.depth}-layer, width-{hidden} {config.model} on "
            f"{n} nodes needs at least {need / gib:.1f} GiB (hidden states "
            f"{states / gib:.1f} GiB, weights with gradients and Adam's moments "
            f"{16 * weights / gib:.1f} GiB); {available / gib:.1f} GiB of memory is "
            f"available on {device or 'cpu'}"
        )


def _available_memory(device: torch.device) -> int | None:
    """Bytes of memory available now on ``device`` (a GPU's free memory, Linux's
    MemAvailable for the CPU), or ``None`` if unknown."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    if device.type != "cpu":
        return None
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _build(config: TrainConfig, data: Data) -> DeepGNN:
    out_channels = int(data.y.max()) + 1
    return build_model(config.model, data.num_features, out_channels, config.depth,
                       hidden_channels=config.hidden, dropout=config.dropout,
                       **config.model_options)


def _optimizer(model: DeepGNN, name: str, lr: float, weight_decay: float
               ) -> torch.optim.Optimizer:
    kind = getattr(torch.optim, name.capitalize())  # OPTIMIZERS names torch.optim's classes
    groups = model.param_groups(weight_decay) if hasattr(model, "param_groups") else None
    if groups is None:
        return kind(model.parameters(), lr=lr, weight_decay=weight_decay)
    return kind(groups, lr=lr)


def _logits(model: DeepGNN, data: Data, x: Tensor, batches: Batches | None) -> Tensor:
    """The model's float32 logits of every node: one pass over the graph, or batch by
    batch over the parts in a fixed grouping."""
    if batches is None:
        return model(x, data.edge_index).float()
    out = torch.empty(data.num_nodes, model.out_channels, device=x.device)
    for batch in batches():
        out[batch.nodes] = model(sparse_features(x[batch.nodes]), batch.edge_index).float()
    return out


def _train_split(
    config: TrainConfig, data: Data, x: Tensor, index: int, progress: bool,
    on_epoch: EpochCallback | None, step_offset: int, log_every: int = 0,
    batches: Batches | None = None, resume: dict[str, Any] | None = None,
    state: _RunState | None = None,
) -> SplitResult:
    """One split on ``data``'s device; ``x`` is ``data.x``, sparse where that pays (in
    cluster batching, ``data.x`` itself, made sparse batch by batch). Continues from
    ``resume`` (a state :meth:`_RunState.save_split` saved) if given, and saves its own
    state through ``state``."""
    from tqdm.auto import tqdm

    seed_everything(config.seed + index)
    device = data.x.device
    train_mask, val_mask, test_mask = split_masks(data, index)
    model = _build(config, data).to(device).set_checkpointing(config.checkpoint)
    optimizer = _optimizer(model, config.optimizer, config.lr, config.weight_decay)
    scaler = grad_scaler(device, config.precision)
    y = data.y
    # the batches of one epoch: the whole graph, or random groups of parts (own generator:
    # the global random state, hence dropout, is the same as in full batch)
    shuffle = torch.Generator().manual_seed(config.seed + index)

    def epoch_batches() -> Any:
        if batches is None:
            return [(x, data.edge_index, train_mask, y)]
        return ((sparse_features(x[b.nodes]), b.edge_index, train_mask[b.nodes], y[b.nodes])
                for b in batches(shuffle))

    score = METRIC_FUNCTIONS[dataset_metric(config.dataset)]
    by_loss = config.select == "val_loss"
    best_key, best_state, best_epoch = math.inf, None, 0
    best: dict[str, float] = {}
    val_curve: list[float] = []
    val_losses: list[float] = []
    epoch_times: list[float] = []
    first = 0
    if resume is not None:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        if resume["scaler"]:  # a disabled scaler has no state
            scaler.load_state_dict(resume["scaler"])
        shuffle.set_state(resume["shuffle"])
        set_random_state(resume["random"])
        best_key, best_state, best_epoch = (resume["best_key"], resume["best_state"],
                                            resume["best_epoch"])
        best, val_curve, val_losses, epoch_times = (
            resume["best"], resume["val_curve"], resume["val_losses"], resume["epoch_times"])
        first = resume["epoch"]
    bar = tqdm(range(first, config.epochs), initial=first, total=config.epochs,
               disable=not progress, leave=False,
               desc=f"{config.model} L={config.depth} split {index}")
    epoch = max(first - 1, 0)
    for epoch in bar:
        start = time.perf_counter()
        model.train()
        loss_sum, loss_count = 0.0, 0
        for batch_x, batch_edges, batch_train, batch_y in epoch_batches():
            count = int(batch_train.sum())
            if count == 0:
                continue  # a batch without training nodes has no loss
            optimizer.zero_grad()
            with autocast(device, config.precision):
                loss = F.cross_entropy(model(batch_x, batch_edges)[batch_train],
                                       batch_y[batch_train])
            loss_value = float(loss.detach())
            if not math.isfinite(loss_value):
                raise FloatingPointError(
                    f"the training loss became {loss_value} at epoch {epoch}; lower lr "
                    f"({config.lr}) or the entropy weight"
                )
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            loss_sum, loss_count = loss_sum + loss_value * count, loss_count + count
        loss_value = loss_sum / max(loss_count, 1)
        epoch_times.append(time.perf_counter() - start)

        model.eval()
        with torch.no_grad(), autocast(device, config.precision):
            logits = _logits(model, data, x, batches)
        val_score = score(logits, y, val_mask)
        val_loss = float(F.cross_entropy(logits[val_mask], y[val_mask]))
        val_curve.append(val_score)
        val_losses.append(val_loss)
        key = val_loss if by_loss else -val_score  # lower is better; NaN never improves
        if key < best_key or best_state is None:
            best_key, best_epoch = key, epoch
            best = {"val_acc": accuracy(logits, y, val_mask),
                    "test_acc": accuracy(logits, y, test_mask),
                    "train_acc": accuracy(logits, y, train_mask),
                    "val_score": val_score, "test_score": score(logits, y, test_mask),
                    "val_loss": val_loss}
            best_state = copy.deepcopy(model.state_dict())
        best_val = best["val_score"]
        if progress:
            bar.set_postfix(loss=f"{loss_value:.3f}", val=f"{val_score:.3f}",
                            best=f"{best_val:.3f}")
        elif log_every and (epoch + 1) % log_every == 0:
            print(f"{config.model} L={config.depth} split {index}: epoch {epoch + 1}/"
                  f"{config.epochs} loss {loss_value:.3f} val {val_score:.3f} best "
                  f"{best_val:.3f}", file=sys.stderr, flush=True)
        stop = epoch - best_epoch >= config.patience
        if state is not None and not stop and epoch + 1 < config.epochs and state.due():
            state.save_split({
                "index": index, "epoch": epoch + 1, "model": model.state_dict(),
                "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict(),
                "shuffle": shuffle.get_state(), "random": random_state(),
                "best_key": best_key, "best_state": best_state, "best_epoch": best_epoch,
                "best": best, "val_curve": val_curve, "val_losses": val_losses,
                "epoch_times": epoch_times})
        if on_epoch is not None:
            on_epoch(step_offset + epoch, val_score)
        if stop:
            break
    bar.close()

    if best_state is not None:
        model.load_state_dict(best_state)
    from eamp.metrics import layer_metrics

    # measured on the whole graph, or in cluster batching on the first evaluation batch
    measured = data.x, data.edge_index
    if batches is not None:
        first = next(iter(batches()))
        measured = data.x[first.nodes], first.edge_index
    measures = layer_metrics(model, *measured, metrics=("energy", "mad", "effective_rank"),
                             reuse_input=batches is None)
    return SplitResult(
        split_index=index,
        best_val_acc=best["val_acc"],
        test_acc=best["test_acc"],
        train_acc=best["train_acc"],
        val_score=best["val_score"],
        test_score=best["test_score"],
        val_loss=best["val_loss"],
        best_epoch=best_epoch,
        epochs_run=epoch + 1,
        val_curve=val_curve,
        val_loss_curve=val_losses,
        layer_energy=[m["energy"] for m in measures],
        layer_mad=[m["mad"] for m in measures],
        layer_effective_rank=[m["effective_rank"] for m in measures],
        epoch_times=epoch_times,
        num_parameters=sum(p.numel() for p in model.parameters()),
    )
