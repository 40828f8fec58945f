"""What every benchmark shares: the machine it ran on, a comparison with another revision of
eamp, and the results files under ``results/perf/``.

A benchmark defines ``measure(args) -> dict[str, float]`` (a number per key, e.g.
milliseconds per setting) and calls :func:`run`. With ``--before REV`` the same measurement
also runs with eamp as it is at git revision ``REV`` (a temporary ``git worktree``): the
two alternate in child processes, round by round, so that both see the machine's
conditions; each number is the median over rounds. ``--out`` writes
``results/perf/<name>.csv`` (one row per key: the number, before and after, and the machine),
``<name>.json`` (the title, the command that measured it, the notes) and ``<name>.md``, the
table the documentation includes, made from the other two by :func:`render`;
``python benchmarks/_perf.py`` rewrites every ``.md`` from them.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results" / "perf"


def machine() -> dict[str, str]:
    """The CPU model, its capability as PyTorch sees it, the thread count and versions."""
    import torch

    from eamp.device import device_name
    from eamp.training.result import versions

    found = versions()
    return {"cpu": device_name(torch.device("cpu")),
            "capability": torch.backends.cpu.get_cpu_capability(),
            "threads": str(torch.get_num_threads()), "torch": found["torch"],
            "torch_geometric": found["torch_geometric"], "eamp": found["eamp"],
            "python": found["python"]}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--before", metavar="REV",
                        help="also measure eamp at git revision REV, alternating with this "
                        "checkout round by round")
    parser.add_argument("--rounds", type=int, default=3,
                        help="with --before: alternations of the two (default 3)")
    parser.add_argument("--out", action="store_true",
                        help="write results/perf/NAME.csv and NAME.md")
    parser.add_argument("--name", help="the results files' name (default: the benchmark's)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)


@contextlib.contextmanager
def worktree(revision: str) -> Iterator[Path]:
    """A checkout of ``revision`` in a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "eamp"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(path),
                        revision], check=True)
        try:
            yield path
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(path)], check=False)


def _child(source: Path, argv: list[str]) -> dict[str, float]:
    """One measurement in a fresh process importing eamp from ``source``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(source), *filter(None, [os.environ.get("PYTHONPATH")])])}
    out = subprocess.run([sys.executable, sys.argv[0], *argv, "--child"], env=env,
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"the measurement with eamp from {source} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(name: str, title: str, measure: Callable[[argparse.Namespace], dict[str, float]],
        args: argparse.Namespace, argv: list[str], unit: str = "ms",
        notes: tuple[str, ...] = ()) -> dict[str, dict[str, float]]:
    """Measures (and with ``--before``, compares), prints a table and, with ``--out``,
    writes it. ``argv``: the arguments that repeat the measurement in a child process.
    Returns ``{"after": {...}, "before": {...}}``."""
    if args.child:
        print(json.dumps(measure(args)))
        sys.exit(0)
    columns: dict[str, dict[str, float]] = {}
    if args.before is None:
        columns["after"] = measure(args)
    else:
        known = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet",
                                f"{args.before}^{{commit}}"], capture_output=True)
        if known.returncode != 0:
            print(f"{Path(sys.argv[0]).name}: error: --before: expected a git revision of "
                  f"{ROOT}, got {args.before!r}", file=sys.stderr)
            sys.exit(2)
        rounds: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
        with worktree(args.before) as old:
            for _ in range(args.rounds):
                rounds["before"].append(_child(old, argv))
                rounds["after"].append(_child(ROOT, argv))
        for column, measured in rounds.items():
            columns[column] = {key: statistics.median(m[key] for m in measured if key in m)
                               for key in measured[-1]}
    keys = list(columns["after"])
    header = ["key", "after"] + (["before", "after/before"] if "before" in columns else [])
    rows = []
    for key in keys:
        row = [key, f"{columns['after'][key]:.4g}"]
        if "before" in columns:
            before = columns["before"].get(key)
            row += (["", ""] if before is None else
                    [f"{before:.4g}", f"{columns['after'][key] / before:.3f}"])
        rows.append(row)
    compared = (f"before: eamp at git revision {args.before}, alternating with this checkout "
                f"over {args.rounds} rounds (medians)" if args.before else "")
    write_table(args.name or name, title, header, rows, unit=unit, notes=notes,
                about=compared, out=args.out)
    return columns


FACTS = ("cpu", "capability", "threads", "torch", "torch_geometric", "eamp", "python")


def _where(facts: dict[str, str]) -> str:
    threads = int(facts["threads"])
    return (f"{facts['cpu']} ({facts['capability']}), {threads} "
            f"thread{'' if threads == 1 else 's'}; torch {facts['torch']}, torch_geometric "
            f"{facts['torch_geometric']}, eamp {facts['eamp']}, python {facts['python']}")


def write_table(name: str, title: str, header: list[str], rows: list[list[str]], *,
                unit: str = "", notes: tuple[str, ...] = (), about: str = "",
                out: bool = True, threads: int | None = None) -> None:
    """Prints a table with the machine it was measured on (``threads``: those of the
    measurement, when not this process's) and, with ``out``, writes it to
    ``results/perf/<name>.csv`` (the machine in every row), ``<name>.json`` (the title, the
    command and the notes) and ``<name>.md``, which :func:`render` makes from those two."""
    facts = machine()
    if threads is not None:
        facts["threads"] = str(threads)
    said = "; ".join(filter(None, [_where(facts), about, unit and f"unit: {unit}"]))
    print(f"{title}\n{said}")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(f"{c:<{w}}" if i == 0 else f"{c:>{w}}"
                        for i, (c, w) in enumerate(zip(row, widths, strict=True))))
    for note in notes:
        print(note)
    if not out:
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / f"{name}.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header + list(FACTS))
        for row in rows:
            writer.writerow([str(cell) for cell in row] + [facts[key] for key in FACTS])
    argv = [("DIR" if before == "--data-dir" else word)
            for before, word in zip(["", *sys.argv[1:]], sys.argv[1:], strict=False)]
    command = "python " + " ".join([f"benchmarks/{Path(sys.argv[0]).name}", *argv])
    about_table = {"title": title, "command": command, "about": about, "unit": unit,
                   "notes": list(notes)}
    (RESULTS / f"{name}.json").write_text(json.dumps(about_table, indent=1) + "\n")
    (RESULTS / f"{name}.md").write_text(render(name))
    print(f"written: {RESULTS / name}.csv, .json, .md")


def render(name: str, folder: Path = RESULTS) -> str:
    """``<name>.md``: the table of ``<name>.csv`` under the title, command and notes of
    ``<name>.json``, with the machine the csv names."""
    from eamp.experiments.report import markdown_table

    about = json.loads((folder / f"{name}.json").read_text())
    with open(folder / f"{name}.csv", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    if tuple(header[-len(FACTS):]) != FACTS:
        raise ValueError(f"{folder / name}.csv: expected its last columns to be {FACTS}")
    columns = header[:-len(FACTS)]
    facts = dict(zip(FACTS, rows[0][-len(FACTS):], strict=True))
    said = "; ".join(filter(None, [_where(facts), about["about"],
                                   about["unit"] and f"unit: {about['unit']}"]))
    table = markdown_table([dict(zip(columns, row, strict=False)) for row in rows], columns)
    lines = [f"**{about['title']}**", "", f"`{about['command']}`", "", f"{said}.", "", table]
    lines += ["", *about["notes"]] if about["notes"] else []
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    # python benchmarks/_perf.py: rewrites every results/perf/<name>.md from its csv and json
    for found in sorted(RESULTS.glob("*.json")):
        (RESULTS / f"{found.stem}.md").write_text(render(found.stem))
        print(f"written: {RESULTS / found.stem}.md")
