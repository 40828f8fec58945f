"""torch.compile: a compiled model gives the eager model's logits."""

import pytest
import torch
from torch_geometric.utils import to_undirected

from eamp.models import build_model


@pytest.mark.parametrize("name", ["gcn", "entropic_gcn"])
def test_compiled_and_eager_logits_agree(name):
    torch.manual_seed(0)
    edge_index = to_undirected(torch.randint(0, 30, (2, 80)), num_nodes=30)
    x = torch.randn(30, 8)
    model = build_model(name, 8, 16, 4, 3).eval()
    torch._dynamo.reset()
    with torch.no_grad():
        eager = model(x, edge_index)
        model.compile()
        compiled = model(x, edge_index)
    # compiled indeed: Dynamo captured graphs
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] > 0
    # the compiled model propagates by gather-scatter, the eager one by a sparse product:
    # the same sums in another order
    assert not torch.equal(eager, torch.zeros_like(eager))
    torch.testing.assert_close(compiled, eager, rtol=1e-5, atol=1e-5)


def test_compile_is_a_train_setting():
    from eamp.training import TrainConfig

    assert TrainConfig("gcn", "cora", 2, compile=True).compile
    with pytest.raises(ValueError, match="compile"):
        TrainConfig("gcn", "cora", 2, compile="yes")
