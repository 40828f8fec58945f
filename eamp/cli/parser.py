"""The ``eamp`` command line's parser: subcommands, their flags and help."""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from eamp.cli.commands import (
    cmd_benchmark,
    cmd_datasets,
    cmd_demo,
    cmd_oversmoothing,
    cmd_reproduce,
    cmd_train,
    cmd_tune,
)
from eamp.cli.settings import model_flags
from eamp.data.catalog import BATCHING, GRAPHS, OPTIMIZERS, PARTITIONS, SPLITS, dataset_names
from eamp.device import DEVICES, PRECISIONS
from eamp.errors import UsageError
from eamp.experiments.benchmark import suite_names
from eamp.experiments.plan import PROTOCOL_CHOICES
from eamp.models.registry import MODELS, model_names, preset_names, reproduction_models
from eamp.runs.executor import EXECUTORS
from eamp.training.config import SELECT

__all__ = ["Parser", "add_model_arguments", "build_parser"]


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # one line, no usage block: a one-line error, exit code 2
        raise UsageError(f"{self.prog}: {message} (see --help)")


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

    parser.add_argument("--split", choices=SPLITS,
                        help="Planetoid split: public, the ten geom-gcn splits, or GRAND's "
                        "ten random splits of the largest component, lcc-random (default "
                        "public)")
    parser.add_argument("--split-index",
                        help="which fixed split to train on, or 'all' (default 0)")
    parser.add_argument("--data-dir", help="data root (default $EAMP_DATA_DIR, else the cache)")
    parser.add_argument("--graph", choices=GRAPHS,
                        help="train on the graph made undirected without self-loops "
                        "(default), or as the dataset class loads it (edge directions and "
                        "self-loops kept; not for entropic models)")
    parser.add_argument("--normalize-features", action="store_true",
                        help="row-normalise the features")
    parser.add_argument("--checkpoint", action="store_true",
                        help="activation checkpointing of every layer: less memory, same "
                        "gradients, about a third more time")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile the model (dense features and gather-scatter "
                        "propagation, which TorchDynamo traces; slower than the eager sparse "
                        "products on a CPU)")
    parser.add_argument("--batching", choices=BATCHING,
                        help="full batch, or Cluster-GCN batches of graph parts for graphs "
                        "whose activations do not fit (default full)")
    parser.add_argument("--num-parts", type=_positive_int,
                        help="cluster batching: parts of the graph (default 32)")
    parser.add_argument("--parts-per-batch", type=_positive_int,
                        help="cluster batching: parts per batch (default 1)")
    parser.add_argument("--partition", choices=PARTITIONS,
                        help="cluster batching: METIS (few cut edges) or a random cut "
                        "(default metis)")
    parser.add_argument("--epochs", type=_positive_int, help="at most this many epochs")
    parser.add_argument("--patience", type=_positive_int, help="early-stopping patience")
    parser.add_argument("--optimizer", choices=OPTIMIZERS,
                        help="torch.optim's Adam or Adamax (default adam)")
    parser.add_argument("--select", choices=SELECT,
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


def build_parser() -> argparse.ArgumentParser:

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
    cluster.add_argument("--executor", choices=EXECUTORS,
                         help="where runs execute: a local process pool (default), submitit's "
                         "local executor (a subprocess per run) or SLURM (a job per run); "
                         "tuning workers too, a job each")
    for flag, text in (("partition", "SLURM partition"), ("gpus-per-task", "GPUs per job"),
                       ("cpus-per-task", "CPUs per job"), ("mem", "memory per job, e.g. 16G"),
                       ("account", "SLURM account"), ("qos", "SLURM quality of service")):
        cluster.add_argument(f"--slurm-{flag}", metavar="VALUE", help=text)
    waiting = argparse.ArgumentParser(add_help=False)
    waiting.add_argument("--wait", action="store_true",
                         help="wait for the runs another command is training in the same "
                         "folder (each run is trained once between them; without --wait "
                         "they are skipped and the summary names their holder)")
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
            precision, cluster, waiting)
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--quick", action="store_true", help="a smaller run (minutes)")
    p.add_argument("--seeds", type=_positive_int, help="seeds of the standard protocol")
    p.add_argument("--workers", type=_positive_int, default=1, help=_WORKERS_HELP.format("runs"))
    p.add_argument("--protocol", choices=PROTOCOL_CHOICES, default="both")
    p.add_argument("--force", action="store_true", help="redo finished runs")
    p.add_argument("--data-dir", help="data root")
    p.add_argument("--tuned", metavar="DIR", help="use the best.json of 'eamp tune' runs")
    p.add_argument("--report", action="store_true",
                   help="write the report from the runs stored in DIR and train nothing "
                   "(a committed store, or runs brought back from a GPU machine or cluster)")
    p.set_defaults(func=cmd_reproduce)


    p = add("benchmark", "baselines in their own papers' protocols beside the published "
            "numbers, and the entropy study", device, precision, cluster, waiting)
    p.add_argument("--suite", required=True, choices=suite_names(),
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
    p.add_argument("--storage", help="Optuna storage: a database URL without a password "
                   "(postgresql+psycopg://USER@HOST:5432/DB; the password goes in PGPASSWORD, "
                   "~/.pgpass or a service file) or a journal file, journal:PATH (default: "
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

    lines = ["presets (--preset NAME; --dataset picks the preset's settings for it):"]
    for spec in MODELS.values():
        for preset in spec.presets:
            lines.append(f"  {preset.name:<26} {preset.summary}")
            lines.append(f"  {'':<26} source: {preset.source}")
    return "\n".join(lines)


def _version() -> str:
    from eamp import __version__

    return f"eamp {__version__}"


