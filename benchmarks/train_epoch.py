"""Milliseconds per training step of gcn and entropic_gcn on Cora by precision and
compilation, against the network's matrix products alone.

    python benchmarks/train_epoch.py [--data-dir DIR] [--depths 4 16 64] [--widths 256 64]
        [--epochs 10] [--device auto] [--settings 32 bf16-mixed compile] [--threads N]
        [--before REV] [--rounds 3] [--out]

Settings (each a full-batch forward, backward and Adam step, as `eamp.training.train` takes
it, with sparse input features where `eamp.training.train` makes them sparse):

- ``32``: 32-bit;
- ``bf16-mixed``: under ``torch.autocast`` in bfloat16 (skipped on a CPU without native
  bfloat16, where it would be emulated);
- ``compile``: 32-bit, the model compiled (``TrainConfig(compile=True)``: dense features,
  gather-scatter propagation, the entropy step eager).

``floor`` is the same network's matrix products alone, forward and backward (the first
layer's sparse product, the dense GEMMs; no propagation, dropout, activation or optimizer),
in 32-bit and in bfloat16. Every setting and model runs once per round, in turn, so that
they share the machine's conditions; the median over rounds is reported, with the ratios
entropic GCN / GCN, GCN / its floor and 32-bit / bf16-mixed. The process keeps freed memory
as the command line does (`eamp.runtime.retain_freed_memory`). ``--before REV`` and
``--out``: see ``benchmarks/_perf.py``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import _perf
import torch
import torch.nn.functional as F

import eamp.runtime
from eamp.data import load_dataset
from eamp.device import autocast, native_bf16, resolve_device
from eamp.models import build_model
from eamp.nn import sparse_features
from eamp.training import TrainConfig

MODELS = ("gcn", "entropic_gcn")
SETTINGS = ("32", "bf16-mixed", "compile")


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


def measure(args: argparse.Namespace) -> dict[str, float]:
    # an older eamp (--before) may lack either: it is measured as it was
    getattr(eamp.runtime, "retain_freed_memory", lambda: False)()
    compiles = "compile" in TrainConfig.__dataclass_fields__
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    data = load_dataset("cora", args.data_dir).to(device)
    classes = int(data.y.max()) + 1
    dense, sparse = data.x, sparse_features(data.x)
    settings = [s for s in args.settings
                if (s != "bf16-mixed" or device.type != "cpu" or native_bf16())
                and (s != "compile" or compiles)]
    numbers: dict[str, float] = {}
    for width in args.widths:
        for depth in args.depths:
            where = f"width={width} depth={depth}"
            steps: dict[str, Callable[[], None]] = {}
            for setting in settings:
                for name in MODELS:
                    torch.manual_seed(0)
                    model = build_model(name, data.num_features, width, depth,
                                        classes).to(device)
                    if setting == "compile":
                        model.compile()
                    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
                    x = dense if setting == "compile" else sparse
                    precision = "bf16-mixed" if setting == "bf16-mixed" else "32"

                    def step(model=model, optimizer=optimizer, x=x,
                             precision=precision) -> None:
                        model.train()
                        optimizer.zero_grad()
                        with autocast(device, precision):
                            logits = model(x, data.edge_index)
                            loss = F.cross_entropy(logits[data.train_mask],
                                                   data.y[data.train_mask])
                        loss.backward()
                        optimizer.step()

                    steps[f"{name} {setting}"] = step
            widths = [data.num_features] + [width] * (depth - 1) + [classes]
            steps["floor 32"] = _floor(sparse, widths, torch.float32, device)
            if "bf16-mixed" in settings:
                steps["floor bf16"] = _floor(sparse, widths, torch.bfloat16, device)
            times: dict[str, list[float]] = {key: [] for key in steps}
            for epoch in range(args.epochs + 1):
                for key, step in steps.items():
                    if device.type == "cuda":
                        torch.cuda.synchronize(device)
                    start = time.perf_counter()
                    step()
                    if device.type == "cuda":
                        torch.cuda.synchronize(device)
                    if epoch > 0:  # the first round warms up (and compiles)
                        times[key].append(time.perf_counter() - start)
            ms = {key: statistics.median(t) * 1e3 for key, t in times.items()}
            for key, value in ms.items():
                numbers[f"{where} {key} ms"] = value
            for setting in settings:
                numbers[f"{where} entropic/gcn {setting}"] = (
                    ms[f"entropic_gcn {setting}"] / ms[f"gcn {setting}"])
            numbers[f"{where} gcn 32 / floor 32"] = ms["gcn 32"] / ms["floor 32"]
            if "bf16-mixed" in settings:
                for name in MODELS:
                    numbers[f"{where} {name} 32 / bf16-mixed"] = (
                        ms[f"{name} 32"] / ms[f"{name} bf16-mixed"])
            if "compile" in settings:
                for name in MODELS:
                    numbers[f"{where} {name} compile / 32"] = (
                        ms[f"{name} compile"] / ms[f"{name} 32"])
    return numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--depths", type=int, nargs="+", default=[4, 16, 64])
    parser.add_argument("--widths", type=int, nargs="+", default=[256, 64])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=SETTINGS)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    _perf.add_arguments(parser)
    args = parser.parse_args()
    if "32" not in args.settings:
        parser.error("--settings: 32 is the reference of every ratio; include it")
    argv = ["--depths", *map(str, args.depths), "--widths", *map(str, args.widths),
            "--epochs", str(args.epochs), "--device", args.device,
            "--settings", *args.settings, "--threads", str(args.threads)]
    if args.data_dir:
        argv += ["--data-dir", args.data_dir]
    _perf.run("train_step", f"Training step of GCN and entropic GCN on Cora; median of "
              f"{args.epochs} steps, interleaved", measure, args, argv,
              unit="ms per step, ratios")


if __name__ == "__main__":
    main()
