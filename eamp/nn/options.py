r"""The settings of the entropy-ascent step, in one frozen object.

:class:`EntropyOptions` is what :class:`~eamp.nn.EntropicConv`, the entropic models, GRAND's
vector field, the command line and the tuner pass around. It is checked once, when it is
built; code that receives one trusts it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from numbers import Real
from typing import Any

from eamp.nn.schedules import SCHEDULES

__all__ = ["EntropyOptions", "GRADIENT_AT", "real_number"]

GRADIENT_AT = ("input", "output")


def real_number(name: str, value: Any, *, low: float = -math.inf,
                allow_low: bool = True) -> float:
    """``value`` as a finite ``float`` (at least ``low``, or above it if not ``allow_low``),
    else ``ValueError`` naming ``name``. Any real number is accepted (``int``, ``float``, NumPy
    scalars); ``bool`` is not."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name}: expected a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number) or number < low or (number == low and not allow_low):
        bound = f" {'>=' if allow_low else '>'} {low:g}" if math.isfinite(low) else ""
        raise ValueError(f"{name}: expected a finite number{bound}, got {value}")
    return number


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name}: expected true or false, got {value!r}")
    return value


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name}: expected one of {choices}, got {value!r}")
    return value


@dataclass(frozen=True)
class EntropyOptions:
    r"""How an entropy-ascent step :math:`\lambda T \nabla S(\mathbf{X})` is taken.

    Args:
        entropy_weight (float): :math:`\lambda \ge 0` (``> 0`` when learned).
        temperature (float): :math:`T > 0`.
        learn_entropy_weight (bool): learn :math:`\lambda` through its logarithm.
        learn_temperature (bool): learn :math:`T` through its logarithm.
        detach (bool): take the gradient on a detached copy of :math:`\mathbf{X}` (the paper).
        gradient_at (str): ``"input"`` (eq. 5) or ``"output"`` (the authors' code).
        schedule (str): ``"constant"`` or ``"adaptive"`` (:func:`~eamp.nn.adaptive_weight`).
        schedule_gain (float): :math:`\gamma \ge 0` of the adaptive schedule.
        normalize (bool): the paper's :math:`C_i = 1/\sqrt{|\mathcal{N}_i| d}`.

    Every field's ``metadata["help"]`` is the one-line text the command line shows.
    """

    entropy_weight: float = field(default=1.0, metadata={"help": "lambda >= 0"})
    temperature: float = field(default=1.0, metadata={"help": "T > 0"})
    learn_entropy_weight: bool = field(default=False, metadata={"help": "learn lambda"})
    learn_temperature: bool = field(default=False, metadata={"help": "learn T"})
    detach: bool = field(default=True, metadata={
        "help": "take grad S on a detached copy (false: back-propagate through it)"})
    gradient_at: str = field(default="input", metadata={
        "help": "'input' (eq. 5) or 'output' (the authors' code)"})
    schedule: str = field(default="constant", metadata={"help": "'constant' or 'adaptive'"})
    schedule_gain: float = field(default=1.0, metadata={
        "help": "gamma >= 0 of the adaptive schedule"})
    normalize: bool = field(default=True, metadata={
        "help": "the paper's C_i = 1/sqrt(|N_i| d) in the energies"})

    def __post_init__(self) -> None:
        learn = _flag("learn_entropy_weight", self.learn_entropy_weight)
        checked = {
            "entropy_weight": real_number("entropy_weight", self.entropy_weight, low=0.0,
                                          allow_low=not learn),
            "temperature": real_number("temperature", self.temperature, low=0.0,
                                       allow_low=False),
            "learn_temperature": _flag("learn_temperature", self.learn_temperature),
            "detach": _flag("detach", self.detach),
            "gradient_at": _choice("gradient_at", self.gradient_at, GRADIENT_AT),
            "schedule": _choice("schedule", self.schedule, SCHEDULES),
            "schedule_gain": real_number("schedule_gain", self.schedule_gain, low=0.0),
            "normalize": _flag("normalize", self.normalize),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def pick(cls, options: dict[str, Any]) -> EntropyOptions:
        """The entropy options among a model's keyword ``options`` (the rest are ignored)."""
        return cls(**{k: v for k, v in options.items() if k in cls.names()})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
