"""How far the entropy gradient of Cluster-GCN batches is from the full graph's.

    python benchmarks/cluster_entropy.py [--datasets cora csbm] [--parts 8 32 128]
        [--per-batch 1 4] [--temperature 10] [--data-dir DIR]

For each graph, the embedding is the first hidden state of an untrained width-64 entropic
GCN (what its first entropic layer takes the gradient of). For each partition (METIS or
random, ``P`` parts, ``Q`` per batch) it prints the share of cut edges and
:func:`eamp.data.batching.batch_gradient_error`: ``||G_batches - G_full||_F / ||G_full||_F`` over
one pass (every node in one batch), in float64.
"""

from __future__ import annotations

import argparse

import torch

from eamp.data import load_dataset
from eamp.data.batching import Batches, batch_gradient_error, partition
from eamp.models import build_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["cora", "csbm"])
    parser.add_argument("--parts", type=int, nargs="+", default=[8, 32, 128])
    parser.add_argument("--per-batch", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--temperature", type=float, default=10.0)
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    print(f"{'dataset':>8} {'partition':>9} {'P':>4} {'Q':>3} {'cut edges':>9} "
          f"{'grad error':>10}")
    for name in args.datasets:
        data = load_dataset(name, args.data_dir)
        torch.manual_seed(0)
        model = build_model("entropic_gcn", data.num_features, 64, 4, int(data.y.max()) + 1,
                            dropout=0.0).eval()
        with torch.no_grad():
            _, hidden = model(data.x, data.edge_index, return_hidden=True)
        x = hidden[1].double()
        for method in ("metis", "random"):
            for num_parts in args.parts:
                parts = partition(data.edge_index, data.num_nodes, num_parts, method)
                for per_batch in args.per_batch:
                    if per_batch > num_parts:
                        continue
                    batches = Batches(data.edge_index, parts, per_batch)
                    error = batch_gradient_error(x, batches, args.temperature,
                                                 torch.Generator().manual_seed(0))
                    print(f"{name:>8} {method:>9} {num_parts:>4} {per_batch:>3} "
                          f"{batches.cut_fraction():>9.3f} {error:>10.3f}", flush=True)


if __name__ == "__main__":
    main()
