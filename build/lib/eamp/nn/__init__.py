"""Layers: the entropy-aware wrapper, its options and its lambda schedules; sparse input
features. Imported on first use."""

from typing import TYPE_CHECKING

from eamp._lazy import lazy_attributes

_NAMES = {
    "EntropicConv": "eamp.nn.entropic_conv",
    "EntropyOptions": "eamp.nn.options",
    "adaptive_weight": "eamp.nn.schedules",
    "input_step": "eamp.nn.sparse",
    "sparse_features": "eamp.nn.sparse",
}
__all__ = [
    "EntropicConv",
    "EntropyOptions",
    "adaptive_weight",
    "input_step",
    "sparse_features",
]  # the keys of _NAMES
__getattr__ = lazy_attributes(__name__, _NAMES)

if TYPE_CHECKING:
    from eamp.nn.entropic_conv import EntropicConv
    from eamp.nn.options import EntropyOptions
    from eamp.nn.schedules import adaptive_weight
    from eamp.nn.sparse import input_step, sparse_features
