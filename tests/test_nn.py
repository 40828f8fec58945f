import pytest
import torch
import torch.nn.functional as F
from torch_geometric.nn import GATConv, GCNConv, GraphConv, SAGEConv
from torch_geometric.testing import assert_module
from torch_geometric.utils import to_undirected

from eamp.entropy import boltzmann_entropy, entropy_gradient, prepare_graph
from eamp.nn import EntropicConv, adaptive_weight

F64 = torch.float64


def graph(n: int = 12, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    edge_index = to_undirected(torch.randint(0, n, (2, 30), generator=gen), num_nodes=n)
    x = torch.randn(n, 8, generator=gen)
    return x, edge_index


CONVS = {
    "gcn": lambda c_in, c_out: GCNConv(c_in, c_out),
    "gat": lambda c_in, c_out: GATConv(c_in, c_out, heads=1),
    "sage": lambda c_in, c_out: SAGEConv(c_in, c_out),
    "graph": lambda c_in, c_out: GraphConv(c_in, c_out),
}


@pytest.mark.parametrize("name", list(CONVS))
def test_wraps_pyg_layers(name):
    torch.manual_seed(0)
    x, edge_index = graph()
    layer = EntropicConv(CONVS[name](8, 8), entropy_weight=0.5, temperature=2.0, act=F.relu)
    out = layer(x, edge_index)
    assert out.shape == (12, 8)
    expected = F.relu(layer.conv(x, edge_index)) + 0.5 * 2.0 * entropy_gradient(x, edge_index, 2.0)
    torch.testing.assert_close(out, expected)
    # width-changing layers need the gradient on the output
    wide = EntropicConv(CONVS[name](8, 5), gradient_at="output")
    assert wide(x, edge_index).shape == (12, 5)
    with pytest.raises(ValueError, match="gradient_at='output'"):
        EntropicConv(CONVS[name](8, 5))(x, edge_index)


@pytest.mark.parametrize("name", list(CONVS))
def test_zero_weight_is_exactly_the_wrapped_layer(name):
    torch.manual_seed(0)
    x, edge_index = graph()
    layer = EntropicConv(CONVS[name](8, 8), entropy_weight=0.0, act=torch.tanh)
    assert torch.equal(layer(x, edge_index), torch.tanh(layer.conv(x, edge_index)))


def test_output_mode_applies_the_step_before_the_activation():
    torch.manual_seed(0)
    x, edge_index = graph()
    layer = EntropicConv(GCNConv(8, 4), entropy_weight=2.0, temperature=0.5,
                         gradient_at="output", act=F.relu)
    h = layer.conv(x, edge_index)
    expected = F.relu(h + 2.0 * 0.5 * entropy_gradient(h, edge_index, 0.5))
    torch.testing.assert_close(layer(x, edge_index), expected)


def test_permutation_equivariance_and_edge_order():
    torch.manual_seed(0)
    x, edge_index = graph()
    layer = EntropicConv(GCNConv(8, 8), entropy_weight=1.0, temperature=1.0, act=F.relu)
    assert_module(layer, x, edge_index, expected_size=(12, 8), test_sparse_layouts=[],
                  atol=1e-5)
    perm = torch.randperm(12)
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(12)
    torch.testing.assert_close(layer(x[perm], inv[edge_index]), layer(x, edge_index)[perm],
                               atol=1e-5, rtol=1e-5)


def test_repr_and_reset():
    layer = EntropicConv(GCNConv(8, 8), entropy_weight=0.3, temperature=5.0,
                         learn_temperature=True, schedule="adaptive", schedule_gain=2.0)
    text = repr(layer)
    for part in ("GCNConv(8, 8)", "entropy_weight=0.3", "temperature=5.0", "detach=True",
                 "gradient_at='input'", "learn=['temperature']", "schedule='adaptive'"):
        assert part in text
    with torch.no_grad():
        layer.log_temperature.fill_(0.0)
    layer.reset_parameters()
    assert layer.temperature.item() == pytest.approx(5.0)


def test_detach_blocks_the_gradient_through_the_entropy_term():
    torch.manual_seed(0)
    x, edge_index = graph()
    conv = GCNConv(8, 8).double()
    x = x.double().requires_grad_()
    # both wrap the same conv (each wrapper resets it once, at construction)
    plain = EntropicConv(conv, entropy_weight=0.0, act=F.relu)
    detached = EntropicConv(conv, entropy_weight=1.0, temperature=3.0, act=F.relu)
    (g_plain,) = torch.autograd.grad(plain(x, edge_index).sum(), x)
    (g_detached,) = torch.autograd.grad(detached(x, edge_index).sum(), x)
    assert not torch.equal(detached(x, edge_index), plain(x, edge_index))
    torch.testing.assert_close(g_detached, g_plain, rtol=0, atol=0)


def test_no_detach_back_propagates_through_the_exact_gradient():
    torch.manual_seed(0)
    x, edge_index = graph()
    x = x.double().requires_grad_()
    weights = torch.randn(12, 8, dtype=F64)
    layer = EntropicConv(GCNConv(8, 8).double(), entropy_weight=0.7, temperature=3.0,
                         detach=False, act=F.relu)
    (got,) = torch.autograd.grad((layer(x, edge_index) * weights).sum(), x)
    # reference: the entropy's gradient by autograd itself, differentiated once more
    x2 = x.detach().clone().requires_grad_()
    (grad_s,) = torch.autograd.grad(boltzmann_entropy(x2, edge_index, 3.0), x2,
                                    create_graph=True)
    out = F.relu(layer.conv(x2, edge_index)) + 0.7 * 3.0 * grad_s
    (expected,) = torch.autograd.grad((out * weights).sum(), x2)
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-10)


def test_learnable_weight_and_temperature_stay_positive_and_learn():
    torch.manual_seed(0)
    x, edge_index = graph()
    layer = EntropicConv(GCNConv(8, 8), entropy_weight=0.5, temperature=2.0,
                         learn_entropy_weight=True, learn_temperature=True)
    layer(x, edge_index).pow(2).sum().backward()
    assert layer.log_entropy_weight.grad is not None and layer.log_temperature.grad is not None
    assert float(layer.entropy_weight) == pytest.approx(0.5)
    with torch.no_grad():
        layer.log_entropy_weight.fill_(-50.0)
    assert float(layer.entropy_weight) > 0


def test_adaptive_schedule_raises_lambda_when_entropy_falls():
    w = torch.tensor(2.0)
    assert float(adaptive_weight(w, torch.tensor(3.0), torch.tensor(4.0), 1.0)) == 2.5
    assert float(adaptive_weight(w, torch.tensor(0.0), torch.tensor(4.0), 3.0)) == 8.0
    assert float(adaptive_weight(w, torch.tensor(5.0), torch.tensor(4.0), 1.0)) == 2.0
    assert float(adaptive_weight(w, torch.tensor(1.0), torch.tensor(0.0), 1.0)) == 2.0

    torch.manual_seed(0)
    x, edge_index = graph()
    g = prepare_graph(edge_index, 12)
    layer = EntropicConv(GCNConv(8, 8), entropy_weight=1.0, temperature=1.0,
                         schedule="adaptive", schedule_gain=1.0)
    current = boltzmann_entropy(x, g, 1.0)
    same = layer.entropy_step(x, edge_index, g, reference_entropy=current)
    higher = layer.entropy_step(x, edge_index, g, reference_entropy=2 * current)
    torch.testing.assert_close(same, entropy_gradient(x, g, 1.0))
    torch.testing.assert_close(higher, 1.5 * same)


def test_prepared_graph_is_cached_across_calls():
    x, edge_index = graph()
    layer = EntropicConv(GCNConv(8, 8))
    layer(x, edge_index)
    first = layer._graph_cache._graph
    layer(x, edge_index)
    assert layer._graph_cache._graph is first
    layer(x, edge_index.flip(0).contiguous())
    assert layer._graph_cache._graph is not first


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"entropy_weight": -1.0}, "entropy_weight"),
        ({"entropy_weight": float("nan")}, "entropy_weight"),
        ({"entropy_weight": 0.0, "learn_entropy_weight": True}, "entropy_weight"),
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": float("inf")}, "temperature"),
        ({"gradient_at": "middle"}, "gradient_at"),
        ({"schedule": "cosine"}, "schedule"),
        ({"dropout": 1.0}, "dropout"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EntropicConv(GCNConv(4, 4), **kwargs)


def test_a_temperature_that_zeroes_the_step_is_said_once(tmp_path, capsys):
    """At T = 1e-30, exp(-E/T) is 0 for every node: the command says so in one warning line
    naming lambda, T and the energies (once for the whole model), and trains on."""
    from eamp.cli import main

    argv = ["train", "--model", "entropic_gcn", "--dataset", "csbm", "--depth", "4",
            "--hidden", "8", "--epochs", "2", "--temperature", "1e-30", "--out",
            str(tmp_path)]
    assert main(argv) == 0
    warned = [line for line in capsys.readouterr().err.splitlines()
              if line.startswith("eamp: warning: the entropy step")]
    assert len(warned) == 1
    assert "entropy_weight=1, temperature=1e-30" in warned[0] and "zero for every node" in warned[0]
    assert "node energies E in [" in warned[0]


def test_a_step_that_is_not_zero_is_not_warned_about():
    import warnings

    from eamp.data import grid_graph
    from eamp.nn import EntropicConv

    data = grid_graph(channels=8)
    layer = EntropicConv(GCNConv(8, 8), temperature=10.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer(data.x, data.edge_index)
