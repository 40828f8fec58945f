"""Milliseconds per training step of the residual GCN, SAGE and GAT of Platonov et al.
(``resgnn``, the presets' width 512 and 3 layers) with their aggregations as sparse products
against the same step through PyG's gather-scatter over the edges.

    python benchmarks/resgnn_step.py [--data-dir DIR] [--datasets squirrel_filtered
        minesweeper tolokers] [--convs gcn sage gat] [--steps 5] [--device auto]

``sparse`` is the step as the models take it in 32-bit: GCN's normalized adjacency and
SAGE's in-neighbour mean as CSR products with a stored transpose, the authors' GAT
attention as one CSR product per head (``eamp._products.headwise_product``). ``scatter`` is
the path the models take under ``torch.compile`` (TorchDynamo does not trace sparse
tensors), here eager: ``(edge_index, edge_weight)`` for the products, PyG's ``propagate``
for the attention. Both settings run from the same initial
weights and dropout masks; ``max |diff|`` is the largest difference of their logits after
the first step (the same numbers up to the order of the sums). Settings alternate step by
step, so both see the machine's conditions; the median over steps is printed (the first step
of each is a warm-up).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import statistics
import time
from collections.abc import Iterator
from unittest import mock

import torch
import torch.nn.functional as F

from eamp.data import load_dataset
from eamp.device import resolve_device
from eamp.models import build_model
from eamp.models.base import Adjacency


@contextlib.contextmanager
def scatter_path() -> Iterator[None]:
    """The models' compiled path (gather-scatter over the edges), eager and in 32-bit."""
    with mock.patch.object(Adjacency, "layer_arguments",
                           lambda self, x: (self.edge_index, self.edge_weight)), \
            mock.patch.object(torch.compiler, "is_compiling", lambda: True):
        yield


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--datasets", nargs="+",
                        default=["squirrel_filtered", "minesweeper", "tolokers"])
    parser.add_argument("--convs", nargs="+", default=["gcn", "sage", "gat"],
                        choices=["gcn", "sage", "gat"])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    device = resolve_device(args.device)
    print(f"resgnn, width 512, 3 layers, {device} ({torch.__version__}), "
          f"{torch.get_num_threads()} threads; median of {args.steps} steps, interleaved")
    print(f"{'dataset':<18} {'edges':>8} {'conv':<5} {'sparse ms':>10} {'scatter ms':>11} "
          f"{'scatter/sparse':>15} {'max |diff|':>11}")
    for name in args.datasets:
        data = load_dataset(name, args.data_dir).to(device)
        train = data.train_mask[:, 0] if data.train_mask.dim() == 2 else data.train_mask
        classes = int(data.y.max()) + 1
        for conv in args.convs:
            torch.manual_seed(0)
            first = build_model("resgnn", data.num_features, 512, 3, classes,
                                conv=conv).to(device)
            models = {"sparse": first, "scatter": copy.deepcopy(first)}
            optims = {k: torch.optim.Adam(m.parameters(), lr=3e-5) for k, m in models.items()}
            times: dict[str, list[float]] = {k: [] for k in models}
            for step in range(args.steps + 1):
                for key, model in models.items():
                    context = scatter_path() if key == "scatter" else contextlib.nullcontext()
                    if device.type == "cuda":
                        torch.cuda.synchronize(device)
                    torch.manual_seed(step)  # the same dropout masks in both settings
                    start = time.perf_counter()
                    with context:
                        model.train()
                        optims[key].zero_grad()
                        F.cross_entropy(model(data.x, data.edge_index)[train],
                                        data.y[train]).backward()
                        optims[key].step()
                    if device.type == "cuda":
                        torch.cuda.synchronize(device)
                    if step:
                        times[key].append(time.perf_counter() - start)
                if step == 0:
                    with torch.no_grad():
                        logits = {}
                        for key, model in models.items():
                            model.eval()
                            context = (scatter_path() if key == "scatter"
                                       else contextlib.nullcontext())
                            with context:
                                logits[key] = model(data.x, data.edge_index)
                        diff = float((logits["sparse"] - logits["scatter"]).abs().max())
            ms = {k: 1000 * statistics.median(v) for k, v in times.items()}
            print(f"{name:<18} {data.edge_index.size(1):>8} {conv:<5} {ms['sparse']:>10.1f} "
                  f"{ms['scatter']:>11.1f} {ms['scatter'] / ms['sparse']:>14.1f}x "
                  f"{diff:>11.1e}")


if __name__ == "__main__":
    main()
