import math

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.nn import PairNorm
from torch_geometric.utils import to_undirected

from eamp.models import (
    MODELS,
    EntropicGCN,
    PairNormGCN,
    build_model,
    get_model_spec,
    model_names,
)
from eamp.models.g2 import gradient_gate
from eamp.models.pairnorm import ScaleCenterShift
from eamp.nn import EntropicConv


def graph(n: int = 20, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    edge_index = to_undirected(torch.randint(0, n, (2, 40), generator=gen), num_nodes=n)
    return torch.randn(n, 6, generator=gen), edge_index


@pytest.mark.parametrize("name", model_names())
@pytest.mark.parametrize("depth", [1, 2, 5])
def test_shapes_and_hidden_states(name, depth):
    torch.manual_seed(0)
    x, edge_index = graph()
    model = build_model(name, 6, 8, depth, 3)
    logits, hidden = model(x, edge_index, return_hidden=True)
    assert logits.shape == (20, 3)
    assert len(hidden) == depth + 1
    assert hidden[0] is x
    assert torch.equal(model.eval()(x, edge_index), model(x, edge_index))
    text = repr(model)
    assert f"6, 8, num_layers={depth}, out_channels=3" in text


@pytest.mark.parametrize("name", model_names())
def test_node_permutation_equivariance(name):
    torch.manual_seed(0)
    x, edge_index = graph()
    model = build_model(name, 6, 8, 4, 3).eval()
    perm = torch.randperm(20)
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(20)
    torch.testing.assert_close(model(x[perm], inv[edge_index]), model(x, edge_index)[perm],
                               atol=1e-5, rtol=1e-4)


def test_entropic_gcn_with_zero_weight_is_the_plain_gcn():
    torch.manual_seed(0)
    x, edge_index = graph()
    gcn = build_model("gcn", 6, 8, 5, 3).eval()
    entropic = build_model("entropic_gcn", 6, 8, 5, 3,
                           entropy_weight=0.0).eval()
    state = {}  # the same weights: keys differ only by the wrapper's ".conv"
    for key, value in gcn.state_dict().items():
        index = int(key.split(".")[1])
        wrapped = 0 < index < 4
        state[key.replace(f"convs.{index}.", f"convs.{index}.conv.") if wrapped else key] = value
    entropic.load_state_dict(state)
    assert torch.equal(entropic(x, edge_index), gcn(x, edge_index))
    entropic_on = build_model("entropic_gcn", 6, 8, 5, 3).eval()
    entropic_on.load_state_dict(state)
    assert not torch.allclose(entropic_on(x, edge_index), gcn(x, edge_index))


def test_entropic_gcn_wraps_only_hidden_layers():
    model = EntropicGCN(6, 8, 4, 3, temperature=2.0)
    kinds = [isinstance(conv, EntropicConv) for conv in model.convs]
    assert kinds == [False, True, True, False]
    assert all(conv.options.temperature == 2.0 for conv in model.convs[1:3])


def test_entropic_gcn_adaptive_schedule_runs_and_differs():
    torch.manual_seed(0)
    x, edge_index = graph()
    # a weak entropy step, so that the GCN's smoothing lowers the entropy layer by layer
    options = dict(entropy_weight=0.05, temperature=0.01)
    constant = build_model("entropic_gcn", 6, 8, 8, 3, **options).eval()
    adaptive = build_model("entropic_gcn", 6, 8, 8, 3, schedule="adaptive", schedule_gain=5.0,
                           **options).eval()
    adaptive.load_state_dict(constant.state_dict())
    assert not torch.allclose(adaptive(x, edge_index), constant(x, edge_index))


def test_g2_gate_by_hand_on_four_nodes():
    # path 0-1-2-3, one channel, y = [0, 1, 3, 3], p = 2
    edge_index = to_undirected(torch.tensor([[0, 1, 2], [1, 2, 3]]))
    y = torch.tensor([[0.0], [1.0], [3.0], [3.0]])
    tau = gradient_gate(y, edge_index, 2.0)
    expected = torch.tanh(torch.tensor([[1.0], [(1 + 4) / 2], [(4 + 0) / 2], [0.0]]))
    torch.testing.assert_close(tau, expected)
    # p = 1 and an isolated node (index 4)
    y = torch.cat([y, torch.tensor([[7.0]])])
    tau = gradient_gate(y, edge_index, 1.0)
    torch.testing.assert_close(tau[:, 0], torch.tanh(torch.tensor([1.0, 1.5, 1.0, 0.0, 0.0])))


def test_g2_gate_on_a_directed_graph_with_a_self_loop_follows_the_authors():
    # edges 0->1, 0->2, 1->2, 2->2 (a self-loop): the mean over the edges leaving each node,
    # the self-loop adding 0 and counting, as the authors' scatter(..., edge_index[0])
    edge_index = torch.tensor([[0, 0, 1, 2], [1, 2, 2, 2]])
    y = torch.tensor([[0.0], [1.0], [3.0]])
    tau = gradient_gate(y, edge_index, 2.0)
    expected = torch.tanh(torch.tensor([(1 + 9) / 2, 4.0, 0.0]))
    torch.testing.assert_close(tau[:, 0], expected)


def test_g2_has_no_activation_on_the_logits_and_shares_its_layer():
    torch.manual_seed(0)
    x, edge_index = graph()
    model = build_model("g2", 6, 8, 3, 3).eval()
    logits = model(x, edge_index)
    assert (logits < 0).any()  # a ReLU on the logits would make them all >= 0
    assert sum(1 for name, _ in model.named_modules() if name.endswith("conv")) == 2
    shared = build_model("g2", 6, 8, 3, 3, gate_conv=False)
    assert shared.gate_conv is None


def test_pairnorm_modes_and_scale():
    x = torch.randn(10, 4)
    model = PairNormGCN(6, 16, 3, 3, mode="PN", scale=2.0)
    assert isinstance(model.norms[0], PairNorm) and model.norms[0].scale == 2.0  # not 16
    si = PairNormGCN(6, 256, 3, 3, mode="PN-SI").norms[0]
    assert si.scale_individually
    scs = ScaleCenterShift(scale=3.0)
    out = scs(x)
    expected = 3.0 * x / (1e-6 + x.pow(2).sum(-1, keepdim=True)).sqrt() - x.mean(0)
    torch.testing.assert_close(out, expected)
    with pytest.raises(ValueError, match="mode"):
        PairNormGCN(6, 256, 3, 3, mode="BN")


def test_registry_errors_and_defaults():
    with pytest.raises(ValueError, match="choose one of gcn, entropic_gcn"):
        get_model_spec("gat")
    with pytest.raises(ValueError, match="gcn does not take temperature"):
        build_model("gcn", 6, 256, 2, 3, temperature=1.0)
    with pytest.raises(ValueError, match="num_layers: expected an integer >= 1, got 0"):
        build_model("gcn", 6, 256, 0, 3)
    assert set(MODELS) == {"gcn", "entropic_gcn", "pairnorm_gcn", "g2", "gcnii", "grand",
                           "entropic_grand", "entropic_gcnii", "entropic_g2", "resgnn"}
    for spec in MODELS.values():
        d = spec.defaults
        assert d.lr > 0 and d.weight_decay >= 0 and 0 <= d.dropout < 1
        assert d.epochs >= d.patience >= 1
    assert "entropy_weight" in MODELS["entropic_gcn"].options()
    assert "p" in MODELS["g2"].options() and "alpha" in MODELS["gcnii"].options()


def test_gcnii_param_groups_cover_all_parameters():
    model = build_model("gcnii", 6, 8, 4, 3)
    groups = model.param_groups(5e-4)
    counted = sum(p.numel() for g in groups for p in g["params"])
    assert counted == sum(p.numel() for p in model.parameters())
    assert {g["weight_decay"] for g in groups} == {0.01, 5e-4}


def test_entropic_gcn_trains_a_step_without_nan():
    torch.manual_seed(0)
    x, edge_index = graph()
    y = torch.randint(0, 3, (20,))
    model = build_model("entropic_gcn", 6, 8, 8, 3, temperature=1.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(3):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x, edge_index), y)
        loss.backward()
        optimizer.step()
    assert math.isfinite(float(loss.detach()))


@pytest.mark.parametrize("name, base", [("entropic_gcnii", "gcnii"), ("entropic_g2", "g2")])
def test_entropic_backbone_is_its_base_plus_the_entropy_step(name, base):
    """With lambda = 0 the entropic backbone is its base (same weights); with lambda > 0 a
    one-layer model's hidden state is the base's plus lambda * T * grad S of the layer input."""
    from eamp.entropy import entropy_gradient

    torch.manual_seed(0)
    edge_index = torch.tensor([[0, 1, 1, 2, 2, 3, 3, 4], [1, 0, 2, 1, 3, 2, 4, 3]])
    x = torch.randn(6, 5, dtype=torch.float64)  # node 5 isolated
    base_model = build_model(base, 5, 4, 1, 3).double().eval()
    for weight in (0.0, 0.7):
        model = build_model(name, 5, 4, 1, 3, entropy_weight=weight,
                            temperature=2.0).double().eval()
        state = {k: v for k, v in model.state_dict().items() if not k.startswith("entropic.")}
        base_model.load_state_dict({k.replace(".conv.", "."): v for k, v in state.items()})
        _, hidden = model(x, edge_index, return_hidden=True)
        _, base_hidden = base_model(x, edge_index, return_hidden=True)
        first = torch.relu(base_model.encoder(x))  # the input of the single layer
        step = weight * 2.0 * entropy_gradient(first, edge_index, 2.0)
        torch.testing.assert_close(hidden[1], base_hidden[1] + step, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["gcn", "entropic_gcn", "pairnorm_gcn", "gcnii",
                                  "entropic_gcnii", "g2", "entropic_g2", "resgnn"])
def test_checkpointing_gives_the_same_gradients_with_dropout(name):
    """Each layer recomputed in the backward pass draws the same dropout masks: the
    gradients equal those without checkpointing (to 1e-6)."""
    torch.manual_seed(0)
    edge_index = to_undirected(torch.randint(0, 20, (2, 60)), num_nodes=20)
    x, y = torch.randn(20, 6), torch.randint(0, 3, (20,))
    model = build_model(name, 6, 8, 4, 3, dropout=0.5)
    model.train()
    grads = []
    for enabled in (False, True):
        model.set_checkpointing(enabled)
        model.zero_grad()
        torch.manual_seed(1)
        F.cross_entropy(model(x, edge_index), y).backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    for plain, checkpointed in zip(*grads, strict=True):
        torch.testing.assert_close(checkpointed, plain, rtol=1e-6, atol=1e-6)
    assert any(g.abs().sum() > 0 for g in grads[1])
