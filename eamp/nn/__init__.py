"""Layers: the entropy-aware wrapper and its lambda schedules."""

from eamp.nn.entropic_conv import EntropicConv
from eamp.nn.schedules import adaptive_weight

__all__ = ["EntropicConv", "adaptive_weight"]
