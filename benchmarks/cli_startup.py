"""Cold-start time of the command line: ``--help``, ``--version``, ``datasets`` without data,
and two argument errors, each run ``--repeats`` times in a fresh process; prints the median.

    python benchmarks/cli_startup.py [--repeats 5]

The target is under 0.5 s each: none of these imports PyTorch.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time

CASES = {
    "eamp --help": ["--help"],
    "eamp --version": ["--version"],
    "eamp datasets (no data)": ["datasets", "--data-dir", "{empty}"],
    "eamp train --model nope": ["train", "--model", "nope", "--dataset", "cora", "--depth",
                                "2", "--out", "{empty}/out"],
    "eamp train --depth 0": ["train", "--model", "gcn", "--dataset", "cora", "--depth", "0",
                             "--out", "{empty}/out"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"{'command':<28} {'median s':>9} {'min s':>7} {'max s':>7}  imports torch")
    with tempfile.TemporaryDirectory() as empty:
        for label, argv in CASES.items():
            argv = [a.format(empty=empty) for a in argv]
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                subprocess.run([sys.executable, "-m", "eamp.cli", *argv],
                               capture_output=True, check=False)
                times.append(time.perf_counter() - start)
            probe = subprocess.run(
                [sys.executable, "-c", "import sys\nfrom eamp.cli import main\ntry:\n"
                 f"    main({argv!r})\nexcept SystemExit:\n    pass\n"
                 "print('torch' in sys.modules)"],
                capture_output=True, text=True, check=False)
            print(f"{label:<28} {statistics.median(times):>9.3f} {min(times):>7.3f} "
                  f"{max(times):>7.3f}  {probe.stdout.strip().splitlines()[-1]}")


if __name__ == "__main__":
    main()
