"""Time and peak memory of `entropy_gradient` against one `A @ x` and a naive edge gather.

Random graphs with average degree 10 and d = 64, float32, on the CPU. `A @ x` is the faster
of `adj @ x` and `torch.sparse.mm(adj, x, "sum")` on a CSR adjacency (which wins depends on
the CPU):

    python benchmarks/entropy_gradient.py [--sizes 10000 100000 1000000] [--repeats 7]
        [--threads N] [--memory] [--before REV] [--out]

With ``--memory``, peak memory is measured in a fresh subprocess per (size, method): the
kernel's peak resident set (VmHWM) is reset once the graph and features are in memory, and
read after one call. ``--before REV`` and ``--out``: see ``benchmarks/_perf.py``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import _perf
import torch
from torch_geometric.utils import to_undirected

from eamp.entropy import entropy_gradient, prepare_graph

METHODS = ("entropy_gradient", "A @ x", "edge gather")


def naive_gradient(x: torch.Tensor, edge_index: torch.Tensor, t: float) -> torch.Tensor:
    """The original implementation's shape: every [E, d] difference gathered at once."""
    src, dst = edge_index
    n, d = x.shape
    deg = torch.bincount(dst, minlength=n).to(x.dtype)
    c = torch.where(deg > 0, (deg * d).clamp_min(1).rsqrt(), torch.zeros_like(deg))
    diff = x[dst] - x[src]  # [E, d]
    energy = 0.5 * c * torch.zeros(n, dtype=x.dtype).index_add_(0, dst, diff.pow(2).sum(-1))
    q = c * torch.exp(-energy / t) * (1 - energy / t)
    weight = (q[dst] + q[src]).unsqueeze(-1)
    return torch.zeros_like(x).index_add_(0, dst, weight * diff) / t


def make_graph(n: int, degree: int = 10, d: int = 64, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(0, n, (2, n * degree // 2), generator=gen)
    edge_index = to_undirected(edge_index, num_nodes=n)
    x = torch.randn(n, d, generator=gen)
    return x, edge_index


def methods(n: int) -> tuple[dict, int]:
    x, edge_index = make_graph(n)
    graph = prepare_graph(edge_index, n)
    adj = graph.adjacency(x.dtype, x.device)
    fns = {
        "entropy_gradient": lambda: entropy_gradient(x, graph, 1.0),
        "A @ x": lambda: adj @ x,
        # PyTorch's other CPU kernel for it, written for PyG; which one is faster depends on
        # the CPU, and the baseline is the faster of the two
        "sparse.mm": lambda: torch.sparse.mm(adj, x, "sum"),
        "edge gather": lambda: naive_gradient(x, graph.edge_index, 1.0),
    }
    return fns, graph.num_edges


def time_all(n: int, repeats: int) -> dict:
    """Median seconds of each method, the methods interleaved round by round so that they
    share the machine's conditions (timings on a shared VM drift by 2x)."""
    fns, edges = methods(n)
    times: dict[str, list[float]] = {m: [] for m in fns}
    for fn in fns.values():
        fn()  # warm-up: caches the CSR adjacency
    for _ in range(repeats):
        for method, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[method].append(time.perf_counter() - start)
    seconds = {m: statistics.median(t) for m, t in times.items()}
    seconds["A @ x"] = min(seconds["A @ x"], seconds.pop("sparse.mm"))
    return {"seconds": seconds, "edges": edges}


def peak_memory(n: int, method: str) -> float:
    """MB the resident set grows by during one call, graph and features already loaded."""
    fns, _ = methods(n)
    fn = fns[method]
    base = _reset_peak_rss()
    fn()
    return (_peak_rss() - base) / 2**20


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak_rss() -> int:
    """Resets the peak resident set to the current one (Linux) and returns it."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    return _status_bytes("VmRSS")


def _peak_rss() -> int:
    return _status_bytes("VmHWM")


def child(*args: str) -> dict | float:
    out = subprocess.run([sys.executable, __file__, "--memory-child", *args],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(args: argparse.Namespace) -> dict[str, float]:
    """Median milliseconds of each method, ``grad/Ax`` and ``gather/grad`` per size (and with
    ``--memory`` the peak MB of each method)."""
    torch.set_num_threads(args.threads)
    numbers: dict[str, float] = {}
    for n in args.sizes:
        timed = time_all(n, args.repeats)
        secs = timed["seconds"]
        for m in METHODS:
            numbers[f"n={n} {m} ms"] = secs[m] * 1e3
        numbers[f"n={n} entropy_gradient / A@x"] = secs["entropy_gradient"] / secs["A @ x"]
        numbers[f"n={n} edge gather / entropy_gradient"] = (secs["edge gather"]
                                                           / secs["entropy_gradient"])
        if args.memory:
            for m in METHODS:
                numbers[f"n={n} {m} peak MB"] = child(str(n), m)
    return numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--memory", action="store_true",
                        help="also the peak memory of each method (a process per method)")
    parser.add_argument("--memory-child", nargs=2, help=argparse.SUPPRESS)
    _perf.add_arguments(parser)
    args = parser.parse_args()
    if args.memory_child:
        n, method = args.memory_child
        print(json.dumps(peak_memory(int(n), method)))
        return
    argv = ["--sizes", *map(str, args.sizes), "--repeats", str(args.repeats),
            "--threads", str(args.threads)] + (["--memory"] if args.memory else [])
    _perf.run("entropy_gradient",
              f"entropy_gradient against one A @ x (random graphs, average degree 10, d = 64, "
              f"float32); median of {args.repeats} interleaved rounds",
              measure, args, argv, unit="ms, ratios, MB")


if __name__ == "__main__":
    main()
