"""The registry is the one home of a model's facts: a model registered here (and nowhere
else) shows up in `eamp train`, `eamp tune`, the reproduction and the figures."""

import functools
import json

import numpy as np
import pytest
import torch
from torch import Tensor
from torch_geometric.nn import GCNConv

from eamp.cli import main
from eamp.data import load_dataset
from eamp.experiments.depth import plan_runs
from eamp.experiments.oversmoothing import OversmoothingConfig
from eamp.experiments.report import color, label
from eamp.models import (
    GCN,
    MODELS,
    EntropicGCN,
    ModelSpec,
    Param,
    TrainDefaults,
    register_model,
    reproduction_models,
)
from eamp.nn import EntropicConv, EntropyOptions
from eamp.training import TrainConfig, train


class TanhGCN(GCN):
    """A GCN with tanh after its hidden layers and a learnable-free gain on them."""

    def __init__(self, in_channels: int, hidden_channels: int, num_layers: int,
                 out_channels: int, dropout: float = 0.0, gain: float = 1.0) -> None:
        super().__init__(in_channels, hidden_channels, num_layers, out_channels, dropout)
        self.gain = gain

    def activate(self, index: int, x: Tensor) -> Tensor:
        return torch.tanh(self.gain * x)


@pytest.fixture
def tanh_gcn():
    spec = register_model(ModelSpec(
        "tanh_gcn", TanhGCN, TrainDefaults(0.01, 5e-4, 0.0, 5, 5), "GCN with tanh",
        label="tanh GCN", color="#123456", reproduce=True,
        search_space=(Param("lr", 1e-3, 1e-2, log=True, training=True),
                      Param("gain", 0.5, 2.0)),
        paper_options={"cora": {"gain": 2.0}},
        flags={"--tanh-gain": ("gain", "slope of the tanh")},
    ))
    yield spec
    MODELS.pop(spec.name)


def test_a_registered_model_appears_everywhere(tanh_gcn, tmp_path, capsys):
    # eamp train --help lists it and its own flag
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = capsys.readouterr().out
    assert "tanh_gcn" in help_text and "--tanh-gain" in help_text
    # eamp train takes its flag
    assert main(["train", "--model", "tanh_gcn", "--dataset", "csbm", "--depth", "3",
                 "--tanh-gain", "1.5", "--out", str(tmp_path / "train")]) == 0
    result = json.loads((tmp_path / "train" / "result.json").read_text())
    assert result["config"]["model_options"] == {"gain": 1.5}
    assert result["config"]["epochs"] == 5  # its registered default
    # eamp tune searches its space
    assert main(["tune", "--model", "tanh_gcn", "--dataset", "csbm", "--depth", "2",
                 "--trials", "2", "--out", str(tmp_path / "tune")]) == 0
    best = json.loads((tmp_path / "tune" / "best.json").read_text())
    assert set(best["params"]) == {"lr", "gain"}
    # the reproduction plans it, with the paper's options per dataset, and draws it
    assert "tanh_gcn" in reproduction_models()
    assert "tanh_gcn" in OversmoothingConfig().models
    runs = plan_runs(datasets=("cora",), models=reproduction_models(), depths=(4,),
                     protocols=("standard",), seeds=1, hidden=8, epochs=2, data_dir=None)
    (run,) = [r for r in runs if r.config.model == "tanh_gcn"]
    assert run.config.model_options == {"gain": 2.0}
    assert label("tanh_gcn") == "tanh GCN" and color("tanh_gcn") == "#123456"


def test_registration_checks_its_entry(tanh_gcn):
    with pytest.raises(ValueError, match="already registered"):
        register_model(tanh_gcn)
    with pytest.raises(ValueError, match="does not take nope"):
        ModelSpec("other", TanhGCN, tanh_gcn.defaults, "x", search_space=(Param("nope", 0, 1),))
    with pytest.raises(ValueError, match="lower-case"):
        ModelSpec("Other", TanhGCN, tanh_gcn.defaults, "x")
    with pytest.raises(ValueError, match="DeepGNN subclass"):
        ModelSpec("other", torch.nn.Linear, tanh_gcn.defaults, "x")


def test_one_train_run_builds_its_model_once(monkeypatch, tmp_path):
    built = []
    original = EntropicGCN.__init__

    @functools.wraps(original)
    def counting(self, *args, **kwargs):
        built.append(args)
        original(self, *args, **kwargs)

    monkeypatch.setattr(EntropicGCN, "__init__", counting)
    config = TrainConfig("entropic_gcn", "csbm", 4, hidden=8, epochs=2,
                         model_options={"temperature": 2.0, "schedule": "adaptive"})
    assert built == []  # a config is checked without building a model
    assert main(["train", "--model", "entropic_gcn", "--dataset", "csbm", "--depth", "4",
                 "--hidden", "8", "--epochs", "2", "--temperature", "2",
                 "--out", str(tmp_path)]) == 0
    assert len(built) == 1
    built.clear()
    result = train(config)
    assert len(built) == 1
    data = load_dataset("csbm")
    expected = EntropicGCN(data.num_features, 8, 4, int(data.y.max()) + 1)
    assert result.num_parameters == sum(p.numel() for p in expected.parameters())


def test_train_config_checks_options_by_their_declared_type():
    config = TrainConfig("entropic_gcn", "CSBM", 3, lr=np.float32(0.01), split_index="2",
                         model_options={"temperature": np.float64(2.0), "detach": False})
    assert config.dataset == "csbm" and config.split_index == 2
    assert type(config.lr) is float and type(config.model_options["temperature"]) is float
    for options, message in [({"detach": "False"}, "detach: expected bool"),
                             ({"temperature": "hot"}, "temperature: expected"),
                             ({"temperature": 0.0}, "temperature"),
                             ({"schedule": "cosine"}, "schedule"),
                             ({"temperature": float("inf")}, "temperature")]:
        with pytest.raises(ValueError, match=message):
            TrainConfig("entropic_gcn", "csbm", 3, model_options=options)
    for kwargs, message in [({"lr": float("inf")}, "lr"), ({"lr": 0.0}, "lr"),
                            ({"weight_decay": float("nan")}, "weight_decay"),
                            ({"split_index": -1}, "split_index"),
                            ({"split": "random"}, "split"), ({"seed": 1.5}, "seed")]:
        with pytest.raises(ValueError, match=message):
            TrainConfig("gcn", "csbm", 3, **kwargs)


def test_entropy_options_are_checked_into_one_frozen_object_per_layer():
    options = EntropyOptions(entropy_weight=np.float32(0.5), temperature=np.int64(3))
    assert (options.entropy_weight, options.temperature) == (0.5, 3.0)
    assert type(options.temperature) is float
    with pytest.raises(ValueError, match="entropy_weight"):
        EntropyOptions(entropy_weight=True)
    with pytest.raises(ValueError, match="detach"):
        EntropyOptions(detach="no")
    model = EntropicGCN(6, 8, 5, 3, entropy_weight=0.5, temperature=3.0)
    layers = [layer for layer in model.convs if hasattr(layer, "options")]
    assert len(layers) == 3 and all(layer.options == model.entropy for layer in layers)
    with pytest.raises(TypeError, match="options"):  # one constructor API: the keywords
        EntropicConv(GCNConv(4, 4), options=options)


def test_pairnorm_search_space_offers_exactly_the_modes_the_layer_takes():
    from eamp.models.pairnorm import PAIRNORM_MODES

    mode = next(p for p in MODELS["pairnorm_gcn"].search_space if p.name == "mode")
    assert mode.choices == PAIRNORM_MODES


def test_every_registered_class_path_imports_a_deep_gnn():
    for spec in MODELS.values():
        spec.check()  # raises if the path or an option in its space or flags is wrong
    with pytest.raises(ValueError, match="cannot import"):
        ModelSpec("ghost", "eamp.models.gcn:Nope", MODELS["gcn"].defaults, "x").check()


@pytest.mark.parametrize("package", ["eamp", "eamp.nn", "eamp.models"])
def test_lazy_packages_export_every_name_they_list(package):
    import importlib

    module = importlib.import_module(package)
    assert sorted(module.__all__) == sorted(module._NAMES)
    for name in module.__all__:
        assert getattr(module, name) is not None
    with pytest.raises(AttributeError, match="no attribute"):
        module.nope  # noqa: B018


def test_a_model_must_take_pygs_arguments_in_pygs_order():
    class OldOrder(GCN):
        def __init__(self, in_channels: int, out_channels: int, num_layers: int,
                     hidden_channels: int, dropout: float = 0.0) -> None:
            super().__init__(in_channels, hidden_channels, num_layers, out_channels, dropout)

    with pytest.raises(ValueError, match="must take PyG's arguments first, in_channels, "
                       "hidden_channels, num_layers, out_channels, dropout; it takes "
                       "in_channels, out_channels"):
        ModelSpec("old_order", OldOrder, TrainDefaults(0.01, 0.0, 0.0, 1, 1), "old")
