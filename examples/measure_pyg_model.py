"""Measure oversmoothing layer by layer in a model that is not eamp's: PyG's own deep GCN on
Cora, before and after a short training.

    python examples/measure_pyg_model.py [--data-dir DIR] [--layers 16]
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch_geometric.nn.models import GCN

from eamp.data import load_dataset
from eamp.metrics import layer_metrics


def show(title: str, rows: list[dict]) -> None:
    print(title)
    print(f"{'layer':>5} {'module':<10} {'energy':>10} {'sqrt E (survey)':>16} {'MAD':>7} "
          f"{'eff. rank':>9}")
    for r in rows:
        print(f"{r['layer']:>5} {r['module']:<10} {r['energy']:>10.3e} "
              f"{r['survey_energy']:>16.3e} {r['mad']:>7.4f} {r['effective_rank']:>9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--layers", type=int, default=16)
    args = parser.parse_args()
    data = load_dataset("cora", args.data_dir)
    torch.manual_seed(0)
    model = GCN(data.num_features, 64, args.layers, out_channels=7)
    show("untrained", layer_metrics(model, data.x, data.edge_index))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    for _ in range(100):
        model.train()
        optimizer.zero_grad()
        out = model(data.x, data.edge_index)
        F.cross_entropy(out[data.train_mask], data.y[data.train_mask]).backward()
        optimizer.step()
    show("after 100 epochs", layer_metrics(model, data.x, data.edge_index))


if __name__ == "__main__":
    main()
