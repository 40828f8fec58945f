"""Layers: the entropy-aware wrapper, its options and its lambda schedules; sparse input
features."""

from eamp.nn.entropic_conv import EntropicConv
from eamp.nn.options import EntropyOptions
from eamp.nn.schedules import adaptive_weight
from eamp.nn.sparse import input_step, sparse_features

__all__ = ["EntropicConv", "EntropyOptions", "adaptive_weight", "input_step", "sparse_features"]
