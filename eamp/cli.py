"""The ``eamp`` command: parses arguments into the config objects the Python API takes."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

__all__ = ["main"]


class UsageError(Exception):
    """A bad argument: one line on stderr, exit code 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # one line, no usage block: the spec's "a one-line error, exit code 2"
        raise UsageError(f"{self.prog}: {message} (see --help)")


def model_flags() -> list[tuple[str, str, type, str]]:
    """``(flag, model option, type, help)`` of the model options with a flag of their own:
    the entropy's numbers and choices (from :class:`~eamp.nn.EntropyOptions`) and each
    registered model's ``flags``. A model's own flag is parsed later, to the type its model
    declares (as ``--option``), so that building the parser imports no model."""
    from dataclasses import fields

    from eamp.models.registry import MODELS
    from eamp.nn.options import EntropyOptions

    flags = {f"--{f.name.replace('_', '-')}": (f.name, float if f.type == "float" else str,
                                                f"entropic models: {f.metadata['help']}")
             for f in fields(EntropyOptions) if f.type in ("float", "str")}
    for spec in MODELS.values():
        for flag, (option, text) in spec.flags.items():
            flags[flag] = (option, str, f"{spec.name}: {text}")
    return [(flag, option, kind, text) for flag, (option, kind, text) in flags.items()]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = _non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("expected a number > 0, got 0")
    return value


def _option(text: str) -> tuple[str, str]:
    """``KEY=VALUE``; the value is parsed later, to the type the model declares for KEY."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    return key.strip().replace("-", "_"), raw


def add_model_arguments(parser: argparse.ArgumentParser, *, searched: bool = False) -> None:
    """The model and data options shared by ``train`` and ``tune``."""
    from eamp.catalog import dataset_names
    from eamp.models.registry import model_names, preset_names

    parser.add_argument("--model", metavar="NAME", help=f"one of {', '.join(model_names())}")
    parser.add_argument("--preset", metavar="NAME",
                        help="a model's published settings for the dataset (sets --model; "
                        "flags and --config win); see the list below: "
                        f"{', '.join(preset_names())}")
    parser.add_argument("--dataset", metavar="NAME", help=f"one of {', '.join(dataset_names())}")
    parser.add_argument("--depth", type=_positive_int,
                        help="message-passing layers (linear encoders/decoders not counted)")
    parser.add_argument("--hidden", type=_positive_int, help="width (default 256)")
    parser.add_argument("--seed", type=int, help="seed (default 0)")
    from eamp.catalog import OPTIMIZERS, SPLITS

    parser.add_argument("--split", choices=SPLITS,
                        help="Planetoid split: public, the ten geom-gcn splits, or GRAND's "
                        "ten random splits of the largest component, lcc-random (default "
                        "public)")
    parser.add_argument("--split-index",
                        help="which fixed split to train on, or 'all' (default 0)")
    parser.add_argument("--data-dir", help="data root (default $EAMP_DATA_DIR, else the cache)")
    parser.add_argument("--graph", choices=["undirected", "as-loaded"],
                        help="train on the graph made undirected without self-loops "
                        "(default), or as the dataset class loads it (edge directions and "
                        "self-loops kept; not for entropic models)")
    parser.add_argument("--normalize-features", action="store_true",
                        help="row-normalise the features")
    parser.add_argument("--checkpoint", action="store_true",
                        help="activation checkpointing of every layer: less memory, same "
                        "gradients, about a third more time")
    parser.add_argument("--batching", choices=["full", "cluster"],
                        help="full batch, or Cluster-GCN batches of graph parts for graphs "
                        "whose activations do not fit (default full)")
    parser.add_argument("--num-parts", type=_positive_int,
                        help="cluster batching: parts of the graph (default 32)")
    parser.add_argument("--parts-per-batch", type=_positive_int,
                        help="cluster batching: parts per batch (default 1)")
    parser.add_argument("--partition", choices=["metis", "random"],
                        help="cluster batching: METIS (few cut edges) or a random cut "
                        "(default metis)")
    parser.add_argument("--epochs", type=_positive_int, help="at most this many epochs")
    parser.add_argument("--patience", type=_positive_int, help="early-stopping patience")
    parser.add_argument("--optimizer", choices=OPTIMIZERS,
                        help="torch.optim's Adam or Adamax (default adam)")
    parser.add_argument("--select", choices=["val_metric", "val_loss"],
                        help="keep the epoch with the best validation score in the dataset's "
                        "metric (accuracy, or ROC AUC on minesweeper and tolokers) or the "
                        "lowest validation loss (default: val_metric)")
    if not searched:
        parser.add_argument("--lr", type=_positive_float, help="learning rate")
        parser.add_argument("--weight-decay", type=_non_negative_float, help="weight decay")
        parser.add_argument("--dropout", type=_non_negative_float, help="dropout rate")
        parser.add_argument("--no-detach", action="store_true",
                            help="entropic models: back-propagate through the entropy step")
        for flag, _, kind, text in model_flags():
            parser.add_argument(flag, type=kind, help=text)
    parser.add_argument("--option", type=_option, action="append", default=[],
                        metavar="KEY=VALUE", help="any other model option (repeatable)")


def config_from_args(args: argparse.Namespace, base: dict[str, Any] | None = None) -> Any:
    """A :class:`~eamp.train.TrainConfig` from parsed arguments over ``base`` settings
    (e.g. a tuned ``best.json``); flags given on the command line win."""
    from eamp.catalog import check_dataset
    from eamp.models.registry import get_model_spec, get_preset, parse_option

    settings = dict(base or {})
    # a data folder is code PyG unpickles: only --data-dir names one, never a config file
    settings.pop("data_dir", None)
    options = settings.pop("model_options", None) or {}
    if not isinstance(options, dict):
        raise UsageError(f"--config: model_options: expected a JSON object, got {options!r}")
    options = dict(options)
    preset = getattr(args, "preset", None) or settings.get("preset")
    if preset is not None:
        # the preset under the config file and the flags
        owner, found = get_preset(preset)
        # an entropic version may train with its backbone's published settings
        if args.model is not None and owner.name not in (
                get_model_spec(args.model).name, get_model_spec(args.model).entropic_of):
            raise UsageError(f"--preset: {found.name} is a preset of {owner.name}, not of "
                             f"{args.model}")
        dataset = args.dataset or settings.get("dataset")
        if dataset is None:
            raise UsageError("--dataset is required (or --config with a dataset)")
        own = found.for_dataset(check_dataset(dataset))
        options = {**own.pop("model_options"), **options}
        settings = {**own, "model": owner.name, **settings, "preset": found.name}
    for key in ("model", "dataset", "depth"):
        value = getattr(args, key)
        if value is not None:
            settings[key] = value
        if settings.get(key) is None:
            raise UsageError(f"--{key} is required (or --config or --preset with a {key})")
    # names are checked before PyTorch is imported: a typo is answered at once
    spec = get_model_spec(settings["model"])
    check_dataset(settings["dataset"])
    # where a run computes is this machine's choice: a config file's device is not taken
    settings.pop("device", None)
    for key in ("hidden", "seed", "split", "split_index", "data_dir", "lr", "weight_decay",
                "dropout", "epochs", "patience", "device", "precision", "select", "batching",
                "graph", "num_parts", "parts_per_batch", "partition", "optimizer"):
        value = getattr(args, key, None)
        if value is not None:
            settings[key] = value
    if settings.get("batching", "full") != "cluster":
        for key in ("num_parts", "parts_per_batch", "partition"):
            if getattr(args, key, None) is not None:
                raise UsageError(f"--{key.replace('_', '-')} applies to --batching cluster")
    for flag, name, kind, _ in model_flags():
        value = getattr(args, flag.lstrip("-").replace("-", "_"), None)
        if value is not None:
            options[name] = parse_option(spec, name, value) if kind is str else value
    if getattr(args, "no_detach", False):
        options["detach"] = False
    options.update({key: parse_option(spec, key, raw) for key, raw in args.option})
    from eamp.train import TrainConfig

    fields = set(TrainConfig.__dataclass_fields__)
    settings = {k: v for k, v in settings.items() if k in fields}
    if args.normalize_features:
        settings["normalize_features"] = True
    if args.checkpoint:
        settings["checkpoint"] = True
    settings["model_options"] = options
    return TrainConfig(**settings)


# ----------------------------------------------------------------------------- commands


def cmd_train(args: argparse.Namespace) -> int:
    base = None
    if args.config:
        base = _read_config(args.config)
    config = config_from_args(args, base)  # checked here, before any data is loaded
    out = output_folder(args.out)
    from eamp.train import train

    # a log that is not a terminal gets a line every 50 epochs instead of a progress bar
    result = train(config, log_every=0 if sys.stderr.isatty() else 50)
    result.to_json(out / "result.json")
    print(f"{config.model} on {config.dataset}, depth {config.depth}: {result.metric} val "
          f"{result.val_score:.4f}, test {result.test_score:.4f} (epoch by {config.select}), "
          f"{result.epoch_time_s * 1e3:.1f} ms/epoch -> {out / 'result.json'}")
    return 0


# folders output_folder made in this command: a command that fails removes them if empty
_CREATED: list[Path] = []


def output_folder(text: str) -> Path:
    """``--out``, checked before any work: a folder (created if missing) that a file can be
    written into. Every command that trains calls it once its arguments are checked, so
    it also says (one line) when the machine is already loaded."""
    from eamp.runtime import warn_if_busy

    path = Path(text)
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out: {path} exists and is not a folder")
    missing = [p for p in (path, *path.parents) if not p.exists()]
    try:
        path.mkdir(parents=True, exist_ok=True)
        _CREATED.extend(missing)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".eamp-probe-"):
            pass
    except OSError as error:
        raise UsageError(f"--out: cannot write into {path} ({error.strerror or error})") from None
    warn_if_busy()
    return path


def _read_config(path: str) -> dict[str, Any]:
    """The settings of a ``result.json`` or ``best.json`` (its ``config``), or of a JSON
    object of :class:`~eamp.train.TrainConfig` fields."""
    try:
        payload = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"--config: cannot read {path}: {error}") from None
    config = payload.get("config", payload) if isinstance(payload, dict) else payload
    if not isinstance(config, dict):
        raise UsageError(f"--config: expected a JSON object of settings (or a result.json or "
                         f"best.json), got a JSON {type(config).__name__} in {path}")
    return config


def cmd_datasets(args: argparse.Namespace) -> int:
    from eamp.catalog import DATASETS, SYNTHETIC, DatasetUnavailable, data_root

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


def cmd_reproduce(args: argparse.Namespace) -> int:
    from eamp.experiments.reproduce import ReproduceConfig, reproduce

    config = ReproduceConfig(quick=args.quick, seeds=args.seeds, workers=args.workers,
                             protocol=args.protocol, force=args.force,
                             data_dir=args.data_dir, tuned=args.tuned,
                             device=args.device or "auto", precision=args.precision or "32",
                             executor=executor_from_args(args))
    report = reproduce(config, output_folder(args.out))
    print(f"report: {report}")
    return 0


def executor_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~eamp.experiments.executor.ExecutorConfig` of ``--executor`` and the
    ``--slurm-*`` flags."""
    from eamp.experiments.executor import ExecutorConfig

    slurm = {name: getattr(args, f"slurm_{name}") for name in
             ("partition", "gpus_per_task", "cpus_per_task", "mem", "account", "qos")
             if getattr(args, f"slurm_{name}", None) is not None}
    for key, raw in args.slurm_option:
        slurm[key] = int(raw) if raw.strip().isdigit() else raw
    for name in ("gpus_per_task", "cpus_per_task"):
        if name in slurm:
            text = str(slurm[name])
            if not text.isdigit():
                raise UsageError(f"--slurm-{name.replace('_', '-')}: expected an integer, "
                                 f"got {text!r}")
            slurm[name] = int(text)
    kind = args.executor or "pool"
    return ExecutorConfig(kind=kind, slurm=slurm,
                          **({"timeout_min": args.slurm_time} if args.slurm_time else {}))


def _minutes_left(row: dict[str, Any]) -> float | None:
    """The compute a plan row still needs at its own measured rates: its mean trial time for
    each trial left, its mean run time for each run left (the mean trial time while no run
    is done yet); None where nothing of the row has been timed."""
    trials_left = max(row["trials_planned"] - row["trials_done"], 0)
    runs_left = row["runs_planned"] - row["runs_done"]
    per_trial = row["tune_min"] / row["trials_done"] if row["trials_done"] else None
    per_run = row["runs_min"] / row["runs_done"] if row["runs_done"] else per_trial
    if (trials_left and per_trial is None) or (runs_left and per_run is None):
        return None
    return trials_left * (per_trial or 0.0) + runs_left * (per_run or 0.0)


def _print_plan(rows: list[dict[str, Any]], out: str) -> None:
    """The table of ``eamp benchmark --plan``: per row its trials and runs (done/planned),
    the compute they took (minutes) and an estimate of what is left."""
    width = max([len(r["cell"]) for r in rows] + [4])
    model = max([len(r["model"]) for r in rows] + [5])
    print(f"{'case':<{width}}  {'model':<{model}}  {'trials':>9}  {'runs':>9}  "
          f"{'min done':>8}  {'min left':>8}")
    lefts = [_minutes_left(r) for r in rows]
    for r, left in zip(rows, lefts, strict=True):
        trials = f"{r['trials_done']}/{r['trials_planned']}" if r["trials_planned"] else "-"
        print(f"{r['cell']:<{width}}  {r['model']:<{model}}  {trials:>9}  "
              f"{r['runs_done']:>4}/{r['runs_planned']:<4}  "
              f"{r['tune_min'] + r['runs_min']:>8.1f}  "
              f"{'?' if left is None else f'{left:.1f}':>8}")
    trials_left = sum(max(r["trials_planned"] - r["trials_done"], 0) for r in rows)
    runs_left = sum(r["runs_planned"] - r["runs_done"] for r in rows)
    tuned = any(r["trials_planned"] for r in rows)
    print(f"to do in {out}: {trials_left} tuning trials, {runs_left} runs (done/planned "
          f"above{'; a cell runs once its models are tuned' if tuned else ''})")
    unknown = sum(left is None for left in lefts)
    if unknown == len(rows):
        print(f"compute: nothing timed yet in {out}")
        return
    print(f"compute: {sum(r['tune_min'] + r['runs_min'] for r in rows):.1f} min done; about "
          f"{sum(left for left in lefts if left is not None):.1f} min left at each row's "
          f"measured rate (a row's runs at its trials' rate until one is done)"
          + (f", not counting {unknown} row(s) with nothing timed yet (?)" if unknown else ""))


def cmd_benchmark(args: argparse.Namespace) -> int:
    from eamp.experiments.study import STUDY_SUITES

    if args.suite in STUDY_SUITES:
        from eamp.device import check_precision, usable_device
        from eamp.experiments.study import plan_study, run_study

        device = usable_device(args.device or "auto")
        precision = check_precision(args.precision or "32", device)
        if args.plan:
            _print_plan(plan_study(args.suite, Path(args.out), data_dir=args.data_dir,
                                   device=device, precision=precision,
                                   cases=tuple(args.cases or ()), count=args.seeds), args.out)
            return 0
        out = output_folder(args.out)
        report = run_study(args.suite, out, workers=args.workers, data_dir=args.data_dir,
                           device=device, precision=precision, force=args.force,
                           cases=tuple(args.cases or ()), count=args.seeds,
                           executor=executor_from_args(args), train=not args.report)
        print(f"study: {report}")
        return 0
    from eamp.experiments.benchmark import BenchmarkConfig, benchmark, plan_benchmark

    config = BenchmarkConfig(suite=args.suite, count=args.seeds, workers=args.workers,
                             device=args.device or "auto", precision=args.precision or "32",
                             data_dir=args.data_dir, force=args.force,
                             train=not args.report, cases=tuple(args.cases or ()),
                             executor=executor_from_args(args))
    if args.plan:
        _print_plan(plan_benchmark(config, Path(args.out)), args.out)
        return 0
    command = shlex.join(["eamp", *args.argv])  # quoted: a case name holds spaces
    report = benchmark(config, output_folder(args.out), command=command)
    print(f"benchmark: {report}")
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    base = config_from_args(args)
    executor = executor_from_args(args)
    from eamp.tune import TuneConfig, tune, tune_jobs

    config = TuneConfig(base=base, trials=args.trials, storage=args.storage, study=args.study,
                        workers=args.workers, seeds=args.seeds,
                        only=tuple(args.only) if args.only else None)
    if executor.kind == "pool":
        best = tune(config, output_folder(args.out))
    else:  # the workers as jobs on one shared study
        best = tune_jobs(config, output_folder(args.out), executor)
    print(f"best: {best}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from eamp.device import DEVICES, PRECISIONS
    from eamp.models.registry import model_names, reproduction_models

    parser = Parser(prog="eamp", description="Entropy-Aware Message Passing: train, measure "
                    "and reproduce (Nazari et al., 2023).")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--threads", type=_positive_int, metavar="N",
                        help="threads this command uses in all, split among its workers "
                        "(default: $EAMP_NUM_THREADS, else every core)")
    device = argparse.ArgumentParser(add_help=False)
    device.add_argument("--device", metavar="DEVICE", help=f"{DEVICES}; auto: CUDA when "
                        "present, else the CPU; workers go round robin over several GPUs "
                        "(default: auto)")
    cluster = argparse.ArgumentParser(add_help=False)
    cluster.add_argument("--executor", choices=["pool", "local", "slurm"],
                         help="where runs execute: a local process pool (default), submitit's "
                         "local executor (a subprocess per run) or SLURM (a job per run); "
                         "tuning workers too, a job each")
    for flag, text in (("partition", "SLURM partition"), ("gpus-per-task", "GPUs per job"),
                       ("cpus-per-task", "CPUs per job"), ("mem", "memory per job, e.g. 16G"),
                       ("account", "SLURM account"), ("qos", "SLURM quality of service")):
        cluster.add_argument(f"--slurm-{flag}", metavar="VALUE", help=text)
    cluster.add_argument("--slurm-time", type=_positive_int, metavar="MIN",
                         help="time limit of a job in minutes (default 240)")
    cluster.add_argument("--slurm-option", type=_option, action="append", default=[],
                         metavar="KEY=VALUE", help="any other submitit slurm_KEY parameter")
    precision = argparse.ArgumentParser(add_help=False)
    precision.add_argument("--precision", choices=PRECISIONS,
                           help="32, or mixed precision with torch.autocast: bf16-mixed (CPU "
                           "and GPU), 16-mixed (GPU) (default: 32)")

    def add(name: str, help: str, *parents: argparse.ArgumentParser,
            **kwargs: Any) -> argparse.ArgumentParser:
        """A subcommand with the shared options; its --help opens with its one line."""
        kwargs.setdefault("description", help[0].upper() + help[1:] + ".")
        return sub.add_parser(name, parents=[common, *parents], help=help, **kwargs)

    p = add("train", "train one model, write DIR/result.json", device, precision,
            description="Full-batch node classification; writes DIR/result.json.",
            epilog=_presets_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(p)
    p.add_argument("--out", required=True, metavar="DIR", help="folder of result.json")
    p.add_argument("--config", metavar="JSON", help="settings from a result.json or best.json "
                   "(command-line flags win)")
    p.set_defaults(func=cmd_train)

    p = add("datasets", help="list datasets and whether their raw files are here")
    p.add_argument("--data-dir", help="data root")
    p.set_defaults(func=cmd_datasets)

    p = add("demo", "entropy ascent on the 10x10 grid: energy and entropy", device)
    p.add_argument("--steps", type=_positive_int, default=20)
    p.add_argument("--temperature", type=_positive_float, default=1.0)
    p.add_argument("--step", type=_positive_float, default=0.5, help="lambda of each step")
    p.add_argument("--scale", type=_positive_float, default=0.1,
                   help="feature scale (small: a smoothed start)")
    p.add_argument("--channels", type=_positive_int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_demo)

    p = add("oversmoothing", "Figure 2: energy of untrained deep models on the grid", device)
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--models", nargs="+", default=list(reproduction_models()),
                   choices=model_names(), help="registry names (default: the reproduction's)")
    p.add_argument("--layers", type=_positive_int, default=1000)
    p.add_argument("--width", type=_positive_int, default=64)
    p.add_argument("--seeds", type=_positive_int, default=5)
    p.add_argument("--energy", choices=["paper", "survey"], default="paper",
                   help="paper: mean of C_i-normalised node energies; survey: Rusch et al.'s "
                   "un-normalised sum over edges / n")
    p.set_defaults(func=cmd_oversmoothing)

    p = add("reproduce", "the paper's Figure 2, Table 1 and Figure 3, and a report", device,
            precision, cluster)
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--quick", action="store_true", help="a smaller run (minutes)")
    p.add_argument("--seeds", type=_positive_int, help="seeds of the standard protocol")
    p.add_argument("--workers", type=_positive_int, default=1, help=_WORKERS_HELP.format("runs"))
    p.add_argument("--protocol", choices=["paper", "standard", "both"], default="both")
    p.add_argument("--force", action="store_true", help="redo finished runs")
    p.add_argument("--data-dir", help="data root")
    p.add_argument("--tuned", metavar="DIR", help="use the best.json of 'eamp tune' runs")
    p.set_defaults(func=cmd_reproduce)

    from eamp.experiments.benchmark import suite_names
    from eamp.experiments.study import STUDY_SUITES

    p = add("benchmark", "baselines in their own papers' protocols beside the published "
            "numbers, and the entropy study", device, precision, cluster)
    p.add_argument("--suite", required=True, choices=[*suite_names(), *STUDY_SUITES],
                   help="fidelity: the published cases; fidelity-quick: a few-minute subset; "
                   "entropy: each backbone against its entropic version, tuned alike "
                   "(entropy-core: the cells a small machine can run; entropy-gcnii-paper: "
                   "GCNII as its paper ran it against entropic GCNII with the same settings "
                   "and its entropy parameters tuned; entropy-quick*: tests)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="folder of runs/, benchmark.csv and benchmark.md (resumed)")
    p.add_argument("--seeds", type=_positive_int, metavar="N",
                   help="seeds (or fixed splits) per case (default: each case's own, 10)")
    p.add_argument("--cases", nargs="+", metavar="TEXT",
                   help="run only the cases whose name contains TEXT (e.g. GCNII texas); "
                   "the others are reported from stored runs or as not run")
    p.add_argument("--workers", type=_positive_int, default=1, help=_WORKERS_HELP.format("runs"))
    p.add_argument("--force", action="store_true", help="redo finished runs")
    p.add_argument("--data-dir", help="data root")
    only = p.add_mutually_exclusive_group()
    only.add_argument("--plan", action="store_true",
                      help="list the tuning trials and runs per case, done and planned in "
                      "DIR, and exit without training (to size a GPU or cluster job)")
    only.add_argument("--report", action="store_true",
                      help="write the report from the runs stored in DIR and train nothing "
                      "(after bringing runs back from a GPU machine or a cluster)")
    p.set_defaults(func=cmd_benchmark)

    p = add("tune", "Optuna search over a model's hyper-parameters", device, precision,
            cluster)
    add_model_arguments(p, searched=True)
    p.add_argument("--trials", type=_positive_int, required=True,
                   help="finished trials to add in this run, shared by the workers")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--storage", help="Optuna storage URL or journal file (default: "
                   "sqlite in DIR)")
    p.add_argument("--study", help="study name (default: from model, dataset, depth)")
    p.add_argument("--workers", type=_positive_int, default=1, help=_WORKERS_HELP.format("trials"))
    p.add_argument("--seeds", type=_positive_int, default=1,
                   help="seeds averaged per trial")
    p.add_argument("--only", nargs="+", metavar="NAME",
                   help="search only these parameters of the model's search space, the rest "
                   "as given (e.g. --preset gcnii-chen2020 --model entropic_gcnii --only "
                   "entropy_weight temperature)")
    p.set_defaults(func=cmd_tune)
    return parser


_WORKERS_HELP = ("{} trained at once: processes, or jobs with --executor local/slurm; "
                 "--threads is split among them (default: 1)")


def _presets_epilog() -> str:
    """The presets, one per line, with their source: the end of ``train --help``."""
    from eamp.models.registry import MODELS

    lines = ["presets (--preset NAME; --dataset picks the preset's settings for it):"]
    for spec in MODELS.values():
        for preset in spec.presets:
            lines.append(f"  {preset.name:<26} {preset.summary}")
            lines.append(f"  {'':<26} source: {preset.source}")
    return "\n".join(lines)


def _version() -> str:
    from eamp import __version__

    return f"eamp {__version__}"


def main(argv: Sequence[str] | None = None) -> int:
    from eamp.catalog import DatasetUnavailable
    from eamp.errors import Incomplete

    _CREATED.clear()
    try:
        args = build_parser().parse_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)  # as typed, for reports
        from eamp.runtime import use_threads

        use_threads(args.threads)
        return int(args.func(args) or 0)
    except (UsageError, ValueError, DatasetUnavailable, FloatingPointError) as error:
        print(f"eamp: error: {error}", file=sys.stderr)
        _remove_empty_folders()
        return 2
    except Incomplete as error:
        print(f"eamp: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("eamp: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # whatever read stdout has gone (`eamp ... | head`): stop quietly
        import os

        # Python flushes stdout once more at exit: point it at nothing first
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _remove_empty_folders() -> None:
    for folder in _CREATED:  # innermost first
        try:
            folder.rmdir()
        except OSError:
            break
    _CREATED.clear()


if __name__ == "__main__":
    sys.exit(main())
