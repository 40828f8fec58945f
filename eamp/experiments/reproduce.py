"""``eamp reproduce``: the paper's Figure 2, Table 1 and Figure 3, resumably, and a report.

Every training run is stored as its own ``result.json`` under ``DIR/runs/<protocol>/<dataset>/
<model>/depth<L>/seed<s>/``; a rerun skips the runs already there (``force`` redoes them),
and a run in flight keeps its training state beside it (``state.pt``, saved every
:data:`STATE_EVERY_S` seconds), so an interrupted reproduction loses at most the last minute
of each run in flight: the same command continues them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from eamp.data import DatasetUnavailable, load_dataset
from eamp.experiments.depth import (
    TABLE1_COLUMNS,
    layer_energy_rows,
    plan_runs,
    table1_rows,
)
from eamp.experiments.oversmoothing import ENERGY_COLUMNS, OversmoothingConfig, oversmoothing_rows
from eamp.experiments.plan import DATASETS, Plan, ReproduceConfig, Reproduction
from eamp.experiments.report import plot_layer_energy, plot_oversmoothing
from eamp.io import read_csv, write_csv, write_json_atomic
from eamp.models import reproduction_models
from eamp.runs.store import run_all, stored_result
from eamp.training.result import run_hardware, run_versions

__all__ = ["ReproduceConfig", "reproduce", "Plan"]

def reproduce(config: ReproduceConfig, out: Path) -> Path:
    """Runs what is not done yet and writes every figure, table and ``report.md``."""
    plan = Plan.of(config)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    tuned = _read_tuned(Path(config.tuned)) if config.tuned else None
    grid = OversmoothingConfig(layers=plan.grid_layers, seeds=plan.grid_seeds,
                               device=config.device)
    grid_rows = _grid_rows(grid, out, force=config.force)
    plot_oversmoothing(grid_rows, out / "oversmoothing.png")
    _log(f"figure 2: {len(grid_rows)} energies of {grid.layers}-layer grid models")

    available, skipped = [], {}
    for dataset in DATASETS:
        try:
            load_dataset(dataset, config.data_dir)
            available.append(dataset)
        except DatasetUnavailable as error:
            skipped[dataset] = str(error)
            _log(f"skipping {dataset}: {error}")

    runs = plan_runs(datasets=tuple(available), models=reproduction_models(), depths=plan.depths,
                     protocols=plan.protocols, seeds=plan.seeds, hidden=plan.hidden,
                     epochs=plan.epochs, data_dir=config.data_dir, tuned=tuned,
                     device=config.device, precision=config.precision)
    tally = run_all(runs, out, workers=config.workers, force=config.force,
                    executor=config.executor, wait=config.wait) if config.train else None
    # the runs another process still trains (not waited for) are left out of this report
    results = [(spec, result) for spec in runs if (result := stored_result(
        spec, out / spec.relpath, quiet=True)) is not None]

    table = table1_rows(results)
    write_csv(out / "table1.csv", table, TABLE1_COLUMNS)
    figure3_protocol = "paper" if "paper" in plan.protocols else plan.protocols[0]
    energy_rows = layer_energy_rows(results, dataset="cora", depth=plan.figure3_depth,
                                    protocol=figure3_protocol)
    write_csv(out / "layer_energy.csv", energy_rows, ENERGY_COLUMNS)
    if energy_rows:
        plot_layer_energy(energy_rows, out / "layer_energy.png",
                          f"Energy of each layer, {plan.figure3_depth}-layer models trained "
                          f"on Cora ({figure3_protocol} protocol)")
    from eamp.experiments.writeup import write_report

    report = write_report(out, Reproduction(
        plan=plan, config=config, grid_rows=grid_rows, table=table, energy_rows=energy_rows,
        figure3_protocol=figure3_protocol, done_runs=len(results), total_runs=len(runs),
        versions=run_versions([result for _, result in results]),
        hardware=run_hardware([result for _, result in results]), skipped=skipped))
    done = f"{tally.summary()}; " if tally is not None else ""
    _log(f"{done}{time.perf_counter() - started:.0f} s; report: {report}")
    return report


def _grid_rows(grid: OversmoothingConfig, out: Path, *, force: bool) -> list[dict]:
    """Figure 2's rows: reused from ``oversmoothing.csv`` only when ``oversmoothing.json``
    beside it records the same grid settings and the CSV is complete; else recomputed."""
    csv_path, key_path = out / "oversmoothing.csv", out / "oversmoothing.json"
    key = json.loads(json.dumps({"config": grid.key()}))  # as it reads back from JSON
    if not force and csv_path.exists():
        expected = grid.seeds * len(grid.models) * (grid.layers + 1)
        try:
            same = json.loads(key_path.read_text()) == key
            rows = [{"model": r["model"], "seed": int(r["seed"]), "layer": int(r["layer"]),
                     "energy": float(r["energy"])} for r in read_csv(csv_path)]
            reason = ("made with other settings" if not same else
                      f"incomplete ({len(rows)} of {expected} rows)")
        except (OSError, ValueError, KeyError, TypeError) as error:
            same, rows, reason = False, [], f"unreadable ({error})"
        if same and len(rows) == expected:
            return rows
        _log(f"figure 2: recomputing {csv_path.name}: the stored one is {reason}")
    rows = oversmoothing_rows(grid)
    write_csv(csv_path, rows, ENERGY_COLUMNS)
    write_json_atomic(key_path, key)
    return rows


def _read_tuned(folder: Path) -> dict[tuple[str, str], dict[str, Any]]:
    if not folder.is_dir():
        raise ValueError(f"tuned: no best.json under {folder} (no such folder)")
    tuned = {}
    for path in sorted(folder.rglob("best.json")):
        try:
            payload = json.loads(path.read_text())
            config = payload["config"]
            tuned[(config["dataset"], config["model"])] = config
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ValueError(f"tuned: {path} is not a best.json of eamp tune with a config "
                             f"({type(error).__name__}: {error})") from None
    if not tuned:
        raise ValueError(f"tuned: no best.json under {folder}")
    return tuned


def _log(message: str) -> None:
    print(message, flush=True)
