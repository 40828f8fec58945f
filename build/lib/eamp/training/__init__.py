"""Training: a run's settings (:mod:`eamp.training.config`), the loop
(:mod:`eamp.training.loop`), its resumable state (:mod:`eamp.training.state`) and the schema
of its ``result.json`` (:mod:`eamp.training.result`). Names are imported on first use
(the config alone does not import PyTorch)."""

from typing import TYPE_CHECKING

from eamp._lazy import lazy_attributes

_NAMES = {
    **dict.fromkeys(("SELECT", "TrainConfig"), "eamp.training.config"),
    **dict.fromkeys(("EpochCallback", "check_memory", "train"), "eamp.training.loop"),
    **dict.fromkeys(("RunResult", "SplitResult", "config_differences", "describe_differences",
                     "read_result", "versions"), "eamp.training.result"),
    "RunState": "eamp.training.state",
}
__all__ = [
    "EpochCallback",
    "RunResult",
    "RunState",
    "SELECT",
    "SplitResult",
    "TrainConfig",
    "check_memory",
    "config_differences",
    "describe_differences",
    "read_result",
    "train",
    "versions",
]  # the keys of _NAMES
__getattr__ = lazy_attributes(__name__, _NAMES)

if TYPE_CHECKING:
    from eamp.training.config import SELECT, TrainConfig
    from eamp.training.loop import EpochCallback, check_memory, train
    from eamp.training.result import (
        RunResult,
        SplitResult,
        config_differences,
        describe_differences,
        read_result,
        versions,
    )
    from eamp.training.state import RunState
