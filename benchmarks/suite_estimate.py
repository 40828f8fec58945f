"""Extrapolates a study suite's compute from the cells measured in a folder.

    python benchmarks/suite_estimate.py --measured out/entropy-core [--measured-suite
        entropy-core] [--suite entropy] [--data-dir DIR]

Nothing of the target suite is trained: this prints an estimate, with the rule behind each
number. From the measured folder, per (dataset, model): minutes per tuning trial and per
run, divided by the cell's depth (the plan's rows, ``eamp benchmark --plan``: Optuna's trial
durations and the runs' ``wall_time_s``), averaged over the measured depths. A target cell
then costs ``depth x (trials x per-layer trial minutes + runs x per-layer run minutes)``, the
counts from the target suite's plan, with the rate taken from, in order:

1. the same dataset and model, measured;
2. the same model on the measured dataset nearest in per-layer cost (by the log of their
   ratio), times the ratio of ``n * w + m`` (one layer's products at the suite's width w, a
   linear map over n nodes and a propagation over m edges, divided by w);
3. for a backbone never measured (G2), the measured backbone (GCN) by rule 1 or 2, times
   the ratio of their epoch times, timed here on Cora at depth 16 and the suite's width.

The cost of a layer is taken as proportional to depth, trials as fixed in number (pruning
shortens some; the measured mean includes it), and every cell as run on the measured
folder's hardware and threads.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from collections import defaultdict
from pathlib import Path
from statistics import median

from eamp.data import load_dataset
from eamp.experiments.benchmark import BenchmarkConfig
from eamp.experiments.study import STUDY_SUITES, plan_study
from eamp.models.registry import entropic_version
from eamp.training import TrainConfig, train


def _rates(folder: Path, suite: str, data_dir: str | None) -> dict[tuple[str, str], list]:
    """(dataset, model) -> [per-layer minutes per trial, per-layer minutes per run]."""
    cells = {c.name: c for c in STUDY_SUITES[suite].cells}
    found: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for row in plan_study(BenchmarkConfig(suite, data_dir=data_dir), folder):
        if not (row["trials_done"] and row["runs_done"]):
            continue
        cell = cells[row["cell"]]
        found[(cell.dataset, row["model"])].append(
            (row["tune_min"] / row["trials_done"] / cell.depth,
             row["runs_min"] / row["runs_done"] / cell.depth))
    return {key: [sum(t for t, _ in v) / len(v), sum(r for _, r in v) / len(v)]
            for key, v in found.items()}


def _epoch_ratio(model: str, reference: str, width: int, data_dir: str | None) -> float:
    data = load_dataset("cora", data_dir)
    times = {}
    for name in (model, reference):
        config = TrainConfig(name, "cora", 16, hidden=width, epochs=15, patience=15)
        times[name] = median(train(config, data, progress=False).epoch_time_s
                             for _ in range(3))
    return times[model] / times[reference]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measured", required=True, type=Path)
    parser.add_argument("--measured-suite", default="entropy-core")
    parser.add_argument("--suite", default="entropy")
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    suite = STUDY_SUITES[args.suite]
    width = suite.hidden
    rates = _rates(args.measured, args.measured_suite, args.data_dir)
    print("measured per-layer minutes (per trial, per run):")
    for (dataset, model), (trial, run) in sorted(rates.items()):
        print(f"  {dataset:<20} {model:<16} {trial:.3f} {run:.3f}")

    datasets = sorted({c.dataset for c in suite.cells})
    cost = {}
    for name in datasets:
        data = load_dataset(name, args.data_dir)
        cost[name] = data.num_nodes * width + data.num_edges
    measured_sets = sorted({d for d, _ in rates})
    ratios: dict[str, float] = {}
    stand_in = {"g2": "gcn"}

    def rate(dataset: str, model: str) -> tuple[list[float], str]:
        base, factor, note = model, 1.0, ""
        backbone = next((b for b in stand_in if model in (b, entropic_version(b))), None)
        if backbone is not None and not any(m == model for _, m in rates):
            base = model.replace(backbone, stand_in[backbone])
            if model not in ratios:
                ratios[model] = _epoch_ratio(model, base, width, args.data_dir)
            factor, note = ratios[model], f", x {ratios[model]:.2f} (epoch ratio)"
        if (dataset, base) in rates:
            return [factor * x for x in rates[(dataset, base)]], f"{base} measured{note}"
        near = min((d for d in measured_sets if (d, base) in rates),
                   key=lambda d: abs(math.log(cost[d] / cost[dataset])))
        scale = cost[dataset] / cost[near]
        return ([factor * scale * x for x in rates[(near, base)]],
                f"{base} on {near}, x {scale:.2f} (size){note}")

    with tempfile.TemporaryDirectory() as empty:  # the target's plan: nothing done yet
        rows = plan_study(BenchmarkConfig(args.suite, data_dir=args.data_dir), Path(empty))
    cells = {c.name: c for c in suite.cells}
    by_dataset: dict[str, float] = defaultdict(float)
    print(f"\n{args.suite}: per dataset and model, CPU-hours (rule)")
    seen = set()
    for row in rows:
        cell = cells[row["cell"]]
        (trial, run), rule = rate(cell.dataset, row["model"])
        minutes = cell.depth * (row["trials_planned"] * trial + row["runs_planned"] * run)
        by_dataset[cell.dataset] += minutes
        if (cell.dataset, row["model"]) not in seen:
            seen.add((cell.dataset, row["model"]))
            print(f"  {cell.dataset:<20} {row['model']:<16} {rule}")
    print()
    for dataset in datasets:
        print(f"  {dataset:<20} {by_dataset[dataset] / 60:8.1f} h")
    total = sum(by_dataset.values()) / 60
    print(f"  {'whole suite':<20} {total:8.1f} h ({len(rows) // 2} cells, "
          f"{sum(r['trials_planned'] for r in rows)} trials, "
          f"{sum(r['runs_planned'] for r in rows)} runs)")


if __name__ == "__main__":
    main()
