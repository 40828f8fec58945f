"""Layers: the entropy-aware wrapper, its options and its lambda schedules."""

from eamp.nn.entropic_conv import EntropicConv
from eamp.nn.options import EntropyOptions
from eamp.nn.schedules import adaptive_weight

__all__ = ["EntropicConv", "EntropyOptions", "adaptive_weight"]
