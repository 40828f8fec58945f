"""What ``eamp reproduce`` runs (:class:`ReproduceConfig` -> :class:`Plan`), and what it hands
the report (:class:`Reproduction`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from eamp.checks import choice, integer
from eamp.device import check_device, check_precision
from eamp.experiments.depth import PAPER_DEPTHS
from eamp.runs.executor import ExecutorConfig

__all__ = ["DATASETS", "PROTOCOL_CHOICES", "ReproduceConfig", "Plan", "Reproduction"]

# the paper's two citation graphs (its Table 1 and Figure 3)
DATASETS = ("cora", "citeseer")
# what --protocol chooses: the paper's, the standard one, or both
PROTOCOL_CHOICES = ("paper", "standard", "both")


@dataclass(frozen=True)
class ReproduceConfig:
    """What ``eamp reproduce`` runs and where.

    Args:
        quick (bool): depths 4 and 16, width 64, one seed, at most 30 epochs, a 200-layer
            grid with 2 seeds; Figure 3 from the depth-16 models. (default: ``False``)
        seeds (int, optional): seeds of the standard protocol. (default: 10, quick 1)
        workers (int): training processes in parallel. (default: ``1``)
        protocol (str): ``"paper"``, ``"standard"`` or ``"both"``. (default: ``"both"``)
        force (bool): redo finished runs. (default: ``False``)
        data_dir (str, optional): the data root.
        tuned (str, optional): a folder of ``eamp tune`` outputs; adds the ``tuned``
            protocol with each (dataset, model)'s ``best.json``.
        device, precision (str): every run's, as in :class:`~eamp.training.TrainConfig`;
            workers go round robin over several GPUs. (default: ``"auto"``, ``"32"``)
        executor (ExecutorConfig): where the runs execute (a local pool, submitit's local
            or SLURM executor). (default: the pool)
        wait (bool): wait for the runs another command is training in the same folder,
            instead of leaving them out of the report. (default: ``False``)
        train (bool): train what is missing; ``False`` only writes the report from the runs
            stored (``--report``). (default: ``True``)
    """

    quick: bool = False
    seeds: int | None = None
    workers: int = 1
    protocol: str = "both"
    force: bool = False
    data_dir: str | None = None
    tuned: str | None = None
    device: str = "auto"
    precision: str = "32"
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    wait: bool = False
    train: bool = True

    def __post_init__(self) -> None:
        choice("protocol", self.protocol, PROTOCOL_CHOICES)
        integer("workers", self.workers, low=1)
        if self.seeds is not None:
            integer("seeds", self.seeds, low=1)
        object.__setattr__(self, "device", check_device(self.device))
        object.__setattr__(self, "precision", check_precision(self.precision))


@dataclass(frozen=True)
class Plan:
    depths: tuple[int, ...]
    hidden: int
    seeds: int
    epochs: int | None
    grid_layers: int
    grid_seeds: int
    figure3_depth: int
    protocols: tuple[str, ...]

    @classmethod
    def of(cls, config: ReproduceConfig) -> Plan:
        protocols = ("paper", "standard") if config.protocol == "both" else (config.protocol,)
        if config.tuned:
            protocols += ("tuned",)
        if config.quick:
            return cls((4, 16), 64, config.seeds or 1, 30, 200, 2, 16, protocols)
        return cls(PAPER_DEPTHS, 256, config.seeds or 10, None, 1000, 5, 64, protocols)


@dataclass(frozen=True)
class Reproduction:
    """Everything ``report.md`` is written from.

    Args:
        plan, config: what was planned and asked for.
        grid_rows: Figure 2's tidy energy rows.
        table: Table 1's rows (:func:`~eamp.experiments.depth.table1_rows`).
        energy_rows: Figure 3's tidy rows.
        figure3_protocol: the protocol Figure 3's models were trained under.
        skipped: dataset -> why it was skipped.
        done_runs, total_runs: runs stored (the report's), and planned in all.
        versions: the package versions the stored runs were trained with.
        hardware: where they trained (:func:`~eamp.training.result.run_hardware`).
    """

    plan: Plan
    config: ReproduceConfig
    grid_rows: list[dict]
    table: list[dict]
    energy_rows: list[dict]
    figure3_protocol: str
    done_runs: int
    total_runs: int
    versions: str
    hardware: str = "none stored"
    skipped: dict[str, str] = field(default_factory=dict)
