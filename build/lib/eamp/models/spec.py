"""What a registered model is (:class:`ModelSpec`): its class, training defaults, search
space, flags and the label and colour of the figures; and how its keyword options are
checked and parsed from text against its constructor's signature."""

from __future__ import annotations

import importlib
import inspect
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from eamp.checks import real_number
from eamp.models.presets import Preset, frozen_mapping
from eamp.nn.options import EntropyOptions

if TYPE_CHECKING:
    from eamp.models.base import DeepGNN

__all__ = ["TrainDefaults", "Param", "ModelSpec", "TRAINING_SPACE", "parse_option"]

# the arguments every model takes, in PyG's order (not model options)
COMMON_ARGS = ("in_channels", "hidden_channels", "num_layers", "out_channels", "dropout")


@dataclass(frozen=True)
class TrainDefaults:
    """Training settings ``eamp train`` uses for a model unless told otherwise."""

    lr: float
    weight_decay: float
    dropout: float
    epochs: int
    patience: int


@dataclass(frozen=True)
class Param:
    """One searched hyper-parameter: a float range (``log`` for a log scale), an int range,
    or categorical ``choices``. ``training`` marks a :class:`~eamp.training.TrainConfig` field
    (``lr``, ...) rather than a model option."""

    name: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple | None = None
    integer: bool = False
    training: bool = False


# What every model searches: Adam's learning rate and weight decay, and the dropout rate.
TRAINING_SPACE = (
    Param("lr", 1e-4, 5e-2, log=True, training=True),
    Param("weight_decay", 1e-6, 1e-2, log=True, training=True),
    Param("dropout", 0.0, 0.8, training=True),
)


@dataclass(frozen=True)
class ModelSpec:
    """A registered model.

    Args:
        name (str): the registry name (lower case).
        cls (type or str): a :class:`~eamp.models.DeepGNN` subclass, built as
            ``cls(in_channels, hidden_channels, num_layers, out_channels, dropout=...,
            **options)``,
            or its path ``"module:Class"``, imported when the model is first built or
            inspected (the registry itself does not import PyTorch).
        defaults (TrainDefaults): documented training settings.
        summary (str): one line for ``--help``.
        label (str): its name in figures and reports. (default: ``name``)
        color (str, optional): its colour in figures.
        search_space (tuple of Param): what ``eamp tune`` searches.
        reproduce (bool): part of ``eamp reproduce`` (Figure 2, Table 1, Figure 3).
        in_paper (bool): one of the models the paper itself compares.
        entropic_of (str, optional): the model this one adds the entropy step to; reports
            compare the two.
        paper_options (mapping): the paper's model options per dataset (e.g. lambda and T),
            used by the reproduction.
        grid_options (mapping): model options for the grid of Figure 2.
        flags (mapping): command-line flags of its own, ``{"--flag": (option, help)}``;
            every option can also be given as ``--option NAME=VALUE``.
        presets (tuple of Preset): published settings, by name (``--preset``).
    """

    name: str
    cls: type[DeepGNN] | str
    defaults: TrainDefaults
    summary: str
    label: str = ""
    color: str | None = None
    search_space: tuple[Param, ...] = TRAINING_SPACE
    reproduce: bool = False
    in_paper: bool = False
    entropic_of: str | None = None
    paper_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    grid_options: Mapping[str, Any] = field(default_factory=dict)
    flags: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    presets: tuple[Preset, ...] = ()

    def __post_init__(self) -> None:
        if not self.name or self.name != self.name.lower():
            raise ValueError(f"name: expected a non-empty lower-case name, got {self.name!r}")
        if not (isinstance(self.cls, type)
                or isinstance(self.cls, str) and self.cls.count(":") == 1):
            raise ValueError(f"cls: expected a DeepGNN subclass or 'module:Class', got "
                             f"{self.cls!r}")
        object.__setattr__(self, "label", self.label or self.name)
        object.__setattr__(self, "paper_options", frozen_mapping(self.paper_options))
        object.__setattr__(self, "grid_options", types.MappingProxyType(dict(self.grid_options)))
        object.__setattr__(self, "flags", types.MappingProxyType(dict(self.flags)))
        if isinstance(self.cls, type):
            self.check()

    def check(self) -> None:
        """Imports the class (if named by path) and checks that it is a DeepGNN taking every
        option the search space and the flags name. Raises ``ValueError``."""
        from eamp.models.base import DeepGNN

        cls = self.model_class
        if not (isinstance(cls, type) and issubclass(cls, DeepGNN)):
            raise ValueError(f"cls: expected a DeepGNN subclass, got {cls!r}")
        first = [name for name in inspect.signature(cls.__init__).parameters
                 if name != "self"][:len(COMMON_ARGS)]
        if first != list(COMMON_ARGS):
            raise ValueError(f"cls: {cls.__name__} must take PyG's arguments first, "
                             f"{', '.join(COMMON_ARGS)}; it takes {', '.join(first)}")
        unknown = ({p.name for p in self.search_space if not p.training}
                   | {option for option, _ in self.flags.values()}) - set(self.options())
        if unknown:
            raise ValueError(f"search_space, flags: {self.name} does not take "
                             f"{', '.join(sorted(unknown))}")
        for preset in self.presets:
            for dataset in (None, *preset.datasets):
                options = preset.for_dataset(dataset or "")["model_options"]
                try:
                    self.check_options(options)
                except ValueError as error:
                    raise ValueError(f"preset {preset.name}: {error}") from None

    @cached_property
    def model_class(self) -> type[DeepGNN]:
        """The model's class (imported on first use when ``cls`` is a path)."""
        if isinstance(self.cls, type):
            return self.cls
        module, _, name = self.cls.partition(":")
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as error:
            raise ValueError(f"cls: cannot import {self.cls!r} ({error})") from None

    @cached_property
    def _signature(self) -> dict[str, inspect.Parameter]:
        params = inspect.signature(self.model_class.__init__, eval_str=True).parameters
        return {name: p for name, p in params.items()
                if name != "self" and name not in COMMON_ARGS}

    def options(self) -> dict[str, Any]:
        """The model's own keyword options and their defaults."""
        return {name: p.default for name, p in self._signature.items()}

    def check_options(self, options: Mapping[str, Any], *, ranges: bool = True
                      ) -> dict[str, Any]:
        """``options`` checked without building the model: known names, values of the type
        the constructor declares (a float option takes any real number, returned as
        ``float``), and with ``ranges`` the entropy options in range
        (:class:`~eamp.nn.EntropyOptions`; the constructor checks them too, so
        :func:`build_model` leaves that to it). Raises ``ValueError`` naming the first bad
        option."""
        unknown = sorted(set(options) - set(self._signature))
        if unknown:
            raise ValueError(
                f"options: {self.name} does not take {', '.join(unknown)}; its options are "
                f"{', '.join(self._signature) or 'none'}"
            )
        checked = {name: _typed(name, value, self._signature[name].annotation)
                   for name, value in options.items()}
        if ranges and set(checked) & set(EntropyOptions.names()):
            EntropyOptions.pick({**self.options(), **checked})
        return checked


_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def parse_option(spec: ModelSpec, name: str, text: str) -> Any:
    """The command-line text of option ``name`` as the type ``spec``'s model declares: bool
    from true/false/1/0/yes/no/on/off, numbers, strings, and ``null``/``none`` where ``None``
    is allowed. Raises ``ValueError`` naming the option and what it expected."""
    if name not in spec._signature:
        spec.check_options({name: text})  # the unknown-option error
    annotation = spec._signature[name].annotation
    allowed = _allowed(annotation)
    word = text.strip().lower()
    if type(None) in allowed and word in ("null", "none"):
        return None
    if bool in allowed:
        if word in _TRUE + _FALSE:
            return word in _TRUE
        raise ValueError(f"{name}: expected true or false (or 1/0, yes/no), got {text!r}")
    for kind in (int, float):
        if kind in allowed:
            try:
                return _typed(name, kind(text), annotation)
            except ValueError:
                if kind is int and float in allowed:
                    continue
                raise ValueError(f"{name}: expected {'an integer' if kind is int else 'a number'}"
                                 f", got {text!r}") from None
    return _typed(name, text, annotation)


def _allowed(annotation: Any) -> tuple[Any, ...]:
    """The types an annotation admits (``X | None`` -> ``(X, NoneType)``)."""
    if isinstance(annotation, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def _typed(name: str, value: Any, annotation: Any) -> Any:
    """``value`` as the type ``annotation`` names (bool, int, float, str, or X | None)."""
    allowed = _allowed(annotation)
    if value is None and type(None) in allowed:
        return None
    if bool in allowed:
        if isinstance(value, bool):
            return value
    elif int in allowed and isinstance(value, int) and not isinstance(value, bool):
        return value
    elif float in allowed:
        return real_number(name, value)
    elif str in allowed and isinstance(value, str):
        return value
    elif not ({bool, int, float, str} & set(allowed)):
        return value  # an annotation this check does not know: the model checks it
    expected = " or ".join(t.__name__ if t is not type(None) else "null" for t in allowed)
    raise ValueError(f"{name}: expected {expected}, got {value!r}")
