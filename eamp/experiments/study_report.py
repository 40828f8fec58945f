"""The report of an entropy study (:mod:`eamp.experiments.study`): its table
(``study.csv``, ``report.md``), the layer-wise measures (``layers.csv``) and the figures."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from eamp.data.catalog import dataset_metric
from eamp.experiments.report import color, label, pyplot, signed
from eamp.experiments.study_suites import StudyCell, StudySuite
from eamp.models.registry import entropic_version
from eamp.runs.store import cached_dataset

__all__ = ["COLUMNS", "ENTROPY_OFF", "LAYER_COLUMNS", "chance", "layer_rows", "paired_interval",
           "plot_depth", "plot_layers", "report_text", "scores", "verdict"]


# the row of the ablation: the tuned entropic model against itself without the entropy term
ENTROPY_OFF = "entropy term (tuned entropic, against it with lambda = 0)"

COLUMNS = ("dataset", "depth", "backbone", "variant", "metric", "n", "base_mean", "base_std",
           "entropic_mean", "entropic_std", "difference", "ci_low", "ci_high", "verdict",
           "base_energy", "entropic_energy", "base_mad", "entropic_mad", "base_erank",
           "entropic_erank", "tune_min", "runs_min", "chance")


# a base model within this many points of the one-class score is called collapsed
COLLAPSED = 2.0

LAYER_COLUMNS = ("dataset", "depth", "backbone", "model", "layer", "n", "energy", "mad",
                 "effective_rank")
_LAYER_KEYS = {"energy": "layer_energy", "mad": "layer_mad",
               "effective_rank": "layer_effective_rank"}


def layer_rows(cell: StudyCell, runs: dict[str, list[dict[str, Any]]]
               ) -> list[dict[str, Any]]:
    """Tidy rows of the layer-wise measures of each model of a cell, mean over its stored
    results ``runs`` (layer 0: the input features)."""
    rows = []
    for model, stored in runs.items():
        results = [r for r in stored if all(r.get(key) for key in _LAYER_KEYS.values())]
        if not results:
            continue
        for layer in range(min(len(r["layer_energy"]) for r in results)):
            row = {"dataset": cell.dataset, "depth": cell.depth, "backbone": cell.backbone,
                   "model": model, "layer": layer, "n": len(results)}
            for name, key in _LAYER_KEYS.items():
                row[name] = sum(r[key][layer] for r in results) / len(results)
            rows.append(row)
    return rows


def plot_layers(layers: list[dict[str, Any]], out: Path) -> None:
    """Per cell, energy, MAD and effective rank against the layer, base and entropic."""
    plt = pyplot()
    cells = dict.fromkeys((r["dataset"], r["depth"], r["backbone"]) for r in layers)
    for dataset, depth, backbone in cells:
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
        mine = [r for r in layers if (r["dataset"], r["depth"], r["backbone"])
                == (dataset, depth, backbone)]
        for model in dict.fromkeys(r["model"] for r in mine):
            curve = [r for r in mine if r["model"] == model]
            for ax, name in zip(axes, _LAYER_KEYS, strict=True):
                ax.plot([r["layer"] for r in curve], [r[name] for r in curve],
                        label=label(model), color=color(model),
                        ls="-" if model == backbone else "--")
        for ax, name in zip(axes, ("Dirichlet energy", "MAD", "effective rank"),
                            strict=True):
            ax.set_xlabel("layer")
            ax.set_title(name)
            ax.grid(True, alpha=0.3)
        axes[0].set_yscale("symlog", linthresh=1e-6)
        axes[0].legend(fontsize=8)
        fig.suptitle(f"{dataset}, {depth} layers: {backbone} vs entropic (mean over runs)")
        fig.tight_layout()
        fig.savefig(out / f"layers_{dataset}_L{depth}_{backbone}.png", dpi=110)
        plt.close(fig)


def scores(results: list[dict[str, Any]]) -> tuple[list[float], dict[str, float]]:
    """The test scores (x 100) of stored ``results`` and their mean last-layer measures."""
    last = {key: sum(r[key][-1] for r in results if r.get(key)) / len(results)
            for key in ("layer_energy", "layer_mad", "layer_effective_rank")}
    return [100 * r["test_score"] for r in results], last


def chance(specs: list[Any]) -> float:
    """The best test score of a model that predicts one class for every node, mean over the
    runs' splits: the largest class's share of the test nodes (accuracy, %), or 50 (ROC AUC
    of a constant score). A deep model that collapsed scores about this."""
    from eamp.data.loading import split_masks

    config = specs[0].config
    if dataset_metric(config.dataset) == "roc_auc":
        return 50.0
    shares = []
    for spec in specs:
        c = spec.config
        data = cached_dataset(c.dataset, c.data_dir, c.split, c.normalize_features, c.graph)
        _, _, test = split_masks(data, int(c.split_index))
        shares.append(100 * data.y[test].bincount().max().item() / int(test.sum()))
    return sum(shares) / len(shares)


def verdict(low: float, high: float) -> str:
    if math.isnan(low):
        return "too few runs"
    if low > 0:
        return "helps"
    if high < 0:
        return "hurts"
    return "no difference"


def paired_interval(a: list[float], b: list[float]) -> tuple[float, float, float]:
    """Mean of the paired differences ``b - a`` and its 95% t-interval (NaN bounds for
    fewer than two pairs)."""
    from scipy import stats

    diffs = [y - x for x, y in zip(a, b, strict=True)]
    n = len(diffs)
    mean = sum(diffs) / n
    if n < 2:
        return mean, math.nan, math.nan
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    half = float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def plot_depth(rows: list[dict[str, Any]], out: Path) -> None:
    """Accuracy (or ROC AUC) against depth per dataset: base and entropic, mean ± std."""
    plt = pyplot()
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        tuned = [r for r in rows if r["dataset"] == dataset and r["variant"] == "tuned"
                 and r["n"]]
        if not tuned:
            continue
        fig, ax = plt.subplots(figsize=(6, 4))
        for backbone in dict.fromkeys(r["backbone"] for r in tuned):
            cells = sorted((r for r in tuned if r["backbone"] == backbone),
                           key=lambda r: r["depth"])
            depths = [r["depth"] for r in cells]
            for side, model in (("base", backbone), ("entropic", entropic_version(backbone))):
                means = [r[f"{side}_mean"] for r in cells]
                stds = [0.0 if math.isnan(r[f"{side}_std"]) else r[f"{side}_std"]
                        for r in cells]
                ax.plot(depths, means, marker="o", label=label(model), color=color(model),
                        ls="-" if side == "base" else "--")
                ax.fill_between(depths, [m - s for m, s in zip(means, stds, strict=True)],
                                [m + s for m, s in zip(means, stds, strict=True)],
                                color=color(model), alpha=0.15)
        ax.axhline(sum(r["chance"] for r in tuned) / len(tuned), color="grey", ls=":",
                   label="one class for every node")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("depth (message-passing layers)")
        ax.set_ylabel(f"test {dataset_metric(dataset)} (%)")
        ax.set_title(f"{dataset}: base vs entropic, mean ± std")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / f"depth_{dataset}.png", dpi=120)
        plt.close(fig)


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def report_text(name: str, suite: StudySuite, rows: list[dict[str, Any]],
                trained: str = "") -> str:
    """``report.md`` of the study ``name`` from its ``rows``; ``trained``: what the runs were
    trained with and on (versions and hardware)."""
    ran = [r for r in rows if r["n"]]
    if suite.preset is None:
        how = (f"Each model of a cell tuned with {suite.trials} trials on validation (width "
               f"{suite.hidden}), then its best configuration")
    else:
        how = (f"The backbone with preset `{suite.preset}` as published (untuned); its "
               f"entropic version with the same settings and its entropy parameters tuned "
               f"with {suite.trials} trials on validation; then both")
    lines = [f"# Entropy ascent on deep backbones: suite `{name}`", "",
             f"{how} on {suite.count} seeds or fixed "
             f"splits, scored on test (accuracy %, ROC AUC x 100 on minesweeper and "
             f"tolokers). Difference: entropic minus base, paired by seed or split, with its "
             f"95% t-interval. One class: the best test score of predicting one class for every "
             f"node (the largest class's share of the test nodes; 50 for ROC AUC), mean over "
             f"the runs' splits. Energy, MAD and effective rank: of the last hidden state, "
             f"mean over the runs. Built from the studies under `tune/` and the runs under "
             f"`runs/` beside this file; `eamp benchmark --suite {name} --out <this folder> "
             f"--report` rebuilds it from them."
             + (f" The runs were trained with {trained}." if trained else ""), ""]
    if suite.epochs is not None:
        lines += [f"**Quick suite: every run capped at {suite.epochs} epochs; not a "
                  "result.**", ""]
    lines += ["| cell | variant | n | base | entropic | one class | difference [95% CI] | "
              "verdict | energy base / ent. | MAD base / ent. | eff. rank base / ent. | "
              "compute min (tune + runs) |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cell = f"{r['dataset']} L{r['depth']} {r['backbone']}"
        if not r["n"]:
            lines.append(f"| {cell} | {r['variant']} | 0 | | | | | not run | | | | |")
            continue
        lines.append(
            f"| {cell} | {r['variant']} | {r['n']} | {_fmt(r['base_mean'])} ± "
            f"{_fmt(r['base_std'])} | {_fmt(r['entropic_mean'])} ± {_fmt(r['entropic_std'])} "
            f"| {_fmt(r['chance'])} | {signed(r['difference'])} [{_fmt(r['ci_low'])}, "
            f"{_fmt(r['ci_high'])}] | "
            f"{r['verdict']} | {r['base_energy']:.2e} / {r['entropic_energy']:.2e} | "
            f"{r['base_mad']:.3f} / {r['entropic_mad']:.3f} | {r['base_erank']:.1f} / "
            f"{r['entropic_erank']:.1f} | {r['tune_min']:.0f} + {r['runs_min']:.0f} |")
    lines += ["", "## In plain words", ""]
    for verdict, words in (("helps", "Entropy ascent helps (interval above zero)"),
                           ("hurts", "It hurts (interval below zero)"),
                           ("no difference", "It makes no measurable difference")):
        cells = [f"{r['dataset']} L{r['depth']} {r['backbone']} ({r['variant']}, "
                 f"{signed(r['difference'])})" for r in ran if r["verdict"] == verdict]
        lines.append(f"- {words}: {'; '.join(cells) if cells else 'nowhere'}.")
    collapsed = [f"{r['dataset']} L{r['depth']} {r['backbone']} (base {_fmt(r['base_mean'])}, "
                 f"entropic {_fmt(r['entropic_mean'])}, one class {_fmt(r['chance'])})"
                 for r in ran if r["variant"] == "tuned"
                 and r["base_mean"] <= r["chance"] + COLLAPSED]
    lines.append(f"- The base model scores no more than {COLLAPSED:g} points above predicting "
                 f"one class for every node (it collapsed; a gain there is measured against "
                 f"a chance-level model): {'; '.join(collapsed) if collapsed else 'nowhere'}.")
    not_run = [f"{r['dataset']} L{r['depth']} {r['backbone']}" for r in rows if not r["n"]]
    if not_run:
        lines.append(f"- Not run in this output folder: {'; '.join(not_run)}.")
    if ran:
        tune = sum(r["tune_min"] for r in ran)
        runs = sum(r["runs_min"] for r in ran)
        lines += ["", f"Compute stored in this folder: {(tune + runs) / 60:.1f} h "
                  f"({tune / 60:.1f} h of tuning trials, {runs / 60:.1f} h of runs) for "
                  f"{len({(r['dataset'], r['depth'], r['backbone']) for r in ran})} of "
                  f"{len(suite.cells)} cells. Compute min: the finished and pruned trials' "
                  "durations (Optuna's; failed ones are left out) plus the runs' (their "
                  "`wall_time_s`; for a result stored without it, its median epoch time "
                  "times its epochs, which leaves out evaluation), summed over workers: with "
                  "several workers the wall time is shorter, and jobs side by side on too "
                  "few cores make every one longer."]
    lines += ["", "Figures: `depth_<dataset>.png` (test score against depth, base solid, "
              "entropic dashed, ± std bands, the one-class score dotted) and "
              "`layers_<dataset>_L<depth>_<backbone>.png` "
              "(energy, MAD and effective rank layer by layer, mean over the runs). Data: "
              "`study.csv`, `layers.csv` (the layer-wise measures as tidy rows); runs under "
              "`runs/`, studies under `tune/`.", ""]
    return "\n".join(lines)
