"""``eamp benchmark --suite entropy``: does entropy ascent help a backbone that already trains
at depth? Measured the honest way, per cell (dataset, depth, backbone):

1. the backbone B and its entropic version (the registry's ``entropic_of``) each get the same
   tuning budget, ``eamp tune`` on validation only (entropic-B also searches lambda, T, the
   schedule, detach and, where it has one, where the step is taken);
2. each best configuration then runs on 10 seeds (or the dataset's 10 fixed splits) and is
   scored on test;
3. the table gives both means ± std, the paired difference (same seed or split) with its 95%
   t-interval, and the layer-wise energy, MAD and effective rank of both;
4. the paper's two open proposals (an adaptive lambda, a gradient through the entropy step)
   get rows of their own: entropic-B's tuned configuration with and without that one
   change, paired (whichever of the two the search chose is the tuned model itself);
5. an ablation row per cell: entropic-B's tuned configuration against itself with the entropy
   term off (lambda = 0), paired: whether a gain of the tuned pair comes from the term or
   from the training settings its search found.

Everything is resumable: the studies live in ``DIR/tune/...`` (a rerun adds only the
missing trials) and the runs in the run store of ``eamp reproduce`` (``DIR/runs/...``).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from eamp.catalog import dataset_metric
from eamp.io import write_csv, write_text_atomic

__all__ = ["StudyCell", "StudySuite", "STUDY_SUITES", "run_study", "plan_study",
           "paired_interval"]


@dataclass(frozen=True)
class StudyCell:
    dataset: str
    depth: int
    backbone: str  # a registry name with an entropic version

    @property
    def name(self) -> str:
        return f"{self.dataset} L{self.depth} {self.backbone}"


@dataclass(frozen=True)
class StudySuite:
    """A grid of cells and what each gets.

    Args:
        cells (tuple of StudyCell): what is compared.
        trials (int): tuning trials of each model of a cell.
        count (int): seeds (or fixed splits) of each best configuration.
        hidden (int): width of every model.
        proposals (tuple of (dataset, depth)): cells of entropic GCN that get the adaptive
            lambda and the non-detached gradient rows.
        ablation (bool): every cell also runs the tuned entropic model with the entropy term
            off (lambda = 0), paired with it by seed: what the term itself adds, apart from
            the training settings its search found (``count`` more runs a cell).
            (default: ``True``)
        epochs (int, optional): a cap on every run's epochs (quick suites).
        preset (str, optional): a preset of the backbone: the backbone then runs as
            published, untuned, and its entropic version with the same settings and only its
            entropy parameters tuned (``hidden`` is the preset's). (default: both tuned)
    """

    cells: tuple[StudyCell, ...]
    trials: int = 30
    count: int = 10
    hidden: int = 64
    proposals: tuple[tuple[str, int], ...] = ()
    ablation: bool = True
    epochs: int | None = None
    preset: str | None = None


def _grid(datasets: dict[str, tuple[int, ...]], backbones: tuple[str, ...]
          ) -> tuple[StudyCell, ...]:
    return tuple(StudyCell(d, depth, b) for d, depths in datasets.items() for depth in depths
                 for b in backbones)


_ALL = {"cora": (4, 16, 64), "citeseer": (4, 16, 64), "texas": (4, 16), "wisconsin": (4, 16),
        "cornell": (4, 16), "chameleon_filtered": (4, 16, 64),
        "squirrel_filtered": (4, 16, 64), "minesweeper": (4, 16, 64),
        "tolokers": (4, 16, 64)}
_CORE = {"cora": (16, 64), "citeseer": (32,), "texas": (16,), "minesweeper": (16,)}

STUDY_SUITES: dict[str, StudySuite] = {
    # the whole study of issue 15: thousands of runs, for a GPU or a cluster
    "entropy": StudySuite(_grid(_ALL, ("gcn", "gcnii", "g2")), trials=30,
                          proposals=(("cora", 16), ("cora", 64), ("citeseer", 16),
                                     ("citeseer", 64))),
    # the core cells a 2-core machine can run in pieces
    "entropy-core": StudySuite(_grid(_CORE, ("gcn", "gcnii")), trials=20,
                               proposals=(("cora", 64),)),
    # GCNII as its paper ran it (untuned) against entropic GCNII with the same settings and
    # its entropy parameters tuned: the line to beat is the paper's 85.5 (Cora, 64 layers);
    # a run takes 5-10 minutes on two CPU cores: a GPU job
    # (no ablation: the entropic model with lambda = 0 is the preset's backbone itself)
    "entropy-gcnii-paper": StudySuite((StudyCell("cora", 64, "gcnii"),
                                       StudyCell("citeseer", 32, "gcnii")),
                                      trials=20, preset="gcnii-chen2020", ablation=False),
    # seconds, for the tests
    "entropy-quick": StudySuite((StudyCell("cora", 3, "gcn"),), trials=2, count=2, hidden=16,
                                proposals=(("cora", 3),), epochs=15),
    "entropy-quick-preset": StudySuite((StudyCell("cora", 3, "gcnii"),), trials=2, count=2,
                                       epochs=15, preset="gcnii-chen2020", ablation=False),
}


def entropy_parameters(backbone: str) -> tuple[str, ...]:
    """What the entropic version of ``backbone`` searches beyond the backbone's own space
    and the training settings: the entropy's parameters."""
    from eamp.models.registry import get_model_spec

    own = {p.name for p in get_model_spec(backbone).search_space}
    return tuple(p.name for p in get_model_spec(entropic_version(backbone)).search_space
                 if p.name not in own)


def entropic_version(backbone: str) -> str:
    from eamp.models.registry import MODELS

    for spec in MODELS.values():
        if spec.entropic_of == backbone:
            return spec.name
    raise ValueError(f"backbone: {backbone} has no entropic version in the registry")


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


def _base_config(cell: StudyCell, model: str, suite: StudySuite, data_dir: str | None,
                 device: str, precision: str) -> Any:
    from eamp.models.registry import get_model_spec
    from eamp.train import TrainConfig

    if suite.preset is not None:  # the backbone's published settings, for both models
        config = TrainConfig.from_preset(suite.preset, cell.dataset, model=model,
                                         depth=cell.depth, data_dir=data_dir, device=device,
                                         precision=precision).resolved()
    else:
        # both models of a cell get the backbone's epochs and patience (what is searched is
        # searched for both; the rest is the same)
        budget = get_model_spec(cell.backbone).defaults
        config = TrainConfig(model, cell.dataset, cell.depth, hidden=suite.hidden,
                             epochs=budget.epochs, patience=budget.patience,
                             data_dir=data_dir, device=device, precision=precision).resolved()
    if suite.epochs is not None:
        config = replace(config, epochs=min(config.epochs, suite.epochs),
                         patience=min(config.patience, suite.epochs))
    return config


def _published(cell: StudyCell, model: str, suite: StudySuite, data_dir: str | None,
               device: str, precision: str) -> dict[str, Any] | None:
    """The untuned configuration of a preset suite's backbone (None for a tuned model)."""
    if suite.preset is None or model != cell.backbone:
        return None
    return _base_config(cell, model, suite, data_dir, device, precision).as_dict()


def _tuned(cell: StudyCell, model: str, suite: StudySuite, out: Path, workers: int,
           data_dir: str | None, device: str, precision: str,
           executor: Any = None) -> dict[str, Any]:
    """The tuned configuration of ``model`` in ``cell``: trials are added until the study
    holds ``suite.trials`` finished ones, by ``workers`` local processes, or with an
    ``executor`` other than the pool by as many jobs (on SLURM a new study is a journal
    file, which jobs on other machines share). With a preset, the backbone's configuration
    is the preset's and the entropic model's study searches its entropy parameters only."""
    from eamp.tune import TuneConfig, tune, tune_jobs

    published = _published(cell, model, suite, data_dir, device, precision)
    if published is not None:
        return published
    only = entropy_parameters(cell.backbone) if suite.preset is not None else None

    folder = _study_folder(cell, model, suite, out)
    folder.mkdir(parents=True, exist_ok=True)
    jobs = executor is not None and executor.kind != "pool"
    url = _study_url(folder, journal=jobs and executor.kind == "slurm")
    name = _study_name(cell, folder)
    study = _load_study(cell, model, suite, out)
    finished = 0 if study is None else len(_finished_trials(study))
    if finished < suite.trials:
        base = _base_config(cell, model, suite, data_dir, device, precision)
        config = TuneConfig(base=base, trials=suite.trials - finished, storage=url,
                            study=name, workers=workers, only=only)
        if jobs:
            tune_jobs(config, folder, executor)
        else:
            tune(config, folder)
    return json.loads((folder / "best.json").read_text())["config"]


def _runs(config: dict[str, Any], count: int, label: str) -> list[Any]:
    """``count`` seeds (or fixed splits) of a tuned config as run-store specs."""
    from eamp.catalog import DATASETS
    from eamp.experiments.depth import RunSpec
    from eamp.train import TrainConfig

    config = TrainConfig(**config)
    info = DATASETS.get(config.dataset)
    splits = info is not None and not info.planetoid  # the dataset's own fixed splits
    if splits:
        return [RunSpec(label, replace(config, seed=0, split_index=i)) for i in range(count)]
    return [RunSpec(label, replace(config, seed=s, split_index=0)) for s in range(count)]


COLUMNS = ("dataset", "depth", "backbone", "variant", "metric", "n", "base_mean", "base_std",
           "entropic_mean", "entropic_std", "difference", "ci_low", "ci_high", "verdict",
           "base_energy", "entropic_energy", "base_mad", "entropic_mad", "base_erank",
           "entropic_erank", "tune_min", "runs_min", "chance")


# the row of the ablation: the tuned entropic model against itself without the entropy term
ENTROPY_OFF = "entropy term (tuned entropic, against it with lambda = 0)"

# a base model within this many points of the one-class score is called collapsed
COLLAPSED = 2.0

LAYER_COLUMNS = ("dataset", "depth", "backbone", "model", "layer", "n", "energy", "mad",
                 "effective_rank")
_LAYER_KEYS = {"energy": "layer_energy", "mad": "layer_mad",
               "effective_rank": "layer_effective_rank"}


def _layer_rows(cell: StudyCell, out: Path, runs: dict[str, list[Any]]
                ) -> list[dict[str, Any]]:
    """Tidy rows of the layer-wise measures of each model of a cell, mean over its runs
    (layer 0: the input features)."""
    from eamp.train import read_result

    rows = []
    for model, specs in runs.items():
        results = [read_result(out / spec.relpath) for spec in specs]
        results = [r for r in results if all(r.get(key) for key in _LAYER_KEYS.values())]
        if not results:
            continue
        for layer in range(min(len(r["layer_energy"]) for r in results)):
            row = {"dataset": cell.dataset, "depth": cell.depth, "backbone": cell.backbone,
                   "model": model, "layer": layer, "n": len(results)}
            for name, key in _LAYER_KEYS.items():
                row[name] = sum(r[key][layer] for r in results) / len(results)
            rows.append(row)
    return rows


def _plot_layers(layers: list[dict[str, Any]], out: Path) -> None:
    """Per cell, energy, MAD and effective rank against the layer, base and entropic."""
    from eamp.experiments.report import color, label, pyplot

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


def _scores(out: Path, specs: list[Any]) -> tuple[list[float], dict[str, float]]:
    from eamp.train import read_result

    results = [read_result(out / spec.relpath) for spec in specs]
    last = {key: sum(r[key][-1] for r in results if r.get(key)) / len(results)
            for key in ("layer_energy", "layer_mad", "layer_effective_rank")}
    return [100 * r["test_score"] for r in results], last


def _chance(specs: list[Any]) -> float:
    """The best test score of a model that predicts one class for every node, mean over the
    runs' splits: the largest class's share of the test nodes (accuracy, %), or 50 (ROC AUC
    of a constant score). A deep model that collapsed scores about this."""
    from eamp.data import split_masks
    from eamp.experiments.reproduce import _dataset

    config = specs[0].config
    if dataset_metric(config.dataset) == "roc_auc":
        return 50.0
    shares = []
    for spec in specs:
        c = spec.config
        data = _dataset(c.dataset, c.data_dir, c.split, c.normalize_features, c.graph)
        _, _, test = split_masks(data, int(c.split_index))
        shares.append(100 * data.y[test].bincount().max().item() / int(test.sum()))
    return sum(shares) / len(shares)


def _tuning_minutes(cell: StudyCell, models: tuple[str, ...], suite: StudySuite,
                    out: Path) -> float:
    """Minutes the tuning trials of ``models`` in ``cell`` took (Optuna's start and end of
    each finished or pruned trial; a preset's backbone has none). A failed trial is left
    out: a killed one is marked failed only when a later run notices, so its end is not
    when it stopped."""
    return sum(_study_minutes(_load_study(cell, model, suite, out)) for model in models)


def _study_minutes(study: Any) -> float:
    """Minutes the finished and pruned trials of ``study`` (None: none yet) took."""
    if study is None:
        return 0.0
    return sum(t.duration.total_seconds() for t in _finished_trials(study)) / 60


def _verdict(low: float, high: float) -> str:
    if math.isnan(low):
        return "too few runs"
    if low > 0:
        return "helps"
    if high < 0:
        return "hurts"
    return "no difference"


def _study_folder(cell: StudyCell, model: str, suite: StudySuite, out: Path) -> Path:
    """Where the study of ``model`` in ``cell`` lives (a preset's study searches another
    space: it gets a folder of its own)."""
    name = model if suite.preset is None else f"{model}-{suite.preset}"
    return out / "tune" / f"{cell.dataset}-L{cell.depth}" / name


def _study_name(cell: StudyCell, folder: Path) -> str:
    return f"{folder.name}-{cell.dataset}-L{cell.depth}"


def _study_url(folder: Path, journal: bool = False) -> str:
    """A study's storage: the one its folder holds, else a SQLite file, or with
    ``journal`` a journal file (which jobs on other machines can share)."""
    log, db = folder / "study.log", folder / "study.db"
    if log.exists() or (journal and not db.exists()):
        return f"journal:{log.resolve()}"
    return f"sqlite:///{db.resolve()}"


def _finished_trials(study: Any) -> list[Any]:
    """The trials a study counts as done: complete or pruned (a failed one is retried)."""
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))


def _load_study(cell: StudyCell, model: str, suite: StudySuite, out: Path) -> Any:
    """The Optuna study of ``model`` in ``cell`` stored in ``out``, or None."""
    import optuna

    from eamp.tune import make_storage

    folder = _study_folder(cell, model, suite, out)
    if not ((folder / "study.db").exists() or (folder / "study.log").exists()):
        return None
    try:
        return optuna.load_study(study_name=_study_name(cell, folder),
                                 storage=make_storage(_study_url(folder)))
    except KeyError:
        return None


def _stored(cell: StudyCell, models: tuple[str, ...], suite: StudySuite, out: Path,
            data_dir: str | None, device: str, precision: str) -> dict[str, Any] | None:
    """The tuned configurations an earlier invocation left for ``cell`` in ``out`` (None
    unless every model of the cell has one; a preset's backbone needs none)."""
    found = {}
    for model in models:
        published = _published(cell, model, suite, data_dir, device, precision)
        if published is not None:
            found[model] = published
            continue
        best = _study_folder(cell, model, suite, out) / "best.json"
        if not best.exists():
            return None
        found[model] = json.loads(best.read_text())["config"]
    return found


def _variants(cell: StudyCell, entropic: str, tuned: dict[str, Any], suite: StudySuite,
              n: int, label: str) -> list[tuple[str, list[Any], list[Any]]]:
    """The pairs of run lists a cell compares, (row label, base runs, compared runs): the
    tuned pair, then for entropic GCN in a proposals cell each open proposal, as the tuned
    entropic model with and without it (the runs without it on the left): the tuned model
    changed to have it, or, where the search already chose it, changed to go without; last
    (``suite.ablation``) the tuned entropic model against itself with lambda = 0."""
    base_runs = _runs(tuned[cell.backbone], n, label)
    entropic_runs = _runs(tuned[entropic], n, label)
    variants = [("tuned", base_runs, entropic_runs)]
    if cell.backbone == "gcn" and (cell.dataset, cell.depth) in suite.proposals:
        options = tuned[entropic]["model_options"]
        for variant, slug, change, without in (
                ("adaptive lambda", "adaptive", {"schedule": "adaptive"},
                 {"schedule": "constant"}),
                ("gradient through the step", "through", {"detach": False},
                 {"detach": True})):
            chosen = all(options.get(k) == v for k, v in change.items())
            other = {**tuned[entropic],
                     "model_options": {**options, **(without if chosen else change)}}
            if chosen:  # the tuned model has it: against the same model without it
                variants.append((f"{variant} (tuned entropic, against it without)",
                                 _runs(other, n, f"{label}-no-{slug}"), entropic_runs))
            else:
                variants.append((f"{variant} (against tuned entropic)", entropic_runs,
                                 _runs(other, n, f"{label}-{slug}")))
    if suite.ablation:
        off = {**tuned[entropic],
               "model_options": {**tuned[entropic]["model_options"], "entropy_weight": 0.0}}
        variants.append((ENTROPY_OFF, _runs(off, n, f"{label}-no-entropy"), entropic_runs))
    return variants


def _distinct_runs(variants: list[tuple[str, list[Any], list[Any]]]) -> list[Any]:
    """Each run of a cell's pairs once (a proposal's pair repeats the tuned entropic runs)."""
    return list({s.relpath: s for _, a, b in variants for s in a + b}.values())


def _selected(cell: StudyCell, cases: tuple[str, ...], suite: StudySuite) -> bool:
    return not cases or any(_matches(cell.name, c, suite) for c in cases)


def _matches(name: str, pattern: str, suite: StudySuite) -> bool:
    """A pattern that names a cell exactly selects that cell only; otherwise every cell
    whose name contains it."""
    names = {cell.name.lower() for cell in suite.cells}
    if pattern.lower() in names:
        return name.lower() == pattern.lower()
    return pattern.lower() in name.lower()


def run_study(name: str, out: Path, *, workers: int = 1, data_dir: str | None = None,
              device: str = "auto", precision: str = "32", force: bool = False,
              cases: tuple[str, ...] = (), count: int | None = None,
              executor: Any = None, train: bool = True) -> Path:
    """Tunes, runs and reports the study suite ``name`` into ``out``; ``cases`` limits it to
    the cells whose name (``"cora L16 gcn"``) contains one of them (the report keeps every
    cell, not run ones marked). With ``train=False`` it only reports what ``out`` holds."""
    from statistics import mean, stdev

    from eamp.experiments.reproduce import is_done, run_all, run_minutes

    suite = STUDY_SUITES[name]
    unmatched = [c for c in cases if not any(c.lower() in cell.name.lower()
                                             for cell in suite.cells)]
    if unmatched:
        raise ValueError(f"cases: {unmatched[0]!r} matches no cell of {name}; its cells are "
                         f"named like {suite.cells[0].name!r}")
    n = count or suite.count
    started = time.perf_counter()
    label = f"study-{name}"
    tuned_now: dict[StudyCell, dict[str, Any]] = {}
    for cell in suite.cells:  # first tune and run the selected cells
        if not train or not _selected(cell, cases, suite):
            continue
        entropic = entropic_version(cell.backbone)
        tuned_now[cell] = {m: _tuned(cell, m, suite, out, workers, data_dir, device,
                                     precision, executor)
                           for m in (cell.backbone, entropic)}
        run_all(_distinct_runs(_variants(cell, entropic, tuned_now[cell], suite, n, label)),
                out, workers=workers, force=force, executor=executor)
    rows: list[dict[str, Any]] = []
    layers: list[dict[str, Any]] = []
    for cell in suite.cells:  # then report every cell from the store as it is now (another
        entropic = entropic_version(cell.backbone)  # invocation may have added to it)
        tuned = tuned_now.get(cell) or _stored(cell, (cell.backbone, entropic), suite, out,
                                               data_dir, device, precision)
        variants = _variants(cell, entropic, tuned, suite, n, label) if tuned else []
        for variant, base_runs, entropic_runs in variants:
            pairs = [(a, b) for a, b in zip(base_runs, entropic_runs, strict=True)
                     if is_done(a, out / a.relpath, quiet=True)
                     and is_done(b, out / b.relpath, quiet=True)]
            if not pairs:
                continue
            a_scores, a_last = _scores(out, [a for a, _ in pairs])
            b_scores, b_last = _scores(out, [b for _, b in pairs])
            diff, low, high = paired_interval(a_scores, b_scores)
            if variant == "tuned":
                layers += _layer_rows(cell, out, {cell.backbone: [a for a, _ in pairs],
                                                  entropic: [b for _, b in pairs]})
                tune_min = _tuning_minutes(cell, (cell.backbone, entropic), suite, out)
                runs_min = run_minutes(out, [s for pair in pairs for s in pair])
            else:  # the proposal's own runs; the tuned entropic ones count above
                tune_min, runs_min = 0.0, run_minutes(
                    out, [s for pair in pairs for s in pair if s.protocol != label])
            rows.append({
                "dataset": cell.dataset, "depth": cell.depth, "backbone": cell.backbone,
                "variant": variant,
                "metric": dataset_metric(cell.dataset), "n": len(pairs),
                "base_mean": mean(a_scores), "base_std": stdev(a_scores) if len(pairs) > 1
                else math.nan, "entropic_mean": mean(b_scores),
                "entropic_std": stdev(b_scores) if len(pairs) > 1 else math.nan,
                "difference": diff, "ci_low": low, "ci_high": high,
                "verdict": _verdict(low, high),
                "base_energy": a_last["layer_energy"], "entropic_energy": b_last["layer_energy"],
                "base_mad": a_last["layer_mad"], "entropic_mad": b_last["layer_mad"],
                "base_erank": a_last["layer_effective_rank"],
                "entropic_erank": b_last["layer_effective_rank"],
                "tune_min": tune_min, "runs_min": runs_min,
                "chance": _chance([a for a, _ in pairs]),
            })
        if not any(r["dataset"] == cell.dataset and r["depth"] == cell.depth
                   and r["backbone"] == cell.backbone for r in rows):
            rows.append({"dataset": cell.dataset, "depth": cell.depth,
                         "backbone": cell.backbone, "variant": "tuned",
                         "metric": dataset_metric(cell.dataset), "n": 0,
                         "verdict": "not run"})
    write_csv(out / "study.csv", rows, COLUMNS)
    write_csv(out / "layers.csv", layers, LAYER_COLUMNS)
    _plot(rows, out)
    _plot_layers(layers, out)
    report = out / "report.md"
    write_text_atomic(report, _report(name, suite, rows, time.perf_counter() - started))
    return report


def plan_study(name: str, out: Path, *, data_dir: str | None = None, device: str = "auto",
               precision: str = "32", cases: tuple[str, ...] = (),
               count: int | None = None) -> list[dict[str, Any]]:
    """What :func:`run_study` would train in ``out``, without training: per selected cell and
    model, its tuning trials (finished or pruned / planned) and its runs (done / planned).
    Before a cell is tuned its runs are not known yet; they are counted as planned, with the
    proposal rows' own runs."""
    from eamp.experiments.reproduce import is_done, run_minutes

    suite = STUDY_SUITES[name]
    n = count or suite.count
    rows = []
    for cell in suite.cells:
        if not _selected(cell, cases, suite):
            continue
        entropic = entropic_version(cell.backbone)
        tuned = _stored(cell, (cell.backbone, entropic), suite, out, data_dir, device,
                        precision)
        planned_runs: dict[str, list[Any]] = {cell.backbone: [], entropic: []}
        if tuned is not None:  # every distinct run of the cell's pairs, by model
            for spec in _distinct_runs(_variants(cell, entropic, tuned, suite, n,
                                                 f"study-{name}")):
                planned_runs[spec.config.model].append(spec)
        proposals = 2 if (cell.backbone == "gcn"
                          and (cell.dataset, cell.depth) in suite.proposals) else 0
        extra = proposals + int(suite.ablation)
        for model in (cell.backbone, entropic):
            study = _load_study(cell, model, suite, out)
            trials = 0 if study is None else len(_finished_trials(study))
            untuned = _published(cell, model, suite, data_dir, device, precision) is not None
            specs = planned_runs[model]
            done = [s for s in specs if is_done(s, out / s.relpath, quiet=True)]
            rows.append({
                "cell": cell.name, "model": model,
                "trials_done": trials, "trials_planned": 0 if untuned else suite.trials,
                "runs_done": len(done),
                "runs_planned": len(specs) if tuned is not None
                else n * (1 + (extra if model == entropic else 0)),
                "tune_min": _study_minutes(study),
                "runs_min": run_minutes(out, done),
            })
    return rows


def _plot(rows: list[dict[str, Any]], out: Path) -> None:
    """Accuracy (or ROC AUC) against depth per dataset: base and entropic, mean ± std."""
    from eamp.experiments.report import color, label, pyplot

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


def _report(name: str, suite: StudySuite, rows: list[dict[str, Any]], wall: float) -> str:
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
             f"mean over the runs. This invocation took {wall / 60:.1f} min.", ""]
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
            f"| {_fmt(r['chance'])} | {r['difference']:+.2f} [{_fmt(r['ci_low'])}, "
            f"{_fmt(r['ci_high'])}] | "
            f"{r['verdict']} | {r['base_energy']:.2e} / {r['entropic_energy']:.2e} | "
            f"{r['base_mad']:.3f} / {r['entropic_mad']:.3f} | {r['base_erank']:.1f} / "
            f"{r['entropic_erank']:.1f} | {r['tune_min']:.0f} + {r['runs_min']:.0f} |")
    lines += ["", "## In plain words", ""]
    for verdict, words in (("helps", "Entropy ascent helps (interval above zero)"),
                           ("hurts", "It hurts (interval below zero)"),
                           ("no difference", "It makes no measurable difference")):
        cells = [f"{r['dataset']} L{r['depth']} {r['backbone']} ({r['variant']}, "
                 f"{r['difference']:+.2f})" for r in ran if r["verdict"] == verdict]
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
