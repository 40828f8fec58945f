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
from dataclasses import replace
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from eamp.data.catalog import DATASETS, dataset_metric
from eamp.experiments.benchmark import BenchmarkConfig
from eamp.experiments.study_report import (
    COLUMNS,
    ENTROPY_OFF,
    LAYER_COLUMNS,
    chance,
    layer_rows,
    paired_interval,
    plot_depth,
    plot_layers,
    report_text,
    scores,
    verdict,
)
from eamp.experiments.study_suites import STUDY_SUITES, StudyCell, StudySuite
from eamp.experiments.suite import PlanRow, selected
from eamp.io import write_csv, write_text_atomic
from eamp.models.registry import entropic_version, get_model_spec
from eamp.runs.storage import make_storage
from eamp.runs.store import RunSpec, is_done, run_all, run_minutes, run_seconds, stored_result
from eamp.runs.tune import TuneConfig, tune
from eamp.training.config import TrainConfig
from eamp.training.result import run_hardware, run_versions

__all__ = ["STUDY_SUITES", "StudyCell", "StudySuite", "entropy_parameters", "plan_study",
           "run_study"]


def entropy_parameters(backbone: str) -> tuple[str, ...]:
    """What the entropic version of ``backbone`` searches beyond the backbone's own space
    and the training settings: the entropy's parameters."""
    own = {p.name for p in get_model_spec(backbone).search_space}
    return tuple(p.name for p in get_model_spec(entropic_version(backbone)).search_space
                 if p.name not in own)


def _base_config(cell: StudyCell, model: str, suite: StudySuite, data_dir: str | None,
                 device: str, precision: str) -> Any:
    if suite.preset is not None:  # the backbone's published settings, for both models
        config = TrainConfig.from_preset(suite.preset, cell.dataset, model=model,
                                         depth=cell.depth, data_dir=data_dir, device=device,
                                         precision=precision)
    else:
        # both models of a cell get the backbone's epochs and patience (what is searched is
        # searched for both; the rest is the same)
        budget = get_model_spec(cell.backbone).defaults
        config = TrainConfig(model, cell.dataset, cell.depth, hidden=suite.hidden,
                             epochs=budget.epochs, patience=budget.patience,
                             data_dir=data_dir, device=device, precision=precision)
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
        tune(config, folder, executor)
    return json.loads((folder / "best.json").read_text())["config"]


def _runs(config: dict[str, Any], count: int, label: str) -> list[Any]:
    """``count`` seeds (or fixed splits) of a tuned config as run-store specs."""
    config = TrainConfig(**config)
    info = DATASETS.get(config.dataset)
    splits = info is not None and not info.planetoid  # the dataset's own fixed splits
    if splits:
        return [RunSpec(label, replace(config, seed=0, split_index=i)) for i in range(count)]
    return [RunSpec(label, replace(config, seed=s, split_index=0)) for s in range(count)]



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
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))


def _load_study(cell: StudyCell, model: str, suite: StudySuite, out: Path) -> Any:
    """The Optuna study of ``model`` in ``cell`` stored in ``out``, or None."""
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
    return selected(cell.name, cases, [c.name for c in suite.cells])


def run_study(config: BenchmarkConfig, out: Path) -> Path:
    """Tunes, runs and reports the study suite ``config.suite`` into ``out``;
    ``config.cases`` limits it to the cells they select (``"cora L16 gcn"``; the report keeps
    every cell, not run ones marked). With ``config.train`` false it only reports what
    ``out`` holds."""
    name, workers, data_dir, device, precision, force, cases, count, executor, train, wait = (
        config.suite, config.workers, config.data_dir, config.device, config.precision,
        config.force, config.cases, config.count, config.executor, config.train, config.wait)
    from statistics import mean, stdev
    suite = STUDY_SUITES[name]
    n = count or suite.count
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
                out, workers=workers, force=force, executor=executor, wait=wait)
    rows: list[dict[str, Any]] = []
    layers: list[dict[str, Any]] = []
    # every stored run read once: a tuned entropic run is paired in several rows
    read: dict[Path, dict[str, Any] | None] = {}
    paired: dict[Path, dict[str, Any]] = {}  # the runs some row reports

    def stored(spec: RunSpec) -> dict[str, Any] | None:
        if spec.relpath not in read:
            read[spec.relpath] = stored_result(spec, out / spec.relpath, quiet=True)
        return read[spec.relpath]

    for cell in suite.cells:  # then report every cell from the store as it is now (another
        entropic = entropic_version(cell.backbone)  # invocation may have added to it)
        tuned = tuned_now.get(cell) or _stored(cell, (cell.backbone, entropic), suite, out,
                                               data_dir, device, precision)
        variants = _variants(cell, entropic, tuned, suite, n, label) if tuned else []
        for variant, base_runs, entropic_runs in variants:
            pairs = [(a, b) for a, b in zip(base_runs, entropic_runs, strict=True)
                     if stored(a) is not None and stored(b) is not None]
            if not pairs:
                continue
            a_results = [stored(a) for a, _ in pairs]
            b_results = [stored(b) for _, b in pairs]
            paired.update((s.relpath, stored(s)) for pair in pairs for s in pair)
            a_scores, a_last = scores(a_results)
            b_scores, b_last = scores(b_results)
            diff, low, high = paired_interval(a_scores, b_scores)
            if variant == "tuned":
                layers += layer_rows(cell, {cell.backbone: a_results, entropic: b_results})
                tune_min = _tuning_minutes(cell, (cell.backbone, entropic), suite, out)
                timed = [s for pair in pairs for s in pair]
            else:  # the proposal's own runs; the tuned entropic ones count above
                tune_min = 0.0
                timed = [s for pair in pairs for s in pair if s.protocol != label]
            runs_min = sum(run_seconds(stored(s)) for s in timed) / 60
            rows.append({
                "dataset": cell.dataset, "depth": cell.depth, "backbone": cell.backbone,
                "variant": variant,
                "metric": dataset_metric(cell.dataset), "n": len(pairs),
                "base_mean": mean(a_scores), "base_std": stdev(a_scores) if len(pairs) > 1
                else math.nan, "entropic_mean": mean(b_scores),
                "entropic_std": stdev(b_scores) if len(pairs) > 1 else math.nan,
                "difference": diff, "ci_low": low, "ci_high": high,
                "verdict": verdict(low, high),
                "base_energy": a_last["layer_energy"], "entropic_energy": b_last["layer_energy"],
                "base_mad": a_last["layer_mad"], "entropic_mad": b_last["layer_mad"],
                "base_erank": a_last["layer_effective_rank"],
                "entropic_erank": b_last["layer_effective_rank"],
                "tune_min": tune_min, "runs_min": runs_min,
                "chance": chance([a for a, _ in pairs]),
            })
        if not any(r["dataset"] == cell.dataset and r["depth"] == cell.depth
                   and r["backbone"] == cell.backbone for r in rows):
            rows.append({"dataset": cell.dataset, "depth": cell.depth,
                         "backbone": cell.backbone, "variant": "tuned",
                         "metric": dataset_metric(cell.dataset), "n": 0,
                         "verdict": "not run"})
    write_csv(out / "study.csv", rows, COLUMNS)
    write_csv(out / "layers.csv", layers, LAYER_COLUMNS)
    plot_depth(rows, out)
    plot_layers(layers, out)
    report = out / "report.md"
    trained = list(paired.values())
    write_text_atomic(report, report_text(
        name, suite, rows, f"{run_versions(trained)}, on {run_hardware(trained)}"))
    return report


def plan_study(config: BenchmarkConfig, out: Path) -> list[PlanRow]:
    """What :func:`run_study` would train in ``out``, without training: per selected cell and
    model, its tuning trials (finished or pruned / planned) and its runs (done / planned).
    Before a cell is tuned its runs are not known yet; they are counted as planned, with the
    proposal rows' own runs."""
    name, data_dir, device, precision, cases, count = (
        config.suite, config.data_dir, config.device, config.precision, config.cases,
        config.count)
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
            rows.append(PlanRow(
                cell=cell.name, model=model, trials_done=trials,
                trials_planned=0 if untuned else suite.trials, runs_done=len(done),
                runs_planned=len(specs) if tuned is not None
                else n * (1 + (extra if model == entropic else 0)),
                tune_min=_study_minutes(study), runs_min=run_minutes(out, done)))
    return rows


