"""Published settings of the registered models, as data: each :class:`Preset` names its
source (paper and table, or script and its defaults) where its numbers are written.
``eamp train --preset NAME`` trains with one; :mod:`eamp.models.registry` attaches them to
their models."""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Preset", "PRESET_KEYS", "PAPER_PROTOCOL", "ENTROPIC_PAPER", "nazari2023",
           "GCNII_CHEN2020", "G2_RUSCH2023", "GRAND_CHAMBERLAIN2021", "platonov2023",
           "frozen_mapping"]


# What a preset may set: TrainConfig fields (the model's own options go in model_options).
PRESET_KEYS = ("depth", "hidden", "epochs", "patience", "lr", "weight_decay", "dropout",
               "normalize_features", "select", "split", "graph", "optimizer", "model_options")


@dataclass(frozen=True)
class Preset:
    """Settings a model was published (or documented) with: ``eamp train --preset NAME``.

    Args:
        name (str): a name unique over all models, ``<model>-<source>`` (e.g.
            ``gcnii-chen2020``).
        summary (str): one line for ``--help``.
        source (str): where every number comes from (paper and table, or script and its
            defaults).
        settings (mapping): :class:`~eamp.training.TrainConfig` fields for every dataset
            (:data:`PRESET_KEYS`; the model's options under ``model_options``).
        datasets (mapping): per dataset, settings that replace those of ``settings``
            (``model_options`` are merged). A dataset not listed takes ``settings``.
    """

    name: str
    summary: str
    source: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    datasets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for where, settings in (("settings", self.settings), *self.datasets.items()):
            unknown = sorted(set(settings) - set(PRESET_KEYS))
            if unknown:
                raise ValueError(f"preset {self.name}: {where}: unknown settings "
                                 f"{', '.join(unknown)}; a preset sets {', '.join(PRESET_KEYS)}")
        object.__setattr__(self, "settings", types.MappingProxyType(dict(self.settings)))
        object.__setattr__(self, "datasets", frozen_mapping(self.datasets))

    def for_dataset(self, dataset: str) -> dict[str, Any]:
        """The settings for ``dataset``, as :class:`~eamp.training.TrainConfig` keywords."""
        own = self.datasets.get(dataset.lower(), {})
        options = {**self.settings.get("model_options", {}), **own.get("model_options", {})}
        return {**self.settings, **own, "model_options": options}


def frozen_mapping(mapping: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Mapping[str, Any]]:
    return types.MappingProxyType({k: types.MappingProxyType(dict(v))
                                   for k, v in mapping.items()})


# The paper's protocol (Nazari et al. 2023, Section 5): Adam with lr 1e-3, no weight decay,
# no dropout, 100 epochs, the best validation accuracy. Its lambda and T per dataset are each
# model's paper_options.
PAPER_PROTOCOL = types.MappingProxyType(
    dict(epochs=100, patience=100, lr=1e-3, weight_decay=0.0, dropout=0.0))


def nazari2023(model: str, paper_options: Mapping[str, Mapping[str, Any]] | None = None
                ) -> Preset:
    """The entropy paper's protocol for one of its models."""
    return Preset(
        f"{model}-nazari2023", "the entropy paper's protocol: lr 1e-3, no weight decay, no "
        "dropout, 100 epochs" + (", its lambda and T per dataset" if paper_options else ""),
        "Nazari et al. 2023, Section 5 (training setup) and Table 1",
        settings=dict(PAPER_PROTOCOL),
        datasets={d: {"model_options": o} for d, o in (paper_options or {}).items()},
    )


# the paper's choice, tuned on each dataset (Section 5): lambda = 1, T = 10 on Cora and on
# the grid (Figure 2), lambda = 10, T = 1 on CiteSeer
ENTROPIC_PAPER = {"cora": {"entropy_weight": 1.0, "temperature": 10.0},
                   "citeseer": {"entropy_weight": 10.0, "temperature": 1.0}}

# GCNII's own semi-supervised settings: Chen et al. 2020 (ICML), Section 6.1, and the
# defaults and README commands of github.com/chennnM/GCNII (train.py): 64 layers of width 64
# on Cora, 32 of width 256 on CiteSeer with dropout 0.7 and lambda 0.6; Adam lr 0.01 with
# weight decay 0.01 on the convolutions and 5e-4 on the linear layers; up to 1500 epochs,
# patience 100 on the validation loss; row-normalised features. (theta is the paper's lambda)
GCNII_CHEN2020 = Preset(
    "gcnii-chen2020", "GCNII's paper settings (Cora 64 layers, CiteSeer 32), epoch by "
    "validation loss",
    "Chen et al. 2020, Section 6.1; github.com/chennnM/GCNII train.py defaults and README",
    settings=dict(hidden=64, lr=0.01, weight_decay=5e-4, dropout=0.6, epochs=1500,
                  patience=100, normalize_features=True, select="val_loss",
                  model_options={"alpha": 0.1, "theta": 0.5, "conv_weight_decay": 0.01}),
    datasets={"cora": {"depth": 64},
              "citeseer": {"depth": 32, "hidden": 256, "dropout": 0.7,
                           "model_options": {"theta": 0.6}}},
)

# G2's heterophily script: github.com/tk-rusch/gradientgating heterophilic_graphs/run_GNN.py
# defaults (tuned for Wisconsin; the paper reports G2-GraphSAGE): 6 layers of width 256, one
# GraphSAGE layer that also gates, p 2.5, input dropout 0.5, dropout 0.1, Adam lr 0.003,
# weight decay 0.01. Its loop runs 200 epochs (its "patience" ends the run at epoch 200) and
# keeps the test accuracy at the best validation accuracy. Its data_handling.py trains on
# PyG's WebKB graph as loaded: directed, with its self-loops (graph="as-loaded").
G2_RUSCH2023 = Preset(
    "g2-rusch2023", "G2-GraphSAGE as in its authors' heterophily script (6 layers, p 2.5)",
    "Rusch et al. 2023 (ICLR); github.com/tk-rusch/gradientgating "
    "heterophilic_graphs/run_GNN.py defaults",
    settings=dict(depth=6, hidden=256, lr=0.003, weight_decay=0.01, dropout=0.1, epochs=200,
                  patience=200, select="val_metric", graph="as-loaded",
                  model_options={"conv": "sage", "gate_conv": False, "p": 2.5,
                                 "input_dropout": 0.5}),
)

# GRAND-l on Cora as its authors tuned it: best_params.py of
# github.com/twitter-research/graph-neural-pde ('Cora'; values rounded to 3 digits): width 80,
# block 'attention' (the attention fixed from the initial state) with function 'laplacian',
# 8 heads over attention width 128, scaled dot product, square_plus, attention_norm_idx 1
# (weights summing to one over each source's edges), add_source (sigmoid(alpha) (A - I) X +
# beta X(0)), time 18.29, dopri5 with tol_scale 821 (atol 821e-7, rtol 821e-9), Adamax, lr
# 0.0229, weight decay 0.00508, dropout 0.0469, input dropout 0.5, epochs 100 (run_GNN.py's
# loop trains 99); function_transformer_attention.py initialises the key and query weights
# at 1e-5; GNN.py applies a ReLU before dropout and the decoder; run_GNN.py draws a new
# random split of the largest component for every run.
GRAND_CHAMBERLAIN2021 = Preset(
    "grand-chamberlain2021", "GRAND-l on Cora as tuned by its authors (time 18.3, dopri5, "
    "8-head squareplus attention, source term, Adamax, random splits of the largest "
    "component)",
    "Chamberlain et al. 2021 (ICML); github.com/twitter-research/graph-neural-pde "
    "src/best_params.py ('Cora'), src/run_GNN.py, src/GNN.py, src/base_classes.py, "
    "src/function_laplacian_diffusion.py, src/function_transformer_attention.py",
    settings=dict(depth=18, hidden=80, lr=0.0229, weight_decay=0.00508, dropout=0.0469,
                  epochs=99, patience=99, split="lcc-random", select="val_metric",
                  optimizer="adamax",
                  model_options={"variant": "l", "time": 18.29, "method": "dopri5",
                                 "atol": 821e-7, "rtol": 821e-9, "key_channels": 128,
                                 "input_dropout": 0.5, "heads": 8,
                                 "normalization": "squareplus", "axis": "source",
                                 "source": True, "constant_init": True,
                                 "output_relu": True}),
)


# the residual models' depth, and (conv, dataset) -> (depth, how it was chosen) where eamp
# chose another as the paper chooses, by validation
_PLATONOV_DEPTH = 3
_PLATONOV_DEPTHS = {
    ("sage", "minesweeper"): (5, "chosen by validation ROC AUC between 3 and 5 on splits 0-1 "
                              "(91.05 and 92.15 at 3 layers, 92.67 and 93.90 at 5; eamp's "
                              "runs, not the paper's)"),
    ("gat", "minesweeper"): (5, "chosen by validation ROC AUC between 3 and 5 on splits 0-1 "
                             "(90.45 and 90.52 at 3 layers, 91.53 and 92.68 at 5; eamp's "
                             "runs, not the paper's)"),
}


def platonov2023(conv: str) -> Preset:
    """Platonov et al.'s settings for their residual ``conv``: their train.py defaults."""
    return Preset(
        f"resgnn-{conv}-platonov2023", f"residual {conv.upper()} of the heterophily benchmark "
        "(width 512, lr 3e-5, 1000 steps, best validation step)",
        "Platonov et al. 2023 (ICLR), Section 4; github.com/yandex-research/heterophilous-graphs "
        "train.py defaults (hidden 512, 8 heads, dropout 0.2, AdamW lr 3e-5 without weight "
        "decay, 1000 steps; GAT with their attention). The paper picks 1-5 layers per cell "
        f"by validation and does not list the choice; the preset uses {_PLATONOV_DEPTH}"
        + "".join(f", and {depth} for {of.upper()} on {dataset}, {how}"
                  for (of, dataset), (depth, how) in _PLATONOV_DEPTHS.items()),
        settings=dict(depth=_PLATONOV_DEPTH, hidden=512, lr=3e-5, weight_decay=0.0,
                      dropout=0.2, epochs=1000, patience=1000, select="val_metric",
                      model_options={"conv": conv, "heads": 8,
                                     **({"attention": "platonov"} if conv == "gat" else {})}),
        datasets={dataset: {"depth": depth}
                  for (of, dataset), (depth, _) in _PLATONOV_DEPTHS.items() if of == conv},
    )
