"""What every suite of ``eamp benchmark`` shares, whatever it runs (the fidelity cases of
:mod:`eamp.experiments.benchmark`, the entropy study's cells of
:mod:`eamp.experiments.study`): how ``--cases`` selects rows, and the table of
``--plan``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["PlanRow", "check_patterns", "plan_table", "selected"]


def selected(name: str, patterns: Sequence[str], names: Iterable[str]) -> bool:
    """Whether the row ``name`` of a suite whose rows are ``names`` is selected by
    ``patterns`` (none: every row). A pattern that is a row's whole name selects that row
    only; any other selects every row whose name contains it. Case does not matter."""
    if not patterns:
        return True
    exact = {n.lower() for n in names}
    for pattern in patterns:
        text = pattern.lower()
        if (name.lower() == text) if text in exact else (text in name.lower()):
            return True
    return False


def check_patterns(patterns: Sequence[str], names: Sequence[str], suite: str) -> tuple[str, ...]:
    """``patterns`` as a tuple if each selects at least one of ``names``; else a
    ``ValueError`` naming the first that selects none and listing the rows."""
    patterns = tuple(patterns)
    for pattern in patterns:
        if not any(selected(name, (pattern,), names) for name in names):
            raise ValueError(f"cases: {pattern!r} matches no case of {suite}; its cases are: "
                             f"{'; '.join(names)}")
    return patterns


@dataclass(frozen=True)
class PlanRow:
    """One row of ``--plan``: a case (and model) with its tuning trials and runs, done and
    planned, and the minutes they took."""

    cell: str
    model: str
    trials_done: int
    trials_planned: int
    runs_done: int
    runs_planned: int
    tune_min: float
    runs_min: float

    def minutes_left(self) -> float | None:
        """The compute the row still needs at its own measured rates: its mean trial time
        for each trial left, its mean run time for each run left (the mean trial time while
        no run is done yet); None where nothing of the row has been timed."""
        trials_left = max(self.trials_planned - self.trials_done, 0)
        runs_left = self.runs_planned - self.runs_done
        per_trial = self.tune_min / self.trials_done if self.trials_done else None
        per_run = self.runs_min / self.runs_done if self.runs_done else per_trial
        if (trials_left and per_trial is None) or (runs_left and per_run is None):
            return None
        return trials_left * (per_trial or 0.0) + runs_left * (per_run or 0.0)


def plan_table(rows: Sequence[PlanRow], out: str) -> str:
    """The text of ``eamp benchmark --plan``: per row its trials and runs (done/planned),
    the compute they took (minutes) and an estimate of what is left."""
    width = max([len(r.cell) for r in rows] + [4])
    model = max([len(r.model) for r in rows] + [5])
    lines = [f"{'case':<{width}}  {'model':<{model}}  {'trials':>9}  {'runs':>9}  "
             f"{'min done':>8}  {'min left':>8}"]
    lefts = [r.minutes_left() for r in rows]
    for r, left in zip(rows, lefts, strict=True):
        trials = f"{r.trials_done}/{r.trials_planned}" if r.trials_planned else "-"
        lines.append(f"{r.cell:<{width}}  {r.model:<{model}}  {trials:>9}  "
                     f"{r.runs_done:>4}/{r.runs_planned:<4}  "
                     f"{r.tune_min + r.runs_min:>8.1f}  "
                     f"{'?' if left is None else f'{left:.1f}':>8}")
    trials_left = sum(max(r.trials_planned - r.trials_done, 0) for r in rows)
    runs_left = sum(r.runs_planned - r.runs_done for r in rows)
    tuned = any(r.trials_planned for r in rows)
    lines.append(f"to do in {out}: {trials_left} tuning trials, {runs_left} runs (done/planned "
                 f"above{'; a cell runs once its models are tuned' if tuned else ''})")
    unknown = sum(left is None for left in lefts)
    if unknown == len(rows):
        lines.append(f"compute: nothing timed yet in {out}")
        return "\n".join(lines)
    lines.append(
        f"compute: {sum(r.tune_min + r.runs_min for r in rows):.1f} min done; about "
        f"{sum(left for left in lefts if left is not None):.1f} min left at each row's "
        f"measured rate (a row's runs at its trials' rate until one is done)"
        + (f", not counting {unknown} row(s) with nothing timed yet (?)" if unknown else ""))
    return "\n".join(lines)
