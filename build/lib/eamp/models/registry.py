"""The registry: every model eamp ships, by name, with its facts
(:class:`~eamp.models.spec.ModelSpec`) and its published presets
(:mod:`eamp.models.presets`). The command line, tuning, the reproduction, the figures and
the reports read them from here (the paper's published numbers stay in
:data:`eamp.experiments.depth.PAPER_TABLE1`).

Adding a model is one file under ``eamp/models/`` and one :func:`register_model` call (or an
entry below for a model that ships with eamp). The registry does not import PyTorch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eamp.models.presets import (
    ENTROPIC_PAPER,
    G2_RUSCH2023,
    GCNII_CHEN2020,
    GRAND_CHAMBERLAIN2021,
    PAPER_PROTOCOL,
    Preset,
    nazari2023,
    platonov2023,
)
from eamp.models.spec import TRAINING_SPACE, ModelSpec, Param, TrainDefaults, parse_option

if TYPE_CHECKING:
    from eamp.models.base import DeepGNN

__all__ = ["MODELS", "PAPER_PROTOCOL", "ModelSpec", "Param", "Preset", "TrainDefaults",
           "build_model", "entropic_version", "get_model_spec", "get_preset", "model_names",
           "parse_option", "preset_names", "register_model", "reproduction_models"]


def _space(*params: Param) -> tuple[Param, ...]:
    return TRAINING_SPACE + params


# The training defaults were chosen on Cora's public split at depth 16, width 64, by
# validation accuracy over a handful of settings.
MODELS: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    """Adds ``spec`` to the registry: ``eamp train``, ``eamp tune``, the figures and (with
    ``reproduce=True``) ``eamp reproduce`` see it from then on. A taken model or preset name
    is an error."""
    if spec.name in MODELS:
        raise ValueError(f"name: a model named {spec.name!r} is already registered")
    taken = sorted({p.name for p in spec.presets} & set(preset_names()))
    if taken or len({p.name for p in spec.presets}) < len(spec.presets):
        raise ValueError(f"presets: the name {(taken or [spec.presets[0].name])[0]!r} is "
                         "taken")
    MODELS[spec.name] = spec
    return spec


def preset_names() -> list[str]:
    return [p.name for spec in MODELS.values() for p in spec.presets]


def get_preset(name: str) -> tuple[ModelSpec, Preset]:
    """The model and the preset named ``name`` (any case); an unknown name is a
    ``ValueError`` listing the presets."""
    for spec in MODELS.values():
        for preset in spec.presets:
            if isinstance(name, str) and preset.name == name.lower():
                return spec, preset
    raise ValueError(f"preset: unknown name {name!r}; choose one of "
                     f"{', '.join(preset_names())}")


# what the entropic models search besides their base's space: lambda, T, where the gradient
# is taken (detached or not) and the adaptive schedule
_ENTROPY_SPACE = (
    Param("entropy_weight", 1e-2, 10.0, log=True),
    Param("temperature", 1e-2, 100.0, log=True),
    Param("detach", choices=(True, False)),
    Param("schedule", choices=("constant", "adaptive")),
    Param("schedule_gain", 0.0, 5.0),
)

for _spec in (
    ModelSpec(
        "gcn", "eamp.models.gcn:GCN", TrainDefaults(0.01, 5e-4, 0.5, 300, 50),
        "plain deep GCN (the paper's Basic GCN)",
        label="GCN", color="#d62728", reproduce=True, in_paper=True,
        presets=(nazari2023("gcn"),),
    ),
    ModelSpec(
        "entropic_gcn", "eamp.models.gcn:EntropicGCN",
        # chosen on validation: eamp tune, Cora public split, depth 16, width 256, 16 trials
        # (200 epochs, patience 50); the two best trials had lr 3e-4 and 6e-4, no weight
        # decay, dropout 0.05 and 0.08, adaptive lambda (val 0.772 and 0.750, test 0.735 and
        # 0.701), against val 0.36 at GCN's defaults (lr 0.01, weight decay 5e-4, dropout
        # 0.5). The standard protocol of eamp reproduce trains it with GCN's defaults instead,
        # so that the pair differs only in the entropy step.
        TrainDefaults(5e-4, 0.0, 0.05, 300, 100),
        "GCN with entropy-aware message passing in every hidden layer",
        label="entropic GCN", color="#1f77b4", reproduce=True, in_paper=True,
        entropic_of="gcn",
        search_space=_space(*_ENTROPY_SPACE),
        paper_options=ENTROPIC_PAPER,
        grid_options={"entropy_weight": 1.0, "temperature": 10.0},
        presets=(nazari2023("entropic_gcn", ENTROPIC_PAPER),),
    ),
    ModelSpec(
        "g2", "eamp.models.g2:G2", TrainDefaults(0.005, 5e-3, 0.5, 500, 100),
        "Gradient Gating around a shared GCN, GraphSAGE or GAT layer",
        label="G2", color="#9467bd", reproduce=True, in_paper=True,
        search_space=_space(Param("p", 1.0, 5.0), Param("input_dropout", 0.0, 0.8)),
        flags={"--p": ("p", "exponent of the gate"),
               "--g2-conv": ("conv", "the gated layer: gcn, sage or gat")},
        presets=(nazari2023("g2"), G2_RUSCH2023),
    ),
    ModelSpec(
        "pairnorm_gcn", "eamp.models.pairnorm:PairNormGCN",
        TrainDefaults(0.005, 5e-4, 0.2, 300, 50),
        "GCN with PairNorm after every hidden layer",
        label="PairNorm GCN", color="#2ca02c", reproduce=True, in_paper=True,
        # the choices of eamp.models.pairnorm.PAIRNORM_MODES (a test keeps them equal)
        search_space=_space(Param("mode", choices=("PN", "PN-SI", "PN-SCS")),
                            Param("scale", 0.1, 100.0, log=True)),
        flags={"--pairnorm-mode": ("mode", "PN, PN-SI or PN-SCS"),
               "--pairnorm-scale": ("scale", "PairNorm's s")},
        presets=(nazari2023("pairnorm_gcn"),),
    ),
    ModelSpec(
        "gcnii", "eamp.models.gcnii:GCNII", TrainDefaults(0.01, 5e-4, 0.6, 500, 100),
        "GCNII (initial residual and identity mapping)",
        label="GCNII", color="#ff7f0e", reproduce=True,
        search_space=_space(Param("alpha", 0.05, 0.5), Param("theta", 0.1, 1.5)),
        flags={"--alpha": ("alpha", "initial-residual strength"),
               "--theta": ("theta", "identity-mapping strength")},
        presets=(GCNII_CHEN2020,),
    ),
    ModelSpec(
        "entropic_gcnii", "eamp.models.gcnii:EntropicGCNII",
        TrainDefaults(0.01, 5e-4, 0.6, 500, 100),
        "GCNII with an entropy-ascent step after every layer",
        label="entropic GCNII", color="#e377c2", entropic_of="gcnii",
        search_space=_space(Param("alpha", 0.05, 0.5), Param("theta", 0.1, 1.5),
                            *_ENTROPY_SPACE, Param("gradient_at", choices=("input", "output"))),
    ),
    ModelSpec(
        "entropic_g2", "eamp.models.g2:EntropicG2", TrainDefaults(0.005, 5e-3, 0.5, 500, 100),
        "G2 with an entropy-ascent step after every gated step",
        label="entropic G2", color="#bcbd22", entropic_of="g2",
        search_space=_space(Param("p", 1.0, 5.0), Param("input_dropout", 0.0, 0.8),
                            *_ENTROPY_SPACE),
    ),
    ModelSpec(
        "resgnn", "eamp.models.resgnn:ResidualGNN", TrainDefaults(3e-5, 0.0, 0.2, 1000, 1000),
        "residual GCN, GraphSAGE or GAT with LayerNorm and GELU (Platonov et al. 2023)",
        label="ResGNN", color="#7f7f7f",
        search_space=_space(Param("conv", choices=("gcn", "sage", "gat"))),
        flags={"--resgnn-conv": ("conv", "the aggregation: gcn, sage or gat"),
               "--resgnn-attention": ("attention", "gat's attention: platonov (the "
                                      "authors', each head scored from the whole vector) or "
                                      "gatconv (PyG's GATConv)")},
        presets=tuple(platonov2023(conv) for conv in ("gcn", "sage", "gat")),
    ),
    ModelSpec(
        "grand", "eamp.models.grand:GRAND", TrainDefaults(0.005, 5e-4, 0.2, 200, 50),
        "GRAND: attention diffusion integrated with torchdiffeq",
        label="GRAND", color="#8c564b",
        search_space=_space(Param("input_dropout", 0.0, 0.8), Param("time", 1.0, 30.0),
                            Param("variant", choices=("l", "nl"))),
        # Euler steps of 1 on the grid, so that layer k is time k
        grid_options={"method": "euler", "step_size": 1.0},
        presets=(GRAND_CHAMBERLAIN2021,),
    ),
    ModelSpec(
        "entropic_grand", "eamp.models.grand:EntropicGRAND",
        TrainDefaults(0.005, 5e-4, 0.2, 200, 50),
        "GRAND plus lambda * grad S (the paper's Appendix B)",
        label="entropic GRAND", color="#17becf", entropic_of="grand",
        search_space=_space(Param("input_dropout", 0.0, 0.8), Param("time", 1.0, 30.0),
                            Param("variant", choices=("l", "nl")),
                            Param("entropy_weight", 0.1, 100.0, log=True),
                            Param("temperature", 1e-2, 100.0, log=True),
                            Param("detach", choices=(True, False))),
        grid_options={"method": "euler", "step_size": 1.0},
    ),
):
    register_model(_spec)


def model_names() -> list[str]:
    return list(MODELS)


def reproduction_models() -> tuple[str, ...]:
    """The models of ``eamp reproduce``, in registry order."""
    return tuple(name for name, spec in MODELS.items() if spec.reproduce)


def entropic_version(backbone: str) -> str:
    """The registered model that adds the entropy step to ``backbone``."""
    for spec in MODELS.values():
        if spec.entropic_of == backbone:
            return spec.name
    raise ValueError(f"backbone: {backbone} has no entropic version in the registry")


def get_model_spec(name: str) -> ModelSpec:
    """The spec of ``name`` (any case); an unknown name is a ``ValueError`` listing the
    choices."""
    try:
        return MODELS[name.lower()]
    except (KeyError, AttributeError):
        raise ValueError(
            f"model: unknown name {name!r}; choose one of {', '.join(MODELS)}"
        ) from None


def build_model(
    name: str,
    in_channels: int,
    hidden_channels: int,
    num_layers: int,
    out_channels: int,
    dropout: float | None = None,
    **options: Any,
) -> DeepGNN:
    """Builds the registered model ``name`` with PyG's arguments in PyG's order;
    ``dropout`` defaults to the model's default and ``options`` are the model's own keyword
    arguments (their names and types checked against its signature, their ranges by the
    constructor)."""
    spec = get_model_spec(name)
    options = spec.check_options(options, ranges=False)  # the constructor checks ranges
    if dropout is None:
        dropout = spec.defaults.dropout
    return spec.model_class(in_channels, hidden_channels, num_layers, out_channels,
                            dropout=dropout, **options)
