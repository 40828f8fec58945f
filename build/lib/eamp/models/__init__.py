"""The paper's models and a registry of them by name. The registry is read without importing
PyTorch; a model's class is imported when it is first built or inspected."""

from typing import TYPE_CHECKING

from eamp._lazy import lazy_attributes

_NAMES = {
    "DeepGNN": "eamp.models.base",
    "G2": "eamp.models.g2",
    "GCN": "eamp.models.gcn",
    "EntropicGCN": "eamp.models.gcn",
    "GCNII": "eamp.models.gcnii",
    "EntropicGCNII": "eamp.models.gcnii",
    "EntropicG2": "eamp.models.g2",
    "GRAND": "eamp.models.grand",
    "EntropicGRAND": "eamp.models.grand",
    "PairNormGCN": "eamp.models.pairnorm",
    "ResidualGNN": "eamp.models.resgnn",
    **dict.fromkeys(("ModelSpec", "Param", "TrainDefaults"), "eamp.models.spec"),
    "Preset": "eamp.models.presets",
    **dict.fromkeys(("MODELS", "build_model", "get_model_spec", "get_preset", "model_names",
                     "preset_names", "register_model", "reproduction_models"),
                    "eamp.models.registry"),
}
__all__ = [
    "DeepGNN",
    "EntropicG2",
    "EntropicGCN",
    "EntropicGCNII",
    "EntropicGRAND",
    "G2",
    "GCN",
    "GCNII",
    "GRAND",
    "MODELS",
    "ModelSpec",
    "PairNormGCN",
    "Param",
    "Preset",
    "ResidualGNN",
    "TrainDefaults",
    "build_model",
    "get_model_spec",
    "get_preset",
    "model_names",
    "preset_names",
    "register_model",
    "reproduction_models",
]  # the keys of _NAMES
__getattr__ = lazy_attributes(__name__, _NAMES)

if TYPE_CHECKING:
    from eamp.models.base import DeepGNN
    from eamp.models.g2 import G2, EntropicG2
    from eamp.models.gcn import GCN, EntropicGCN
    from eamp.models.gcnii import GCNII, EntropicGCNII
    from eamp.models.grand import GRAND, EntropicGRAND
    from eamp.models.pairnorm import PairNormGCN
    from eamp.models.presets import Preset
    from eamp.models.registry import (
        MODELS,
        build_model,
        get_model_spec,
        get_preset,
        model_names,
        preset_names,
        register_model,
        reproduction_models,
    )
    from eamp.models.resgnn import ResidualGNN
    from eamp.models.spec import ModelSpec, Param, TrainDefaults
