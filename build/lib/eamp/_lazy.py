"""Lazy package attributes (PEP 562): ``import eamp`` costs nothing until a name that needs
PyTorch is used, so the command line can parse arguments and answer ``--help`` or a bad name
before importing it."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``names[attr]`` (a module path) on first use of
    ``attr`` and returns its attribute of that name."""
    def __getattr__(attr: str) -> Any:
        if attr not in names:
            raise AttributeError(f"module {package!r} has no attribute {attr!r}")
        return getattr(importlib.import_module(names[attr]), attr)
    return __getattr__
