"""Median training-epoch time of gcn and entropic_gcn on Cora, width 256, and their ratio.

    python benchmarks/train_epoch.py [--data-dir DIR] [--depths 4 16 64] [--epochs 10]

An epoch is one full-batch forward, backward and Adam step (as `eamp.train` times it). The
two models alternate epoch by epoch so that they share the machine's conditions.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from eamp.data import load_dataset
from eamp.models import build_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--depths", type=int, nargs="+", default=[4, 16, 64])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--hidden", type=int, default=256)
    args = parser.parse_args()

    data = load_dataset("cora", args.data_dir)
    classes = int(data.y.max()) + 1
    print(f"Cora, width {args.hidden}, torch {torch.__version__}, {torch.get_num_threads()} "
          f"threads; median of {args.epochs} epochs")
    print(f"{'depth':>5} {'gcn ms':>9} {'entropic ms':>12} {'ratio':>6}")
    for depth in args.depths:
        models, optims = {}, {}
        for name in ("gcn", "entropic_gcn"):
            torch.manual_seed(0)
            models[name] = build_model(name, data.num_features, classes, depth,
                                       hidden_channels=args.hidden)
            optims[name] = torch.optim.Adam(models[name].parameters(), lr=0.01)
        times: dict[str, list[float]] = {name: [] for name in models}
        for epoch in range(args.epochs + 1):
            for name, model in models.items():
                start = time.perf_counter()
                model.train()
                optims[name].zero_grad()
                loss = F.cross_entropy(model(data.x, data.edge_index)[data.train_mask],
                                       data.y[data.train_mask])
                loss.backward()
                optims[name].step()
                if epoch > 0:  # the first epoch warms caches up
                    times[name].append(time.perf_counter() - start)
        gcn = statistics.median(times["gcn"])
        entropic = statistics.median(times["entropic_gcn"])
        print(f"{depth:>5} {gcn * 1e3:>9.1f} {entropic * 1e3:>12.1f} {entropic / gcn:>6.2f}",
              flush=True)


if __name__ == "__main__":
    main()
