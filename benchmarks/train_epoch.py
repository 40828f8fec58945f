"""Milliseconds per training step of gcn and entropic_gcn on Cora (width 256) by input path
and precision, against the step as it was before sparse input and the CPU fast paths, and
against the dense-GEMM floor.

    python benchmarks/train_epoch.py [--data-dir DIR] [--depths 4 16 64] [--epochs 10]
        [--device auto] [--precisions 32 bf16-mixed]

Settings (each a full-batch forward, backward and Adam step, as `eamp.training.train` times it):

- ``before``: dense input, ``F.dropout`` and PyG's gather-scatter propagation, 32-bit (the
  step before this benchmark's settings existed);
- ``32``: dense input with the current path (CSR propagation, CPU dropout);
- ``32 sparse``: the same with the input as a sparse CSR matrix (what `eamp.training.train` does for
  Cora);
- ``bf16-mixed sparse``: that under ``torch.autocast`` in bfloat16.

``floor`` is the same network's matrix products alone, forward and backward (the first
layer's product as the setting computes it, sparse or dense; no propagation, dropout,
activation or optimizer), in 32-bit and in bfloat16. Every setting and model runs once per
round, in turn, so that they share the machine's conditions; the median over rounds is
printed. bf16-mixed is skipped on a CPU without native bfloat16 (it would be emulated).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F

import eamp.nn.functional
from eamp.data import load_dataset
from eamp.device import autocast, native_bf16, resolve_device
from eamp.models import build_model
from eamp.models.base import Adjacency
from eamp.nn import sparse_features

MODELS = ("gcn", "entropic_gcn")


@contextlib.contextmanager
def before() -> Iterator[None]:
    """The step as it was: ``F.dropout`` everywhere and PyG's gather-scatter."""
    patched = [(m, m.dropout) for m in list(sys.modules.values())
               if getattr(m, "dropout", None) is eamp.nn.functional.dropout]
    layer_arguments = Adjacency.layer_arguments
    for module, _ in patched:
        module.dropout = F.dropout
    Adjacency.layer_arguments = lambda self, x: (self.edge_index, self.edge_weight)
    try:
        yield
    finally:
        for module, original in patched:
            module.dropout = original
        Adjacency.layer_arguments = layer_arguments


def _floor(x: torch.Tensor, widths: list[int], dtype: torch.dtype,
           device: torch.device) -> Callable[[], None]:
    """The matrix products of the network alone, forward and backward."""
    weights = [(torch.randn(a, b, device=device) * 0.01).to(dtype).requires_grad_()
               for a, b in zip(widths[:-1], widths[1:], strict=True)]

    def step() -> None:
        if x.layout == torch.strided:
            h = x.to(dtype) @ weights[0]
        else:  # the sparse product runs in float32, as in the models
            h = (x @ weights[0].float()).to(dtype)
        for w in weights[1:]:
            h = h @ w
        h.float().sum().backward()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--depths", type=int, nargs="+", default=[4, 16, 64])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precisions", nargs="+", default=["32", "bf16-mixed"],
                        choices=["32", "bf16-mixed"])
    args = parser.parse_args()

    device = resolve_device(args.device)
    data = load_dataset("cora", args.data_dir).to(device)
    classes = int(data.y.max()) + 1
    dense, sparse = data.x, sparse_features(data.x)
    bf16 = "bf16-mixed" in args.precisions
    if bf16 and device.type == "cpu" and not native_bf16():
        print("bf16-mixed skipped: this CPU has no native bfloat16 (AVX-512 BF16 or AMX); "
              "it would be emulated, many times slower than 32-bit")
        bf16 = False
    print(f"Cora, width {args.hidden}, {device} ({torch.__version__}), "
          f"{torch.get_num_threads()} threads; median of {args.epochs} steps, interleaved")
    settings: dict[str, tuple[torch.Tensor, str, bool]] = {
        "before": (dense, "32", True), "32": (dense, "32", False),
        "32 sparse": (sparse, "32", False)}
    if bf16:
        settings["bf16-mixed sparse"] = (sparse, "bf16-mixed", False)
    header = (f"{'depth':>5} {'model':<13}" + "".join(f"{s:>18}" for s in settings)
              + f"{'floor 32':>10}" + (f"{'floor bf16':>11}" if bf16 else "")
              + f"{'best/before':>12}{'best/floor':>11}")
    print(header)
    for depth in args.depths:
        models, optims = {}, {}
        for name in MODELS:
            torch.manual_seed(0)
            models[name] = build_model(name, data.num_features, args.hidden, depth,
                                       classes).to(device)
            optims[name] = torch.optim.Adam(models[name].parameters(), lr=0.01)
        widths = [data.num_features] + [args.hidden] * (depth - 1) + [classes]
        floors = {"floor 32": _floor(sparse, widths, torch.float32, device)}
        if bf16:
            floors["floor bf16"] = _floor(sparse, widths, torch.bfloat16, device)
        times: dict[tuple[str, str], list[float]] = {}

        def timed(key: tuple[str, str], run: Callable[[], None], keep: bool,
                  times: dict = times) -> None:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            run()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if keep:
                times.setdefault(key, []).append(time.perf_counter() - start)

        for epoch in range(args.epochs + 1):
            keep = epoch > 0  # the first round warms caches up
            for setting, (x, precision, old) in settings.items():
                for name, model in models.items():
                    def step(model=model, optimizer=optims[name], x=x,
                             precision=precision) -> None:
                        model.train()
                        optimizer.zero_grad()
                        with autocast(device, precision):
                            logits = model(x, data.edge_index)
                            loss = F.cross_entropy(logits[data.train_mask],
                                                   data.y[data.train_mask])
                        loss.backward()
                        optimizer.step()

                    with before() if old else contextlib.nullcontext():
                        timed((setting, name), step, keep)
            for floor, run in floors.items():
                timed((floor, ""), run, keep)
        ms = {key: statistics.median(values) * 1e3 for key, values in times.items()}
        for name in MODELS:
            row = [ms[(s, name)] for s in settings]
            best = min(row[1:])
            best_setting = list(settings)[1 + row[1:].index(best)]
            floor = ms[("floor bf16" if "bf16" in best_setting else "floor 32", "")]
            print(f"{depth:>5} {name:<13}" + "".join(f"{v:>18.1f}" for v in row)
                  + f"{ms[('floor 32', '')]:>10.1f}"
                  + (f"{ms[('floor bf16', '')]:>11.1f}" if bf16 else "")
                  + f"{row[0] / best:>11.2f}x{best / floor:>10.2f}x", flush=True)
        for setting in settings:
            ratio = ms[(setting, "entropic_gcn")] / ms[(setting, "gcn")]
            print(f"{'':>5} entropic/gcn at {setting}: {ratio:.2f}")


if __name__ == "__main__":
    main()
