"""Accuracy of every registered model with its default training settings.

    python benchmarks/defaults.py [--data-dir DIR] [--dataset cora] [--depth 16] [--hidden 64]

Prints best validation and test accuracy (at the best-validation epoch), epochs run and
seconds per epoch, for seed 0 on the public split.
"""

from __future__ import annotations

import argparse
import time

from eamp.data import load_dataset
from eamp.models import model_names
from eamp.training import TrainConfig, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--dataset", default="cora")
    parser.add_argument("--depth", type=int, default=16)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="+", default=model_names())
    args = parser.parse_args()
    data = load_dataset(args.dataset, args.data_dir)
    print(f"{args.dataset}, depth {args.depth}, width {args.hidden}, seed {args.seed}")
    print(f"{'model':<15} {'val':>6} {'test':>6} {'epochs':>6} {'ms/epoch':>9} {'wall s':>7}")
    for name in args.models:
        start = time.perf_counter()
        result = train(TrainConfig(name, args.dataset, args.depth, hidden=args.hidden,
                                   seed=args.seed), data, progress=False)
        split = result.splits[0]
        print(f"{name:<15} {result.best_val_acc:>6.3f} {result.test_acc:>6.3f} "
              f"{split['epochs_run']:>6} {result.epoch_time_s * 1e3:>9.1f} "
              f"{time.perf_counter() - start:>7.1f}", flush=True)


if __name__ == "__main__":
    main()
