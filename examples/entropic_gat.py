"""Wrap the GAT layers of your own model with EntropicConv and train it on Cora.

    python examples/entropic_gat.py [--data-dir DIR] [--depth 8]
"""

import argparse

import torch
import torch.nn.functional as F
from torch_geometric.nn import GATConv

from eamp import EntropicConv, prepare_graph, total_dirichlet_energy
from eamp.data import load_dataset

parser = argparse.ArgumentParser()
parser.add_argument("--data-dir")
parser.add_argument("--depth", type=int, default=8)
parser.add_argument("--epochs", type=int, default=100)
args = parser.parse_args()

data = load_dataset("cora", args.data_dir)
graph = prepare_graph(data.edge_index, data.num_nodes)  # shared by every entropic layer


class DeepGAT(torch.nn.Module):
    def __init__(self, in_channels: int, hidden: int, out_channels: int, depth: int) -> None:
        super().__init__()
        self.lin_in = torch.nn.Linear(in_channels, hidden)
        self.layers = torch.nn.ModuleList(
            EntropicConv(GATConv(hidden, hidden, heads=1), entropy_weight=1.0,
                         temperature=1.0, act=F.elu)
            for _ in range(depth)
        )
        self.lin_out = torch.nn.Linear(hidden, out_channels)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        x = F.elu(self.lin_in(F.dropout(x, 0.6, self.training)))
        for layer in self.layers:
            x = layer(x, edge_index, entropy_graph=graph)
        return self.lin_out(F.dropout(x, 0.6, self.training))


model = DeepGAT(data.num_features, 64, int(data.y.max()) + 1, args.depth)
optimizer = torch.optim.Adam(model.parameters(), lr=0.005, weight_decay=5e-4)
best_val = test_at_best = 0.0
for _ in range(args.epochs):
    model.train()
    optimizer.zero_grad()
    out = model(data.x, data.edge_index)
    F.cross_entropy(out[data.train_mask], data.y[data.train_mask]).backward()
    optimizer.step()
    model.eval()
    with torch.no_grad():
        pred = model(data.x, data.edge_index).argmax(-1)
    val = float((pred[data.val_mask] == data.y[data.val_mask]).float().mean())
    if val > best_val:
        test = float((pred[data.test_mask] == data.y[data.test_mask]).float().mean())
        best_val, test_at_best = val, test
print(f"{args.depth} entropic GAT layers: best val {best_val:.3f}, test {test_at_best:.3f}")
model.eval()
with torch.no_grad():
    x = F.elu(model.lin_in(data.x))
    energies = [float(total_dirichlet_energy(x, graph))]
    for layer in model.layers:
        x = layer(x, data.edge_index, entropy_graph=graph)
        energies.append(float(total_dirichlet_energy(x, graph)))
print("energy after each entropic layer:", " ".join(f"{e:.3g}" for e in energies))
