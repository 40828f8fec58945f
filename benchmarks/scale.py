"""One training epoch of a deep entropic GCN on large CSBM graphs: full batch (with and
without activation checkpointing) and Cluster-GCN batches, each case in a fresh process.

    python benchmarks/scale.py [--nodes 100000 1000000 3000000] [--modes full
        full-checkpoint cluster] [--depth 16] [--hidden 64] [--num-parts 64]
        [--parts-per-batch 1] [--memory-limit-gib 22] [--out scale.jsonl] [--device auto]
        [--threads N]
        [--table]

Graphs: :func:`eamp.data.csbm_graph` (3 classes, average degree 10, 128 features), made
undirected and self-loop-free as every dataset. An epoch is what ``eamp train`` does per
epoch: one step on the whole graph, or one step per batch over every part (the partition,
METIS, is made once before training and timed apart). Printed per case: the epoch's wall
time, the process's peak resident set (``ru_maxrss``: the graph, the model and the epoch;
the CUDA peak on a GPU) and the share of the epoch spent in the entropy term (every call
of :meth:`eamp.nn.EntropicConv.entropy_step`, recomputations under checkpointing included).

A case that needs more than ``--memory-limit-gib`` of address space stops with "out of
memory" instead of taking the machine down (``RLIMIT_AS``). Results are appended to
``--out`` as JSON lines; a case already there is not run again (resumable). ``--table``
writes the table to ``results/perf/scale.{csv,md}``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
args = json.loads(sys.argv[1])
limit = int(args["memory_limit_gib"] * 2**30)
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
import torch, torch.nn.functional as F
torch.set_num_threads(args["threads"])
from eamp.data.batching import Batches, partition
from eamp.data import clean_graph, csbm_graph
from eamp.device import resolve_device
from eamp.models import build_model
from eamp.nn import EntropicConv
from eamp.nn.sparse import sparse_features

device = resolve_device(args["device"])
data = clean_graph(csbm_graph(num_nodes=args["nodes"], avg_degree=10, channels=128, seed=0))
data = data.to(device)
spent = [0.0]
inner = EntropicConv.entropy_step
def timed(self, *a, **k):
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = inner(self, *a, **k)
    if device.type == "cuda":
        torch.cuda.synchronize()
    spent[0] += time.perf_counter() - start
    return out
EntropicConv.entropy_step = timed
model = build_model("entropic_gcn", 128, args["hidden"], args["depth"], 3,
                    dropout=0.5).to(device).set_checkpointing(args["mode"] == "full-checkpoint")
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
model.train()
partition_s, cut = 0.0, 0.0
if args["mode"] == "cluster":
    start = time.perf_counter()
    parts = partition(data.edge_index, data.num_nodes, args["num_parts"], "metis")
    batches = Batches(data.edge_index, parts, args["parts_per_batch"])
    partition_s, cut = time.perf_counter() - start, batches.cut_fraction()
    generator = torch.Generator().manual_seed(0)
    steps = ((b.nodes, b.edge_index) for b in batches(generator))
else:
    steps = [(None, data.edge_index)]
if device.type == "cuda":
    torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats()
start = time.perf_counter()
for nodes, edge_index in steps:
    x, y, mask = data.x, data.y, data.train_mask
    if nodes is not None:
        x, y, mask = x[nodes], y[nodes], mask[nodes]
    optimizer.zero_grad()
    F.cross_entropy(model(sparse_features(x), edge_index)[mask], y[mask]).backward()
    optimizer.step()
if device.type == "cuda":
    torch.cuda.synchronize()
epoch = time.perf_counter() - start
peak = (torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)
print(json.dumps({"epoch_s": epoch, "peak_gib": peak, "entropy_share": spent[0] / epoch,
                  "partition_s": partition_s, "cut_fraction": cut,
                  "edges": int(data.edge_index.size(1)), "ran_on": str(device)}))
"""


def _key(case: dict) -> tuple:
    return (case["nodes"], case["mode"], case["depth"], case["hidden"], case["num_parts"],
            case["parts_per_batch"], case["device"], case["threads"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[100_000, 1_000_000, 3_000_000])
    parser.add_argument("--modes", nargs="+", choices=["full", "full-checkpoint", "cluster"],
                        default=["full", "full-checkpoint", "cluster"])
    parser.add_argument("--depth", type=int, default=16)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--num-parts", type=int, default=64)
    parser.add_argument("--parts-per-batch", type=int, default=1)
    parser.add_argument("--memory-limit-gib", type=float, default=22.0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads of each case (default: $EAMP_NUM_THREADS, else every "
                        "core)")
    parser.add_argument("--out", type=Path, default=Path("scale.jsonl"))
    parser.add_argument("--table", action="store_true",
                        help="write the table to results/perf/scale.csv and .md")
    args = parser.parse_args()
    from eamp.runtime import thread_budget

    try:
        args.threads = thread_budget(args.threads)
    except ValueError as error:
        parser.error(str(error))
    table = []
    done = {}
    if args.out.exists():
        for line in args.out.read_text().splitlines():
            row = json.loads(line)
            done[_key(row)] = row
    print(f"entropic GCN, depth {args.depth}, width {args.hidden}; cluster: "
          f"{args.num_parts} METIS parts, {args.parts_per_batch} per batch")
    print(f"{'nodes':>9} {'mode':>16} {'epoch s':>8} {'peak GiB':>9} {'entropy':>8} "
          f"{'METIS s':>8} {'cut':>6}")
    for nodes in args.nodes:
        for mode in args.modes:
            case = {"nodes": nodes, "mode": mode, "depth": args.depth, "hidden": args.hidden,
                    "num_parts": args.num_parts, "parts_per_batch": args.parts_per_batch,
                    "device": args.device, "threads": args.threads,
                    "memory_limit_gib": args.memory_limit_gib}
            row = done.get(_key(case))
            if row is None:
                run = subprocess.run([sys.executable, "-c", CHILD, json.dumps(case)],
                                     capture_output=True, text=True, check=False)
                if run.returncode == 0:
                    row = {**case, **json.loads(run.stdout.strip().splitlines()[-1])}
                else:
                    tail = (run.stderr.strip().splitlines() or ["killed"])[-1]
                    failure = ("out of memory" if "MemoryError" in tail
                               or "not enough memory" in tail or "alloc" in tail.lower()
                               or run.returncode < 0 else tail)
                    row = {**case, "failed": failure}
                with args.out.open("a") as handle:
                    handle.write(json.dumps(row) + "\n")
            if "failed" in row:
                print(f"{nodes:>9} {mode:>16} failed: {row['failed']} (limit "
                      f"{row['memory_limit_gib']:.0f} GiB)")
                table.append([f"{nodes:.0e}", mode, row["failed"], "", "", "", ""])
                continue
            table.append([f"{nodes:.0e}", mode, f"{row['epoch_s']:.1f}",
                          f"{row['peak_gib']:.2f}", f"{row['entropy_share']:.1%}",
                          f"{row['partition_s']:.1f}" if mode == "cluster" else "",
                          f"{row['cut_fraction']:.1%}" if mode == "cluster" else ""])
            metis = f"{row['partition_s']:>8.1f}" if mode == "cluster" else f"{'':>8}"
            cut = f"{row['cut_fraction']:>6.3f}" if mode == "cluster" else f"{'':>6}"
            print(f"{nodes:>9} {mode:>16} {row['epoch_s']:>8.1f} {row['peak_gib']:>9.2f} "
                  f"{row['entropy_share']:>8.1%} {metis} {cut}", flush=True)
    if args.table:
        import _perf

        _perf.write_table(
            "scale", f"One training epoch of entropic GCN (depth {args.depth}, width "
            f"{args.hidden}) on CSBM graphs", ["nodes", "mode", "epoch s", "peak GiB",
                                               "entropy share", "METIS s", "edges cut"],
            table, notes=(f"cluster: {args.num_parts} METIS parts, {args.parts_per_batch} "
                          f"per batch; a case is stopped at {args.memory_limit_gib:g} GiB of "
                          "address space; peak: the process's peak resident set.",),
            threads=args.threads)


if __name__ == "__main__":
    main()
