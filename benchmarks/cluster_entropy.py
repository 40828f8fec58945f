"""How far the entropy gradient of Cluster-GCN batches is from the full graph's.

    python benchmarks/cluster_entropy.py [--datasets cora csbm] [--parts 8 32 128]
        [--per-batch 1 4] [--temperature 10] [--data-dir DIR] [--out]

For each graph, the embedding is the first hidden state of an untrained width-64 entropic
GCN (what its first entropic layer takes the gradient of). For each partition (METIS or
random, ``P`` parts, ``Q`` per batch) it prints the share of cut edges and
:func:`eamp.data.batching.batch_gradient_error`: ``||G_batches - G_full||_F / ||G_full||_F`` over
one pass (every node in one batch), in float64. ``--out`` writes the table to
``results/perf/cluster_entropy.{csv,md}``.
"""

from __future__ import annotations

import argparse

import _perf
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
    parser.add_argument("--out", action="store_true",
                        help="write results/perf/cluster_entropy.csv and .md")
    args = parser.parse_args()
    rows = []
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
                    rows.append([name, method, num_parts, per_batch,
                                 f"{batches.cut_fraction():.3f}", f"{error:.3f}"])
    _perf.write_table(
        "cluster_entropy", "Entropy gradient of Cluster-GCN batches against the full graph's",
        ["graph", "partition", "P parts", "Q per batch", "cut edges", "relative error"], rows,
        notes=(f"Relative Frobenius error of the stacked batch gradients, first hidden state "
               f"of an untrained width-64 entropic GCN, T = {args.temperature:g}, float64.",),
        out=args.out)


if __name__ == "__main__":
    main()
