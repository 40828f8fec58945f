"""One full-batch node-classification run: a :class:`TrainConfig` in, a :class:`RunResult` out.

The schema of ``result.json`` lives here, once: :meth:`RunResult.to_json` writes it and
:func:`read_result` reads it for the experiments, tuning and the report.
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data

import eamp
from eamp.data import dataset_names, load_dataset, num_splits, split_masks
from eamp.entropy import prepare_graph, total_dirichlet_energy
from eamp.models import build_model, get_model_spec
from eamp.models.base import DeepGNN

__all__ = ["TrainConfig", "RunResult", "SplitResult", "train", "read_result", "versions",
           "write_json_atomic"]

RESULT_SCHEMA = 1


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of one run. ``None`` training settings take the model's defaults
    (:class:`~eamp.models.TrainDefaults`); :meth:`resolved` fills them in.

    Args:
        model (str): a registry name.
        dataset (str): a dataset name.
        depth (int): message-passing layers.
        hidden (int): width. (default: ``256``)
        epochs, patience (int, optional): at most ``epochs``; stop after ``patience``
            epochs without a better validation accuracy.
        lr, weight_decay, dropout (float, optional): Adam's and the model's.
        seed (int): seeds torch, numpy and random. (default: ``0``)
        split (str): ``"public"`` or ``"geom-gcn"``. (default: ``"public"``)
        split_index (int or "all"): which fixed split to train on, or all of them in turn.
            (default: ``0``)
        normalize_features (bool): row-normalise features. (default: ``False``)
        data_dir (str, optional): the data root.
        model_options (dict): the model's own options (``entropy_weight``, ``p``, ...).
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

    def resolved(self) -> TrainConfig:
        """A copy with the model's default training settings filled in, checked."""
        spec = get_model_spec(self.model)
        defaults = spec.defaults
        config = replace(
            self,
            epochs=defaults.epochs if self.epochs is None else self.epochs,
            patience=defaults.patience if self.patience is None else self.patience,
            lr=defaults.lr if self.lr is None else self.lr,
            weight_decay=defaults.weight_decay if self.weight_decay is None else self.weight_decay,
            dropout=defaults.dropout if self.dropout is None else self.dropout,
            model_options=dict(self.model_options),
        )
        config.check()
        return config

    def check(self) -> None:
        def positive_int(name: str, value: Any) -> None:
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")

        positive_int("depth", self.depth)
        positive_int("hidden", self.hidden)
        positive_int("epochs", self.epochs)
        positive_int("patience", self.patience)
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"lr: expected a learning rate > 0, got {self.lr}")
        if self.weight_decay is not None and not self.weight_decay >= 0:
            raise ValueError(f"weight_decay: expected a rate >= 0, got {self.weight_decay}")
        if self.dropout is not None and not 0 <= self.dropout < 1:
            raise ValueError(f"dropout: expected a rate in [0, 1), got {self.dropout}")
        if self.split_index != "all" and (not isinstance(self.split_index, int)
                                          or self.split_index < 0):
            raise ValueError(f"split_index: expected an integer >= 0 or 'all', "
                             f"got {self.split_index!r}")
        # unknown model or bad model options -> ValueError now, before any data is loaded
        build_model(self.model, 1, 2, self.depth, hidden_channels=1, dropout=self.dropout,
                    **self.model_options)
        if self.dataset.lower() not in dataset_names():
            raise ValueError(f"dataset: unknown name {self.dataset!r}; choose one of "
                             f"{', '.join(dataset_names())}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SplitResult:
    split_index: int
    best_val_acc: float
    test_acc: float
    train_acc: float
    best_epoch: int
    epochs_run: int
    val_curve: list[float]
    layer_energy: list[float]
    epoch_times: list[float]


@dataclass
class RunResult:
    """What ``result.json`` holds. ``best_val_acc`` is the best validation accuracy over
    epochs (what the paper reported); ``test_acc`` is the test accuracy at that epoch (what
    a held-out evaluation reports). Over several splits both are means, and ``splits`` has
    each one."""

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
    schema: int = RESULT_SCHEMA

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, path: str | os.PathLike) -> None:
        write_json_atomic(path, self.to_dict())


def write_json_atomic(path: str | os.PathLike, payload: Any) -> None:
    """Writes JSON to ``path`` through a temporary file and a rename, so a reader never sees
    half a file and an interrupted run leaves no result behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle, indent=2)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_result(path: str | os.PathLike) -> dict[str, Any]:
    """Reads a ``result.json``; raises ``ValueError`` if it is not one."""
    with open(path) as handle:
        payload = json.load(handle)
    missing = {"model", "dataset", "depth", "seed", "best_val_acc", "test_acc",
               "layer_energy"} - set(payload)
    if missing:
        raise ValueError(f"{path}: not a result.json (missing {', '.join(sorted(missing))})")
    return payload


def versions() -> dict[str, str]:
    import torch_geometric

    return {"eamp": eamp.__version__, "torch": torch.__version__,
            "torch_geometric": torch_geometric.__version__,
            "python": sys.version.split()[0]}


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def accuracy(logits: Tensor, y: Tensor, mask: Tensor) -> float:
    if int(mask.sum()) == 0:
        return float("nan")
    return float((logits[mask].argmax(-1) == y[mask]).float().mean())


EpochCallback = Callable[[int, float], None]


def train(
    config: TrainConfig,
    data: Data | None = None,
    *,
    progress: bool | None = None,
    on_epoch: EpochCallback | None = None,
) -> RunResult:
    """Trains ``config.model`` on ``config.dataset`` with Adam, full batch.

    Every epoch evaluates on the validation split; the parameters with the best validation
    accuracy are kept (ties keep the earlier epoch) and the test accuracy is read there.
    Training stops after ``patience`` epochs without improvement. The per-layer total
    Dirichlet energy (the paper's E, input first) is measured on the best model.

    Args:
        config (TrainConfig): the run.
        data (Data, optional): the graph, if already loaded (else :func:`load_dataset`).
        progress (bool, optional): an epoch progress bar; default: only on a terminal.
        on_epoch (callable, optional): ``on_epoch(epoch, val_acc)`` after each epoch, e.g.
            Optuna's pruning; an exception it raises stops the run and propagates.

    Returns:
        RunResult
    """
    config = config.resolved()
    if data is None:
        data = load_dataset(config.dataset, config.data_dir, split=config.split,
                            normalize_features=config.normalize_features, seed=config.seed)
    count = num_splits(data)
    indices = list(range(count)) if config.split_index == "all" else [int(config.split_index)]
    if progress is None:
        progress = sys.stderr.isatty()
    splits = [
        _train_split(config, data, index, progress, on_epoch, step_offset=position * config.epochs)
        for position, index in enumerate(indices)
    ]
    layer_energy = np.mean([s.layer_energy for s in splits], axis=0).tolist()
    epoch_times = [t for s in splits for t in s.epoch_times]
    return RunResult(
        model=config.model,
        dataset=config.dataset,
        depth=config.depth,
        seed=config.seed,
        config=config.as_dict(),
        best_val_acc=float(np.mean([s.best_val_acc for s in splits])),
        test_acc=float(np.mean([s.test_acc for s in splits])),
        layer_energy=layer_energy,
        epoch_time_s=statistics.median(epoch_times) if epoch_times else 0.0,
        splits=[{k: v for k, v in asdict(s).items() if k != "epoch_times"} for s in splits],
        versions=versions(),
        num_parameters=_count_parameters(config, data),
    )


def _count_parameters(config: TrainConfig, data: Data) -> int:
    model = _build(config, data)
    return sum(p.numel() for p in model.parameters())


def _build(config: TrainConfig, data: Data) -> DeepGNN:
    out_channels = int(data.y.max()) + 1
    return build_model(config.model, data.num_features, out_channels, config.depth,
                       hidden_channels=config.hidden, dropout=config.dropout,
                       **config.model_options)


def _optimizer(model: DeepGNN, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    groups = model.param_groups(weight_decay) if hasattr(model, "param_groups") else None
    if groups is None:
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    return torch.optim.Adam(groups, lr=lr)


def _train_split(
    config: TrainConfig, data: Data, index: int, progress: bool,
    on_epoch: EpochCallback | None, step_offset: int,
) -> SplitResult:
    from tqdm.auto import tqdm

    seed_everything(config.seed + index)
    train_mask, val_mask, test_mask = split_masks(data, index)
    model = _build(config, data)
    optimizer = _optimizer(model, config.lr, config.weight_decay)
    x, y, edge_index = data.x, data.y, data.edge_index

    best_val, best_state, best_epoch = -1.0, None, 0
    best_accs = (0.0, 0.0)
    val_curve: list[float] = []
    epoch_times: list[float] = []
    bar = tqdm(range(config.epochs), disable=not progress, leave=False,
               desc=f"{config.model} L={config.depth} split {index}")
    epoch = 0
    for epoch in bar:
        start = time.perf_counter()
        model.train()
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x, edge_index)[train_mask], y[train_mask])
        loss_value = float(loss.detach())
        if not math.isfinite(loss_value):
            raise FloatingPointError(
                f"the training loss became {loss_value} at epoch {epoch}; lower lr "
                f"({config.lr}) or the entropy weight"
            )
        loss.backward()
        optimizer.step()
        epoch_times.append(time.perf_counter() - start)

        model.eval()
        with torch.no_grad():
            logits = model(x, edge_index)
        val_acc = accuracy(logits, y, val_mask)
        val_curve.append(val_acc)
        if val_acc > best_val:
            best_val, best_epoch = val_acc, epoch
            best_accs = (accuracy(logits, y, test_mask), accuracy(logits, y, train_mask))
            best_state = copy.deepcopy(model.state_dict())
        if progress:
            bar.set_postfix(loss=f"{loss_value:.3f}", val=f"{val_acc:.3f}",
                            best=f"{best_val:.3f}")
        if on_epoch is not None:
            on_epoch(step_offset + epoch, val_acc)
        if epoch - best_epoch >= config.patience:
            break
    bar.close()

    if best_state is not None:
        model.load_state_dict(best_state)
    return SplitResult(
        split_index=index,
        best_val_acc=best_val,
        test_acc=best_accs[0],
        train_acc=best_accs[1],
        best_epoch=best_epoch,
        epochs_run=epoch + 1,
        val_curve=val_curve,
        layer_energy=layer_energies(model, data),
        epoch_times=epoch_times,
    )


@torch.no_grad()
def layer_energies(model: DeepGNN, data: Data, *, normalize: bool = True) -> list[float]:
    """Total Dirichlet energy of each hidden state of ``model`` (eval mode), input first."""
    model.eval()
    graph = prepare_graph(data.edge_index, data.num_nodes)
    _, hidden = model(data.x, data.edge_index, return_hidden=True)
    return [float(total_dirichlet_energy(h.double(), graph, normalize=normalize))
            for h in hidden]
