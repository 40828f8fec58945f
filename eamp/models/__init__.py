"""The paper's models and a registry of them by name."""

from eamp.models.base import DeepGNN
from eamp.models.g2 import G2
from eamp.models.gcn import GCN, EntropicGCN
from eamp.models.gcnii import GCNII
from eamp.models.grand import GRAND, EntropicGRAND
from eamp.models.pairnorm import PairNormGCN
from eamp.models.registry import (
    MODELS,
    ModelSpec,
    Param,
    TrainDefaults,
    build_model,
    get_model_spec,
    model_names,
    register_model,
    reproduction_models,
)

__all__ = [
    "DeepGNN", "GCN", "EntropicGCN", "PairNormGCN", "G2", "GCNII", "GRAND", "EntropicGRAND",
    "MODELS", "ModelSpec", "Param", "TrainDefaults", "build_model", "get_model_spec",
    "model_names", "register_model", "reproduction_models",
]
