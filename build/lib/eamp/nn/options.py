r"""The settings of the entropy-ascent step, in one frozen object.

:class:`EntropyOptions` is what :class:`~eamp.nn.EntropicConv`, the entropic models, GRAND's
vector field, the command line and the tuner pass around. It is checked once, when it is
built; code that receives one trusts it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from eamp.checks import FLOAT32_MAX, choice, flag, real_number
from eamp.nn.schedules import SCHEDULES

__all__ = ["EntropyOptions", "ENTROPY_WEIGHT", "GRADIENT_AT", "TEMPERATURE"]

GRADIENT_AT = ("input", "output")

# The one default of lambda and T, for the layer, every entropic model and the command line:
# the paper's choice on Cora and on the grid of its Figure 2 (Nazari et al. 2023, Section 5).
ENTROPY_WEIGHT = 1.0
TEMPERATURE = 10.0


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

    entropy_weight: float = field(default=ENTROPY_WEIGHT, metadata={"help": "lambda >= 0"})
    temperature: float = field(default=TEMPERATURE, metadata={"help": "T > 0"})
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
        learn = flag("learn_entropy_weight", self.learn_entropy_weight)
        checked = {
            "entropy_weight": real_number("entropy_weight", self.entropy_weight, low=0.0,
                                          allow_low=not learn, high=FLOAT32_MAX),
            "temperature": real_number("temperature", self.temperature, low=0.0,
                                       allow_low=False, high=FLOAT32_MAX),
            "learn_temperature": flag("learn_temperature", self.learn_temperature),
            "detach": flag("detach", self.detach),
            "gradient_at": choice("gradient_at", self.gradient_at, GRADIENT_AT),
            "schedule": choice("schedule", self.schedule, SCHEDULES),
            "schedule_gain": real_number("schedule_gain", self.schedule_gain, low=0.0),
            "normalize": flag("normalize", self.normalize),
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
