"""The suites of the entropy study (``eamp benchmark --suite entropy*``), as data: which cells
(dataset, depth, backbone) each compares, and what each cell gets."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["STUDY_SUITES", "StudyCell", "StudySuite"]


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
    # the whole study: thousands of runs, for a GPU or a cluster
    "entropy": StudySuite(_grid(_ALL, ("gcn", "gcnii", "g2")), trials=30,
                          proposals=(("cora", 16), ("cora", 64), ("citeseer", 16),
                                     ("citeseer", 64))),
    # the core cells a 2-core machine can run in pieces
    "entropy-core": StudySuite(_grid(_CORE, ("gcn", "gcnii")), trials=20,
                               proposals=(("cora", 64),)),
    # GCNII as its paper ran it (untuned) against entropic GCNII with the same settings and
    # its entropy parameters tuned: the line to beat is GCNII's 85.5 (Cora, 64 layers; Chen et
    # al. 2020, Table 2);
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
