"""Test accuracy in 32-bit and bf16-mixed precision, mean and std over seeds, per model.

    python benchmarks/precision_accuracy.py --out DIR [--data-dir DIR] [--seeds 10]
        [--depth 16] [--hidden 256] [--models gcn entropic_gcn gcnii g2] [--device auto]
        [--table]

Each run is `eamp.training.train` with the model's default training settings on Cora's public split
and is stored as DIR/<model>/<precision>/seed<s>.json, so the script resumes where it
stopped; runs of the two precisions alternate seed by seed. It prints, per model, both
means and stds, their difference, and whether bf16-mixed lies within one std of 32-bit;
``--table`` writes that to ``results/perf/precision_accuracy.{csv,md}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import _perf

from eamp.data import load_dataset
from eamp.training import TrainConfig, train

PRECISIONS = ("32", "bf16-mixed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--data-dir")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--depth", type=int, default=16)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--models", nargs="+", default=["gcn", "entropic_gcn", "gcnii", "g2"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--table", action="store_true",
                        help="write results/perf/precision_accuracy.csv and .md")
    args = parser.parse_args()
    table = []

    out = Path(args.out)
    data = load_dataset("cora", args.data_dir)
    for seed in range(args.seeds):
        for model in args.models:
            for precision in PRECISIONS:
                path = out / model / precision / f"seed{seed}.json"
                if path.exists():
                    continue
                config = TrainConfig(model, "cora", args.depth, hidden=args.hidden, seed=seed,
                                     device=args.device, precision=precision)
                result = train(config, data, progress=False)
                path.parent.mkdir(parents=True, exist_ok=True)
                result.to_json(path)
                print(f"{model} {precision} seed {seed}: test {result.test_acc:.3f} "
                      f"({result.epoch_time_s * 1e3:.0f} ms/epoch)", flush=True)
    print(f"Cora, depth {args.depth}, width {args.hidden}, seeds 0-{args.seeds - 1}; test "
          f"accuracy at the best-validation epoch")
    print(f"{'model':<13} {'32':>15} {'bf16-mixed':>15} {'diff':>7}  within 1 std")
    for model in args.models:
        accs = {p: [json.loads(f.read_text())["test_acc"]
                    for f in sorted((out / model / p).glob("seed*.json"))] for p in PRECISIONS}
        if min(len(a) for a in accs.values()) < 2:
            continue
        mean = {p: statistics.mean(a) for p, a in accs.items()}
        std = {p: statistics.stdev(a) for p, a in accs.items()}
        diff = mean["bf16-mixed"] - mean["32"]
        print(f"{model:<13} {mean['32']:.3f} ± {std['32']:.3f} {mean['bf16-mixed']:>7.3f} ± "
              f"{std['bf16-mixed']:.3f} {diff:>+7.3f}  {abs(diff) <= std['32']}")
        table.append([model, f"{mean['32']:.3f} ± {std['32']:.3f}",
                      f"{mean['bf16-mixed']:.3f} ± {std['bf16-mixed']:.3f}", f"{diff:+.3f}",
                      "yes" if abs(diff) <= std["32"] else "no", str(len(accs["32"]))])
    if args.table:
        _perf.write_table(
            "precision_accuracy", f"Test accuracy in 32-bit and bf16-mixed (Cora, depth "
            f"{args.depth}, width {args.hidden}, each model's default settings)",
            ["model", "32", "bf16-mixed", "difference", "within one std of 32", "seeds"], table,
            notes=("Mean ± std over seeds of the test accuracy at the best-validation epoch.",))


if __name__ == "__main__":
    main()
