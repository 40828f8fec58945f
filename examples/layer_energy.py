"""Measure the Dirichlet energy after every layer of any PyG model (here PyG's own GCN).

    python examples/layer_energy.py [--depth 32]

Forward hooks collect each layer's output; `total_dirichlet_energy` measures it.
"""

import argparse

import torch
from torch_geometric.nn.models import GCN

from eamp import prepare_graph, total_dirichlet_energy
from eamp.data import grid_graph

parser = argparse.ArgumentParser()
parser.add_argument("--depth", type=int, default=32)
args = parser.parse_args()

data = grid_graph()  # the 10x10 grid of Rusch et al.'s survey, features in [0, 1]
graph = prepare_graph(data.edge_index, data.num_nodes)
model = GCN(64, 64, num_layers=args.depth).eval()

outputs = []
for conv in model.convs:
    conv.register_forward_hook(lambda module, inputs, output: outputs.append(output))
with torch.no_grad():
    model(data.x, data.edge_index)

print(f"input: E = {float(total_dirichlet_energy(data.x, graph)):.3e}")
for k, h in enumerate(outputs, start=1):
    print(f"layer {k:3d}: E = {float(total_dirichlet_energy(h.double(), graph)):.3e}")
