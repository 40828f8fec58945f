"""From parsed arguments to the config objects the Python API takes: the command line's
only translation step. Every value is checked by the object it goes into, not here."""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import fields
from pathlib import Path
from typing import Any

from eamp.errors import UsageError

__all__ = ["config_from_args", "executor_from_args", "model_flags", "output_folder",
           "read_config"]



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



def config_from_args(args: argparse.Namespace, base: dict[str, Any] | None = None) -> Any:
    """A :class:`~eamp.training.TrainConfig` from parsed arguments over ``base`` settings
    (a config file, e.g. a tuned ``best.json``) over a preset's (``--preset``): flags win
    over the file, the file over the preset."""
    from eamp.models.registry import get_model_spec, get_preset, parse_option
    from eamp.training.config import TrainConfig

    names = [f.name for f in fields(TrainConfig)]
    settings = dict(base or {})
    unknown = sorted(set(settings) - set(names))
    if unknown:
        raise UsageError(f"--config: unknown settings {', '.join(unknown)}; a config holds "
                         f"{', '.join(names)}")
    # a data folder is code PyG unpickles: only --data-dir names one, never a config file;
    # and where a run computes is this machine's choice, not the file's
    settings.pop("data_dir", None)
    settings.pop("device", None)
    options = settings.pop("model_options", None) or {}
    if not isinstance(options, dict):
        raise UsageError(f"--config: model_options: expected a JSON object, got {options!r}")
    options = dict(options)
    for name in names:
        value = getattr(args, name, None)
        if name not in ("model_options", "normalize_features", "checkpoint", "compile") \
                and value is not None:
            settings[name] = value
    for name in ("normalize_features", "checkpoint", "compile"):
        if getattr(args, name, False):
            settings[name] = True
    if settings.get("batching", "full") != "cluster":
        for key in ("num_parts", "parts_per_batch", "partition"):
            if getattr(args, key, None) is not None:
                raise UsageError(f"--{key.replace('_', '-')} applies to --batching cluster")
    preset = settings.pop("preset", None)
    if preset is not None:
        settings.setdefault("model", get_preset(preset)[0].name)
    for key in ("model", "dataset") + (() if preset else ("depth",)):
        if settings.get(key) is None:
            raise UsageError(f"--{key} is required (or --config or --preset with a {key})")
    spec = get_model_spec(settings["model"])
    for flag, name, kind, _ in model_flags():
        value = getattr(args, flag.lstrip("-").replace("-", "_"), None)
        if value is not None:
            options[name] = parse_option(spec, name, value) if kind is str else value
    if getattr(args, "no_detach", False):
        options["detach"] = False
    options.update({key: parse_option(spec, key, raw) for key, raw in args.option})
    if preset is not None:
        return TrainConfig.from_preset(preset, settings.pop("dataset"), **settings,
                                       model_options=options)
    return TrainConfig(**settings, model_options=options)


def read_config(path: str) -> dict[str, Any]:
    """The settings of a ``result.json`` or ``best.json`` (its ``config``), or of a JSON
    object of :class:`~eamp.training.TrainConfig` fields."""
    try:
        payload = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"--config: cannot read {path}: {error}") from None
    config = payload.get("config", payload) if isinstance(payload, dict) else payload
    if not isinstance(config, dict):
        raise UsageError(f"--config: expected a JSON object of settings (or a result.json or "
                         f"best.json), got a JSON {type(config).__name__} in {path}")
    return config


def executor_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~eamp.runs.executor.ExecutorConfig` of ``--executor`` and the
    ``--slurm-*`` flags."""
    from eamp.runs.executor import ExecutorConfig

    slurm: dict[str, Any] = {name: getattr(args, f"slurm_{name}") for name in
                             ("partition", "gpus_per_task", "cpus_per_task", "mem", "account",
                              "qos") if getattr(args, f"slurm_{name}", None) is not None}
    for key, raw in args.slurm_option:
        slurm[key] = int(raw) if raw.strip().isdigit() else raw
    for name in ("gpus_per_task", "cpus_per_task"):
        if name in slurm:
            text = str(slurm[name])
            if not text.isdigit():
                raise UsageError(f"--slurm-{name.replace('_', '-')}: expected an integer, "
                                 f"got {text!r}")
            slurm[name] = int(text)
    return ExecutorConfig(kind=args.executor or "pool", slurm=slurm,
                          **({"timeout_min": args.slurm_time} if args.slurm_time else {}))


# folders output_folder made in this command: a command that fails removes them if empty
CREATED: list[Path] = []


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
        CREATED.extend(missing)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".eamp-probe-"):
            pass
    except OSError as error:
        raise UsageError(f"--out: cannot write into {path} ({error.strerror or error})") from None
    warn_if_busy()
    return path


def remove_empty_folders() -> None:
    """Removes the folders :func:`output_folder` made in a command that failed, if empty."""
    for folder in CREATED:  # innermost first
        try:
            folder.rmdir()
        except OSError:
            break
    CREATED.clear()
