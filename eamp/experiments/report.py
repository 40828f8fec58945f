"""Tidy rows to CSV, PNG and Markdown. Nothing here trains: a figure can be redrawn from
its CSV."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from eamp.io import read_csv, write_csv
from eamp.models import MODELS

__all__ = ["write_csv", "read_csv", "group_energies", "plot_oversmoothing",
           "plot_layer_energy", "markdown_table", "label", "color", "pyplot", "signed"]

def label(model: str) -> str:
    """The model's name in figures and reports (its registry ``label``)."""
    spec = MODELS.get(model)
    return spec.label if spec is not None else model


def color(model: str) -> str | None:
    spec = MODELS.get(model)
    return spec.color if spec is not None else None


def pyplot():  # noqa: ANN201
    """matplotlib.pyplot on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def group_energies(rows: Iterable[dict]) -> dict[str, dict[int, list[float]]]:
    """Tidy energy rows as ``{model: {layer: [energy of each seed]}}``."""
    grouped: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        grouped[row["model"]][int(row["layer"])].append(float(row["energy"]))
    return grouped


def _zero_level(rows: list[dict]) -> float:
    """Where a log axis draws an exact 0: a decade below the smallest positive energy (an
    embedding that became exactly constant, e.g. a deep GCN's after float32 underflow)."""
    positive = [float(r["energy"]) for r in rows if float(r["energy"]) > 0]
    return min(positive) / 10 if positive else 1e-30


def _floor(values: np.ndarray, level: float) -> np.ndarray:
    return np.maximum(values, level)


def plot_oversmoothing(rows: list[dict], path: Path, *, normalize: bool = True) -> Path:
    """Log energy against layer: per model the median over seeds and a min-max band. When a
    model collapses (its last energy below 1e-3 of its first), a second panel shows the
    others alone, which the collapse's decades would squash into one band."""
    plt = pyplot()
    grouped = group_energies(rows)
    level = _zero_level(rows)
    kept = [m for m, layers in grouped.items() if _kept(layers)]
    panels = [list(grouped)] + ([kept] if kept and len(kept) < len(grouped) else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 4.5), squeeze=False)
    seeds = len({row["seed"] for row in rows})
    zeros = any(float(row["energy"]) == 0 for row in rows)
    for index, (ax, models) in enumerate(zip(axes[0], panels)):
        for model in models:
            layers = grouped[model]
            xs = np.array(sorted(layers))
            values = [np.array(layers[x]) for x in xs]
            median = _floor(np.array([np.median(v) for v in values]), level)
            low = _floor(np.array([v.min() for v in values]), level)
            high = _floor(np.array([v.max() for v in values]), level)
            ax.plot(xs, median, label=label(model), color=color(model), lw=1.6)
            ax.fill_between(xs, low, high, color=color(model), alpha=0.2, lw=0)
        ax.set_yscale("log")
        ax.set_xlabel("layer")
        ax.set_ylabel("Dirichlet energy E" + ("" if normalize else " (un-normalised)"))
        if index == 0:
            ax.set_ylim(bottom=level / 2)
            ax.set_title(f"Untrained models on the 10x10 grid: energy after each layer\n"
                         f"median and min-max over {seeds} seed{'s' * (seeds != 1)}"
                         + (f"; E = 0 (a constant embedding) drawn at {level:.0e}"
                            if zeros else ""))
        else:
            ax.set_title("the same without the models that collapse\n(their own scale)")
    return _save(fig, list(axes[0]), path)


def _kept(layers: dict[int, list[float]]) -> bool:
    """Whether a model's median energy after its last layer is at least 1e-3 of that after
    its first (the report's 'collapses' line)."""
    order = sorted(layers)
    if len(order) < 2:
        return True
    first, last = np.median(layers[order[1]]), np.median(layers[order[-1]])
    return first <= 0 or last >= 1e-3 * first


def plot_layer_energy(rows: list[dict], path: Path, title: str) -> Path:
    """Energy of each layer's output of trained models, one line per model."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    level = _zero_level(rows)
    for model, layers in group_energies(rows).items():
        xs = np.array(sorted(layers))
        ys = _floor(np.array([np.mean(layers[x]) for x in xs]), level)
        ax.plot(xs, ys, marker=".", ms=3, label=label(model),
                color=color(model), lw=1.4)
    ax.set_yscale("log")
    ax.set_xlabel("layer (0 = input features)")
    ax.set_ylabel("Dirichlet energy E")
    ax.set_title(title)
    return _save(fig, ax, path)


def _save(fig, axes, path: Path) -> Path:  # noqa: ANN001
    """The figures' common finish: small titles, grids, legends, PNG at 120 dpi."""
    for ax in axes if isinstance(axes, list) else [axes]:
        ax.title.set_fontsize(10)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    pyplot().close(fig)
    return path


def signed(value: float, digits: int = 2) -> str:
    """``value`` with its sign and ``digits`` decimals; a value that rounds to zero is
    ``+0.00``, never ``-0.00``."""
    return f"{round(value, digits) + 0.0:+.{digits}f}"


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.3f}"
    return "" if value is None else str(value)


def markdown_table(rows: Sequence[dict], columns: Sequence[str],
                   headers: Sequence[str] | None = None) -> str:
    headers = list(headers or columns)
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(c)) for c in columns) + " |")
    return "\n".join(lines)
