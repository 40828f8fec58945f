"""One full-batch (or cluster-batched) node-classification run: :func:`train` takes a
:class:`~eamp.training.TrainConfig` and hands back a :class:`~eamp.training.RunResult`."""

from __future__ import annotations

import copy
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric import seed_everything
from torch_geometric.data import Data

from eamp.data.batching import Batches, partition
from eamp.data.catalog import dataset_metric
from eamp.data.loading import load_dataset, num_splits, split_masks
from eamp.device import autocast, check_precision, grad_scaler, native_bf16, resolve_device
from eamp.metrics import METRIC_FUNCTIONS, accuracy, layer_metrics
from eamp.models.base import DeepGNN
from eamp.models.registry import get_model_spec
from eamp.nn.sparse import sparse_features
from eamp.training.config import TrainConfig
from eamp.training.result import RunResult, SplitResult, environment, versions
from eamp.training.state import RunState, random_state, set_random_state

__all__ = ["EpochCallback", "check_memory", "train"]

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
    # the config names a device; whether this machine has it is asked here, at the start
    device = resolve_device(config.device)
    check_precision(config.precision, config.device)
    state = None if state_file is None else RunState(state_file, config, save_every_s)
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
        features = _features(data.x, config)
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
    # the config was checked when built: its model is built without asking again
    cls = get_model_spec(config.model).model_class
    return cls(data.num_features, config.hidden, config.depth, out_channels,
               dropout=config.dropout, **config.model_options)


def _optimizer(model: DeepGNN, name: str, lr: float, weight_decay: float
               ) -> torch.optim.Optimizer:
    kind = getattr(torch.optim, name.capitalize())  # OPTIMIZERS names torch.optim's classes
    groups = model.param_groups(weight_decay) if hasattr(model, "param_groups") else None
    if groups is None:
        return kind(model.parameters(), lr=lr, weight_decay=weight_decay)
    return kind(groups, lr=lr)


def _features(x: Tensor, config: TrainConfig) -> Tensor:
    """``x`` sparse where that pays; dense for a compiled model (TorchDynamo does not trace
    sparse tensors)."""
    return x if config.compile else sparse_features(x)


def _logits(model: DeepGNN, data: Data, x: Tensor, batches: Batches | None,
            config: TrainConfig) -> Tensor:
    """The model's float32 logits of every node: one pass over the graph, or batch by
    batch over the parts in a fixed grouping."""
    if batches is None:
        return model(x, data.edge_index).float()
    out = torch.empty(data.num_nodes, model.out_channels, device=x.device)
    for batch in batches():
        out[batch.nodes] = model(_features(x[batch.nodes], config), batch.edge_index).float()
    return out


def _train_split(
    config: TrainConfig, data: Data, x: Tensor, index: int, progress: bool,
    on_epoch: EpochCallback | None, step_offset: int, log_every: int = 0,
    batches: Batches | None = None, resume: dict[str, Any] | None = None,
    state: RunState | None = None,
) -> SplitResult:
    """One split on ``data``'s device; ``x`` is ``data.x``, sparse where that pays (in
    cluster batching, ``data.x`` itself, made sparse batch by batch). Continues from
    ``resume`` (a state :meth:`RunState.save_split` saved) if given, and saves its own
    state through ``state``."""
    from tqdm.auto import tqdm

    seed_everything(config.seed + index)
    device = data.x.device
    train_mask, val_mask, test_mask = split_masks(data, index)
    model = _build(config, data).to(device).set_checkpointing(config.checkpoint)
    if config.compile:
        model.compile()  # in place: the state dict keeps its keys
    optimizer = _optimizer(model, config.optimizer, config.lr, config.weight_decay)
    scaler = grad_scaler(device, config.precision)
    y = data.y
    # the batches of one epoch: the whole graph, or random groups of parts (own generator:
    # the global random state, hence dropout, is the same as in full batch)
    shuffle = torch.Generator().manual_seed(config.seed + index)

    def epoch_batches() -> Any:
        if batches is None:
            return [(x, data.edge_index, train_mask, y)]
        return ((_features(x[b.nodes], config), b.edge_index, train_mask[b.nodes], y[b.nodes])
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
            logits = _logits(model, data, x, batches, config)
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
