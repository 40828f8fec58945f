"""Every setting of one run, checked once where it enters (:class:`TrainConfig`)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from eamp.checks import FLOAT32_MAX, choice, flag, integer, real_number
from eamp.data.catalog import (
    BATCHING,
    GRAPHS,
    OPTIMIZERS,
    PARTITIONS,
    SPLITS,
    check_dataset,
)
from eamp.device import check_device, check_precision
from eamp.models.registry import get_model_spec, get_preset

__all__ = ["SELECT", "TRAINING_DEFAULTS", "TrainConfig"]

# how the epoch whose parameters are kept is chosen: the best validation score in the
# dataset's metric (accuracy, or ROC AUC), or the lowest validation loss (GCNII's code)
SELECT = ("val_metric", "val_loss")

# the settings a model's TrainDefaults fill in where a config leaves them None
TRAINING_DEFAULTS = ("epochs", "patience", "lr", "weight_decay", "dropout")


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of one run, checked when built (a ``ValueError`` names the first bad
    setting; no model is built to check it), pure data: it names a device without asking
    whether this machine has it, so configs stored on a GPU machine plan, report and rerun
    anywhere. ``None`` training settings take the model's defaults
    (:class:`~eamp.models.TrainDefaults`) when it is built.

    Args:
        model (str): a registry name.
        dataset (str): a dataset name.
        depth (int): message-passing layers.
        hidden (int): width. (default: ``256``)
        epochs, patience (int, optional): at most ``epochs``; stop after ``patience``
            epochs without a better validation accuracy. (default: the model's)
        lr, weight_decay, dropout (float, optional): the optimizer's and the model's.
            (default: the model's :class:`~eamp.models.TrainDefaults`, filled in when the
            config is built: a config is complete)
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
            or ``mps``; whether this machine has it is checked when a run starts, not here.
            (default: ``"auto"``)
        precision (str): ``32``, ``bf16-mixed`` or ``16-mixed`` (GPU only, checked when a
            run starts); see
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
        compile (bool): :meth:`torch.nn.Module.compile` the model (TorchDynamo and
            Inductor). A compiled model propagates with PyG's gather-scatter over the edges
            and takes dense features, since TorchDynamo does not trace sparse tensors; the
            entropy step and the graph caches run eagerly. Same logits as eager to float32
            rounding. On a CPU it is slower than the eager sparse products
            (``benchmarks/train_epoch.py --settings 32 compile`` measures it). (default: ``False``)
        batching (str): ``"full"`` (the whole graph every step) or ``"cluster"``
            (Cluster-GCN: each step on the subgraph induced by ``parts_per_batch`` of
            ``num_parts`` parts; see :mod:`eamp.data.batching` for what the entropy term then
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
    compile: bool = False
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
        for name in ("depth", "hidden", "num_parts", "parts_per_batch"):
            integer(name, getattr(self, name), low=1)
        for name in ("epochs", "patience"):
            if getattr(self, name) is not None:
                integer(name, getattr(self, name), low=1)
        integer("seed", self.seed)
        if not isinstance(self.model_options, dict):
            raise ValueError(f"model_options: expected a mapping of option names to values, "
                             f"got {self.model_options!r}")
        flag("normalize_features", self.normalize_features)
        flag("checkpoint", self.checkpoint)
        flag("compile", self.compile)
        if self.data_dir is not None and not isinstance(self.data_dir, (str, os.PathLike)):
            raise ValueError(f"data_dir: expected a path, got {self.data_dir!r}")
        choice("split", self.split, SPLITS)
        choice("optimizer", self.optimizer, OPTIMIZERS)
        choice("select", self.select, SELECT)
        choice("batching", self.batching, BATCHING)
        choice("partition", self.partition, PARTITIONS)
        choice("graph", self.graph, GRAPHS)
        # the model's training defaults fill what is not given: a config is complete
        defaults = spec.defaults
        checked: dict[str, Any] = {
            name: getattr(defaults, name) for name in TRAINING_DEFAULTS
            if getattr(self, name) is None}
        checked.update({
            "model": spec.name,
            "dataset": self.dataset.lower(),
            "split_index": _split_index(self.split_index),
            "model_options": spec.check_options(self.model_options),
            # the text only: whether this machine has the device is checked when a run
            # starts, so that a config made on a GPU machine plans and reports anywhere
            "device": check_device(self.device),
            "precision": check_precision(self.precision),
        })
        if self.data_dir is not None:
            checked["data_dir"] = os.fspath(self.data_dir)
        if self.lr is not None:
            checked["lr"] = real_number("lr", self.lr, low=0.0, allow_low=False,
                                        high=FLOAT32_MAX)
        if self.weight_decay is not None:
            checked["weight_decay"] = real_number("weight_decay", self.weight_decay, low=0.0,
                                                  high=FLOAT32_MAX)
        if self.dropout is not None:
            checked["dropout"] = real_number("dropout", self.dropout, low=0.0)
            if checked["dropout"] >= 1:
                raise ValueError(f"dropout: expected a rate in [0, 1), got {self.dropout}")
        if self.checkpoint and not spec.model_class.supports_checkpointing:
            raise ValueError(f"checkpoint: {spec.name} has no layers to checkpoint (an ODE); "
                             "use its adjoint option for memory")
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


