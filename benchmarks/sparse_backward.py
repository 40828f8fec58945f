"""The backward of the CSR propagation: PyTorch's own (it converts the adjacency's transpose
to CSR, a sort of the edges, on every call) against the transpose built once with the graph
(`eamp.nn.sparse.with_transpose`), on Cora.

    python benchmarks/sparse_backward.py [--data-dir DIR] [--depth 64] [--hidden 64]
        [--rounds 10]

Prints the milliseconds of one product ``A @ X`` forward and backward at width ``--hidden``,
and of one training step (forward, backward, Adam) of GCNII at ``--depth`` layers, each way;
the two ways run in turn in every round, and the median over rounds is printed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from eamp.data import load_dataset
from eamp.models import build_model
from eamp.models.base import Adjacency
from eamp.nn import sparse_features
from eamp.nn.sparse import TRANSPOSE


def _median_ms(runs: dict[str, Callable[[], None]], rounds: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in runs}
    for round_ in range(rounds + 1):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            if round_:  # the first round warms caches up
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) * 1e3 for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--depth", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()

    data = load_dataset("cora", args.data_dir)
    adjacency = Adjacency.build(data.edge_index, data.num_nodes)
    stored, plain = adjacency.csr, adjacency.csr.clone()  # a clone carries no transpose
    assert getattr(plain, TRANSPOSE, None) is None
    x = torch.randn(data.num_nodes, args.hidden, requires_grad=True)
    grad = torch.randn(data.num_nodes, args.hidden)

    def product(matrix: torch.Tensor) -> Callable[[], None]:
        conv = build_model("gcn", args.hidden, args.hidden, 1, args.hidden,
                           dropout=0.0).convs[0]
        return lambda: conv(x, matrix).backward(grad)

    ms = _median_ms({"PyTorch": product(plain), "stored": product(stored)}, args.rounds * 10)
    print(f"Cora, {torch.get_num_threads()} threads; A @ X forward and backward, width "
          f"{args.hidden}: PyTorch's backward {ms['PyTorch']:.2f} ms, stored transpose "
          f"{ms['stored']:.2f} ms ({ms['PyTorch'] / ms['stored']:.1f}x)")

    features = sparse_features(data.x)
    classes = int(data.y.max()) + 1
    model = build_model("gcnii", data.num_features, args.hidden, args.depth, classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)

    def step(matrix: torch.Tensor) -> Callable[[], None]:
        def run() -> None:
            adjacency_arguments = Adjacency.layer_arguments
            Adjacency.layer_arguments = lambda self, x: (matrix, None)
            try:
                model.train()
                optimizer.zero_grad()
                F.cross_entropy(model(features, data.edge_index)[data.train_mask],
                                data.y[data.train_mask]).backward()
                optimizer.step()
            finally:
                Adjacency.layer_arguments = adjacency_arguments
        return run

    ms = _median_ms({"PyTorch": step(plain), "stored": step(stored)}, args.rounds)
    print(f"GCNII, {args.depth} layers, width {args.hidden}, one training step: PyTorch's "
          f"backward {ms['PyTorch']:.0f} ms, stored transpose {ms['stored']:.0f} ms "
          f"({ms['PyTorch'] / ms['stored']:.2f}x)")


if __name__ == "__main__":
    main()
