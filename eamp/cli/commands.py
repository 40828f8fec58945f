"""The subcommands of ``eamp``: each takes the parsed arguments, builds the config objects of
the Python API (:mod:`eamp.cli.settings`) and calls it. PyTorch is imported only once a
command runs, so that ``--help`` and a bad argument are answered at once."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from eamp.cli.settings import (
    config_from_args,
    executor_from_args,
    output_folder,
    read_config,
)

__all__ = ["cmd_benchmark", "cmd_datasets", "cmd_demo", "cmd_oversmoothing", "cmd_reproduce",
           "cmd_train", "cmd_tune"]


def runs_here(device: str, precision: str) -> None:
    """A command about to train asks whether this machine has ``device`` and can run
    ``precision`` on it (a config names a device without asking: configs made on a GPU
    machine plan and report anywhere)."""
    from eamp.device import check_precision, resolve_device

    resolve_device(device)
    check_precision(precision, device)


def cmd_train(args: argparse.Namespace) -> int:
    base = None
    if args.config:
        base = read_config(args.config)
    config = config_from_args(args, base)  # checked here, before any data is loaded
    runs_here(config.device, config.precision)
    out = output_folder(args.out)
    from eamp.training.loop import train

    # a log that is not a terminal gets a line every 50 epochs instead of a progress bar
    result = train(config, log_every=0 if sys.stderr.isatty() else 50)
    result.to_json(out / "result.json")
    print(f"{config.model} on {config.dataset}, depth {config.depth}: {result.metric} val "
          f"{result.val_score:.4f}, test {result.test_score:.4f} (epoch by {config.select}), "
          f"{result.epoch_time_s * 1e3:.1f} ms/epoch -> {out / 'result.json'}")
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from eamp.data.catalog import DATASETS, SYNTHETIC, DatasetUnavailable, data_root

    root = data_root(args.data_dir)
    print(f"data root: {root}")
    print(f"{'name':<20} {'nodes':>8} {'edges':>9} {'classes':>7} {'splits':>6} "
          f"{'metric':>8}  raw files")
    for name, info in DATASETS.items():
        status = "missing" if info.missing_files(root) else "present"
        data = None
        if status == "present":  # only then is PyTorch imported
            from eamp.data import load_dataset

            try:
                data = load_dataset(name, root)
            except DatasetUnavailable as error:
                status = f"unreadable: {error}"
        if data is not None:
            splits = 1 if data.train_mask.dim() == 1 else data.train_mask.size(1)
            print(f"{name:<20} {data.num_nodes:>8} {data.num_edges // 2:>9} "
                  f"{int(data.y.max()) + 1:>7} {splits:>6} {info.metric:>8}  {status}")
        else:
            detail = "" if status != "missing" else f" ({info.raw_dir(root, 'public')})"
            print(f"{name:<20} {'-':>8} {'-':>9} {'-':>7} {'-':>6} {info.metric:>8}  "
                  f"{status}{detail}")
    for name in SYNTHETIC:
        print(f"{name:<20} {'-':>8} {'-':>9} {'-':>7} {1:>6} {'accuracy':>8}  generated "
              "(no files)")
    print("edges are undirected pairs, self-loops removed")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import torch

    from eamp.data import grid_graph
    from eamp.device import resolve_device
    from eamp.entropy import (
        boltzmann_entropy,
        entropy_gradient,
        prepare_graph,
        total_dirichlet_energy,
    )

    device = resolve_device(args.device or "auto")
    data = grid_graph(channels=args.channels, seed=args.seed).to(device)
    graph = prepare_graph(data.edge_index, data.num_nodes)
    # float64 where the device has it (MPS has not)
    x = data.x.to(torch.float32 if device.type == "mps" else torch.float64) * args.scale
    print(f"10x10 grid, {graph.num_edges // 2} edges, features U[0,1] x {args.scale} "
          f"(d={args.channels}), T={args.temperature}, step {args.step}")
    print(f"{'step':>5} {'energy E':>12} {'entropy S':>12}")
    for step in range(args.steps + 1):
        energy = float(total_dirichlet_energy(x, graph))
        entropy = float(boltzmann_entropy(x, graph, args.temperature))
        if step in (0, args.steps) or step % max(1, args.steps // 5) == 0:
            print(f"{step:>5} {energy:>12.6f} {entropy:>12.6f}")
        x = x + args.step * args.temperature * entropy_gradient(x, graph, args.temperature)
    assert torch.isfinite(x).all()
    return 0


def cmd_oversmoothing(args: argparse.Namespace) -> int:
    from eamp.experiments.oversmoothing import OversmoothingConfig, run_oversmoothing

    config = OversmoothingConfig(models=tuple(args.models), layers=args.layers,
                                 width=args.width, seeds=args.seeds,
                                 normalize=args.energy == "paper",
                                 device=args.device or "auto")
    paths = run_oversmoothing(config, output_folder(args.out))
    for path in paths:
        print(path)
    return 0


def _suite_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings ``reproduce`` and ``benchmark`` take alike from their flags (a device or
    precision not given is left to the config's default)."""
    settings = dict(workers=args.workers, data_dir=args.data_dir, force=args.force,
                    train=not args.report, executor=executor_from_args(args), wait=args.wait)
    settings.update({name: getattr(args, name) for name in ("device", "precision")
                     if getattr(args, name) is not None})
    return settings


def cmd_reproduce(args: argparse.Namespace) -> int:
    from eamp.experiments.reproduce import ReproduceConfig, reproduce

    config = ReproduceConfig(quick=args.quick, seeds=args.seeds, protocol=args.protocol,
                             tuned=args.tuned, **_suite_settings(args))
    if config.train:
        runs_here(config.device, config.precision)
    report = reproduce(config, output_folder(args.out))
    print(f"report: {report}")
    return 0


def cmd_benchmark(args: argparse.Namespace) -> int:
    from eamp.experiments.benchmark import BenchmarkConfig
    from eamp.experiments.suite import plan_table

    config = BenchmarkConfig(suite=args.suite, count=args.seeds,
                             cases=tuple(args.cases or ()), **_suite_settings(args))
    if config.study:  # one config, two runners: the entropy study tunes before it runs
        from eamp.experiments.study import plan_study as plan
        from eamp.experiments.study import run_study as run
    else:
        from eamp.experiments.benchmark import benchmark as run
        from eamp.experiments.benchmark import plan_benchmark as plan
    if args.plan:
        print(plan_table(plan(config, Path(args.out)), args.out))
        return 0
    if config.train:
        runs_here(config.device, config.precision)
    report = run(config, output_folder(args.out))
    print(f"{'study' if config.study else 'benchmark'}: {report}")
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    base = config_from_args(args)
    executor = executor_from_args(args)
    from eamp.runs.tune import TuneConfig, tune

    config = TuneConfig(base=base, trials=args.trials, storage=args.storage, study=args.study,
                        workers=args.workers, seeds=args.seeds,
                        only=tuple(args.only) if args.only else None)
    runs_here(base.device, base.precision)
    best = tune(config, output_folder(args.out), executor)
    print(f"best: {best}")
    return 0


