"""The one validator of settings: every value that enters eamp (a command-line flag, a key of
a config file, a Python constructor's argument) is checked by these functions where it
enters, into a frozen object; code below that boundary trusts it. Each raises
``ValueError`` with one line naming the setting and what was expected."""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

__all__ = ["FLOAT32_MAX", "choice", "flag", "integer", "real_number"]

# the largest float32: a setting that becomes a float32 tensor (a learning rate, a weight
# decay, lambda) must stay below it, or the first product with it overflows
FLOAT32_MAX = 3.4028234663852886e38


def real_number(name: str, value: Any, *, low: float = -math.inf, allow_low: bool = True,
                high: float = math.inf) -> float:
    """``value`` as a finite ``float`` (at least ``low``, or above it if not ``allow_low``;
    at most ``high``), else ``ValueError`` naming ``name``. Any real number is accepted
    (``int``, ``float``, NumPy scalars); ``bool`` is not."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name}: expected a number, got {type(value).__name__} {value!r}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond any float
        number = math.inf
    if not math.isfinite(number) or number < low or (number == low and not allow_low) \
            or number > high:
        bounds = []
        if math.isfinite(low):
            bounds.append(f"{'>=' if allow_low else '>'} {low:g}")
        if math.isfinite(high):
            bounds.append(f"<= {high:g}")
        bound = f" {' and '.join(bounds)}" if bounds else ""
        raise ValueError(f"{name}: expected a finite number{bound}, got {value}")
    return number


def integer(name: str, value: Any, *, low: int | None = None) -> int:
    """``value`` as an ``int`` of at least ``low`` (``bool`` is not one), else
    ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, Integral) \
            or (low is not None and value < low):
        bound = f" >= {low}" if low is not None else ""
        raise ValueError(f"{name}: expected an integer{bound}, got {value!r}")
    return int(value)


def flag(name: str, value: Any) -> bool:
    """``value`` if it is a ``bool``, else ``ValueError``."""
    if not isinstance(value, bool):
        raise ValueError(f"{name}: expected true or false, got {value!r}")
    return value


def choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``, else ``ValueError`` listing them."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
    return value
