"""Peak memory and time of one training step with and without activation checkpointing
(`--checkpoint`), each in a fresh process so that the peak is its own.

    python benchmarks/checkpoint_memory.py [--nodes 100000] [--depth 64] [--hidden 256]
        [--model entropic_gcn] [--repeats 2] [--device auto]

The graph is a CSBM (average degree 10, 128 features). On a CPU the peak is the growth of
the resident set (``ru_maxrss``) over the step; on CUDA, ``torch.cuda.max_memory_allocated``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time
import torch, torch.nn.functional as F
from eamp.data import csbm_graph
from eamp.device import resolve_device
from eamp.models import build_model
args = json.loads(sys.argv[1])
device = resolve_device(args["device"])
data = csbm_graph(num_nodes=args["nodes"], avg_degree=10, channels=128, seed=0).to(device)
model = build_model(args["model"], 128, args["hidden"], args["depth"], 3,
                    dropout=0.5).to(device).set_checkpointing(args["checkpoint"])
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
model.train()
def step():
    optimizer.zero_grad()
    F.cross_entropy(model(data.x, data.edge_index)[data.train_mask],
                    data.y[data.train_mask]).backward()
    optimizer.step()
step()  # warm-up: caches, Adam's state
if device.type == "cuda":
    torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
times = []
for _ in range(args["repeats"]):
    start = time.perf_counter(); step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    times.append(time.perf_counter() - start)
peak = (torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(json.dumps({"seconds": min(times), "peak_mib": peak,
                  "growth_mib": peak - base / 1024 if device.type != "cuda" else peak}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--depth", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--model", default="entropic_gcn")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    print(f"{args.model}, {args.nodes} nodes, depth {args.depth}, width {args.hidden}")
    print(f"{'checkpoint':>10} {'step s':>8} {'peak MiB':>9}")
    for checkpoint in (False, True):
        payload = json.dumps({**vars(args), "checkpoint": checkpoint})
        run = subprocess.run([sys.executable, "-c", CHILD, payload], capture_output=True,
                             text=True, check=False)
        if run.returncode != 0:
            print(f"{checkpoint!s:>10} failed: {run.stderr.strip().splitlines()[-1:]}")
            continue
        result = json.loads(run.stdout.strip().splitlines()[-1])
        print(f"{checkpoint!s:>10} {result['seconds']:>8.2f} {result['peak_mib']:>9.0f}")


if __name__ == "__main__":
    main()
