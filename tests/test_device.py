"""Devices, mixed precision and sparse input features (eamp.device, eamp.nn.sparse)."""

import json
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.utils import to_torch_csr_tensor, to_undirected

from eamp.device import check_device, check_precision, resolve_device, worker_device
from eamp.entropy import entropy_gradient, prepare_graph
from eamp.models import build_model, get_model_spec, model_names
from eamp.nn import sparse_features
from eamp.nn.cache import GraphCache
from eamp.nn.functional import dropout
from eamp.nn.sparse import (
    GCN2ConvWithTranspose,
    GCNConvWithTranspose,
    SimpleConvWithTranspose,
    with_transpose,
)
from eamp.training import TrainConfig, config_differences, train

CUDA = torch.cuda.is_available()
MPS = hasattr(torch.backends, "mps") and torch.backends.mps.is_available()
DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not CUDA, reason="no CUDA device here "
                                                  "(this torch or this machine has none)")),
    pytest.param("mps", marks=pytest.mark.skipif(not MPS, reason="no MPS device here")),
]


def _graph(n=12, features=10, density=0.2, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, features, generator=g) < density).float() * torch.rand(
        n, features, generator=g)
    edge_index = to_undirected(torch.randint(0, n, (2, 3 * n), generator=g))
    edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    y = torch.randint(0, 3, (n,), generator=g)
    return x, edge_index, y


@pytest.mark.parametrize("text, expected", [("auto", "auto"), ("CPU", "cpu"),
                                            (" cuda:1 ", "cuda:1"), ("mps", "mps")])
def test_device_names_are_checked_as_text(text, expected):
    assert check_device(text) == expected


@pytest.mark.parametrize("bad", ["gpu", "cuda:", "cuda:-1", "cuda:x", "", 0, None, "cpu:0"])
def test_a_bad_device_is_one_clear_error(bad):
    with pytest.raises(ValueError, match="device: expected auto, cpu, cuda, cuda:N or mps"):
        check_device(bad)


@pytest.mark.skipif(CUDA, reason="checks the message on a machine without CUDA")
def test_cuda_without_cuda_says_why():
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="device: 'cuda' asked for, but this torch"):
        resolve_device("cuda")
    assert worker_device("auto", 3) == "auto"


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_a_config_names_a_gpu_anywhere_and_a_run_asks_when_it_starts(tmp_path):
    """A config is pure data: one made on a GPU machine (a tuning worker's cuda:1) builds,
    plans and reports on a CPU machine; a run of it is refused there when it starts, in one
    line naming the device."""
    from eamp.runs.store import RunSpec, is_done

    config = TrainConfig("gcn", "csbm", 2, hidden=8, epochs=2, device="cuda:1",
                         precision="16-mixed")
    assert (config.device, config.precision) == ("cuda:1", "16-mixed")
    with pytest.raises(ValueError, match="device: 'cuda:1' asked for, but this torch"):
        train(config)
    # its result, stored by the GPU worker, counts as done here: where is not what
    result = train(replace(config, device="cpu", precision="32"))
    spec = RunSpec("gpu", config)
    stored = result.to_dict()
    stored["config"] = {**stored["config"], "device": "cuda:1"}
    path = tmp_path / spec.relpath
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(stored))
    assert not is_done(spec, path, quiet=True)  # its precision differs: 16-mixed vs 32
    assert is_done(RunSpec("gpu", replace(config, precision="32")), path, quiet=True)


def test_precision_is_checked_against_the_device():
    assert check_precision("32") == "32" and check_precision(32) == "32"
    assert check_precision("bf16-mixed", "cpu") == "bf16-mixed"
    with pytest.raises(ValueError, match="precision: expected one of 32, bf16-mixed"):
        TrainConfig("gcn", "csbm", 2, precision="bf16")
    # a config names a precision without asking this machine; a run asks when it starts
    assert TrainConfig("gcn", "csbm", 2, device="cpu", precision="16-mixed").precision \
        == "16-mixed"
    with pytest.raises(ValueError, match="16-mixed' needs a GPU"):
        check_precision("16-mixed", "cpu")


def test_the_device_is_where_not_what():
    config = TrainConfig("gcn", "csbm", 2, device="cpu")
    assert config_differences(TrainConfig("gcn", "csbm", 2).as_dict(), config) == {}
    stored = TrainConfig("gcn", "csbm", 2, precision="bf16-mixed").as_dict()
    assert config_differences(stored, config) == {"precision": ("bf16-mixed", "32")}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", model_names())
def test_every_model_runs_and_trains_on_the_device(name, device):
    x, edge_index, y = (t.to(device) for t in _graph())
    torch.manual_seed(0)
    model = build_model(name, x.size(1), 8, 4, 3).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    before = [p.detach().clone() for p in model.parameters()]
    logits, hidden = model(x, edge_index, return_hidden=True)
    F.cross_entropy(logits, y).backward()
    optimizer.step()
    assert logits.device.type == device and all(h.device.type == device for h in hidden)
    assert all(p.device.type == device for p in model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    caches = [cache for m in model.modules() for value in vars(m).values()
              for cache in (value.values() if isinstance(value, dict) else (value,))]
    built = [cache._graph for cache in caches
             if isinstance(cache, GraphCache) and cache._graph is not None]
    assert built  # every model caches a graph structure: the adjacency, the entropy's
    assert all(t.device.type == device for g in built for t in _tensors(g))


def _tensors(thing):
    if isinstance(thing, torch.Tensor):
        return [thing]
    if isinstance(thing, (tuple, list)):
        return [t for item in thing for t in _tensors(item)]
    if hasattr(thing, "__dict__"):
        return [t for item in vars(thing).values() for t in _tensors(item)]
    return []


@pytest.mark.parametrize("conv", [GCNConvWithTranspose(3, 3, normalize=False),
                                  GCN2ConvWithTranspose(3, alpha=0.2, theta=0.5, layer=2,
                                                        normalize=False),
                                  SimpleConvWithTranspose(aggr="sum")])
def test_the_stored_transpose_gives_the_exact_gradient(conv):
    # a directed graph: A != A^T, so a backward taking A (not A^T) would be seen
    torch.manual_seed(0)
    edge_index = torch.tensor([[0, 1, 2, 3, 0, 4], [1, 2, 3, 0, 2, 1]])
    weight = torch.rand(6, dtype=torch.float64)
    conv = conv.double()
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    args = (x, x.detach() + 1) if isinstance(conv, GCN2ConvWithTranspose) else (x,)

    def grad_with(adjacency):
        out = conv(*args, adjacency)
        return torch.autograd.grad((out * out.detach().cos()).sum(), x)[0]

    def matrix(index):
        return to_torch_csr_tensor(index, weight, size=(5, 5))

    dense = torch.zeros(5, 5, dtype=torch.float64).index_put_(
        tuple(edge_index.flip(0)), weight, accumulate=True)
    plain = grad_with(matrix(edge_index.flip(0)))  # PyTorch's own backward
    stored = grad_with(with_transpose(matrix(edge_index.flip(0)), matrix(edge_index)))
    wrong = grad_with(with_transpose(matrix(edge_index.flip(0)), matrix(edge_index.flip(0))))
    torch.testing.assert_close(stored, plain, atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(plain, grad_with(dense.to_sparse_csr()), atol=1e-12, rtol=1e-12)
    assert not torch.allclose(wrong, plain)  # the stored transpose is the one used


@pytest.mark.parametrize("name", ["gcn", "entropic_gcn", "gcnii", "entropic_gcnii", "g2",
                                  "pairnorm_gcn"])
def test_models_on_a_directed_graph_keep_their_gradient(name, monkeypatch):
    torch.manual_seed(0)
    x, edge_index, y = _graph()
    edge_index = edge_index[:, edge_index[0] < edge_index[1]]  # one direction only
    options = {"input_dropout": 0.0} if name == "g2" else {}
    model = build_model(name, x.size(1), 8, 3, 3, dropout=0.0,
                        **options).double()
    grads = []
    for stored in (True, False):
        if not stored:  # PyTorch's own backward: no transpose carried
            monkeypatch.setattr("eamp.models.base.with_transpose", lambda m, t: m)
        model.zero_grad()
        F.cross_entropy(model(x.double(), edge_index), y).backward()
        grads.append([p.grad.clone() for p in model.parameters() if p.grad is not None])
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("name", model_names())
def test_sparse_features_give_the_dense_numbers(name):
    x, edge_index, y = _graph(density=0.15)
    xs = sparse_features(x, max_density=0.5)
    assert xs.layout == torch.sparse_csr and sparse_features(x).layout == torch.strided
    torch.manual_seed(0)
    options = {"entropy_weight": 0.1} if name == "entropic_grand" else {}  # chaotic at 10
    if "input_dropout" in get_model_spec(name).options():
        options["input_dropout"] = 0.0
    model = build_model(name, x.size(1), 8, 3, 3, dropout=0.0, **options)
    outputs = []
    for features in (x, xs):
        model.zero_grad()
        logits = model(features, edge_index)
        F.cross_entropy(logits, y).backward()
        outputs.append((logits.detach(), [p.grad.clone() for p in model.parameters()
                                           if p.grad is not None]))
    (dense, dense_grads), (sparse, sparse_grads) = outputs
    torch.testing.assert_close(sparse, dense, atol=1e-5, rtol=1e-5)
    for a, b in zip(sparse_grads, dense_grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", model_names())
def test_every_model_trains_under_bf16_autocast(name):
    x, edge_index, y = _graph()
    torch.manual_seed(0)
    model = build_model(name, x.size(1), 8, 4, 3)
    reference = model.eval()(x, edge_index)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(sparse_features(x), edge_index)
        loss = F.cross_entropy(logits, y)
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in
                                        model.parameters() if p.grad is not None)
    # bfloat16 keeps 8 bits of mantissa: the logits agree to about 1e-2 of their size
    if name != "entropic_grand":  # chaotic: a rounding moves its output by O(1)
        torch.testing.assert_close(logits.float(), reference, atol=0.05, rtol=0.05)


def test_the_entropy_stays_float32_under_autocast():
    x, edge_index, _ = _graph(n=30, features=6, density=1.0)
    graph = prepare_graph(edge_index, x.size(0))
    expected = entropy_gradient(x, graph, 0.5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = entropy_gradient(x, graph, 0.5)
    assert inside.dtype == torch.float32
    torch.testing.assert_close(inside, expected, atol=1e-6, rtol=1e-6)
    from eamp.entropy import gradient_of

    low = gradient_of(x.bfloat16(), graph, 0.5, True)  # a layer's 16-bit output
    assert low.dtype == torch.float32
    torch.testing.assert_close(low, gradient_of(x.bfloat16().float(), graph, 0.5, True))


def test_dropout_keeps_the_distribution_of_f_dropout():
    torch.manual_seed(0)
    x = torch.randn(400, 500, requires_grad=True)
    y = dropout(x, 0.3, True)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.7) < 0.005
    torch.testing.assert_close(y[kept], x[kept] / 0.7)
    y.sum().backward()
    torch.testing.assert_close(x.grad, kept.float() / 0.7)
    assert dropout(x, 0.3, False) is x and torch.equal(dropout(x, 0.0, True), x)


def test_train_records_device_precision_and_sparse_input(tmp_path):
    result = train(TrainConfig("entropic_gcn", "csbm", 3, hidden=8, epochs=3,
                               precision="bf16-mixed"))
    env = result.environment
    assert env["device"] == "cpu" and env["precision"] == "bf16-mixed" and env["device_name"]
    assert env["sparse_input"] is False and env["threads"] == torch.get_num_threads()
    assert result.config["precision"] == "bf16-mixed" and 0 <= result.test_acc <= 1


def test_demo_runs_on_the_device_and_refuses_a_bad_one(capsys):
    from eamp.cli import main

    assert main(["demo", "--steps", "2", "--device", "cpu"]) == 0
    assert main(["demo", "--device", "tpu"]) == 2
    assert capsys.readouterr().err.strip().endswith("device: expected auto, cpu, cuda, "
                                                    "cuda:N or mps, got 'tpu'")
