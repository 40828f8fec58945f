"""Figure 2: the Dirichlet energy of untrained deep models, layer by layer, on the grid.

One untrained network per model and seed, ``layers`` deep; its energy is recorded after
every layer (the layer-wise curve of Rusch et al.'s survey), not one new network per depth.
For the diffusion models (``grand``, ``entropic_grand``) "layer" k is integration time k.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from eamp.data import grid_graph
from eamp.device import check_device, resolve_device
from eamp.metrics import layer_metrics, paper_energy, survey_energy
from eamp.models import build_model, get_model_spec, reproduction_models

__all__ = ["OversmoothingConfig", "oversmoothing_rows", "run_oversmoothing", "ENERGY_COLUMNS"]

ENERGY_COLUMNS = ("model", "seed", "layer", "energy")


@dataclass(frozen=True)
class OversmoothingConfig:
    """Figure 2's grid: which untrained models, how deep and wide, how many seeds.

    Args:
        models (tuple of str): registry names, each built with its registry entry's
            ``grid_options``. (default: the models of ``eamp reproduce``)
        layers (int): depth of each network. (default: ``1000``)
        width (int): feature and hidden width. (default: ``64``)
        seeds (int): random initialisations (grid features and weights). (default: ``5``)
        normalize (bool): the paper's degree-normalised mean energy; ``False``: the
            survey's :math:`\\frac1n\\sum_i\\sum_{j\\in\\mathcal{N}_i}\\|x_i-x_j\\|^2`.
            (default: ``True``)
        height, grid_width (int): the grid. (default: ``10 x 10``)
        device (str): where the networks run (see :mod:`eamp.device`); the energies are
            summed in float64 (on the CPU for MPS). (default: ``"auto"``)
    """

    models: tuple[str, ...] = field(default_factory=reproduction_models)
    layers: int = 1000
    width: int = 64
    seeds: int = 5
    normalize: bool = True
    height: int = 10
    grid_width: int = 10
    device: str = "auto"

    def __post_init__(self) -> None:
        object.__setattr__(self, "device", check_device(self.device))

    def key(self) -> dict:
        """What the rows depend on (all but the device), to tell stored rows apart."""
        return {k: v for k, v in asdict(self).items() if k != "device"}


@torch.no_grad()
def oversmoothing_rows(config: OversmoothingConfig) -> list[dict]:
    """Tidy rows ``{model, seed, layer, energy}``; layer 0 is the input."""
    threads = torch.get_num_threads()
    # 100-node tensors gain nothing from CPU threads, and with another busy process on the
    # cores, spinning worker threads slowed this loop down 100-fold (seen on a 2-core CPU)
    torch.set_num_threads(1)
    try:
        return _rows(config)
    finally:
        torch.set_num_threads(threads)


def _rows(config: OversmoothingConfig) -> list[dict]:
    rows = []
    device = resolve_device(config.device)
    energy = {"energy": paper_energy if config.normalize
              else lambda x, graph: survey_energy(x, graph, sqrt=False)}
    for seed in range(config.seeds):
        data = grid_graph(config.height, config.grid_width, config.width, seed=seed)
        data = data.to(device)
        for name in config.models:
            torch.manual_seed(seed)
            model = build_model(name, config.width, config.width, config.layers, config.width,
                                dropout=0.0,
                                **get_model_spec(name).grid_options).to(device)
            for row in layer_metrics(model, data.x, data.edge_index, metrics=energy):
                rows.append({"model": name, "seed": seed, "layer": row["layer"],
                             "energy": row["energy"]})
    return rows


def run_oversmoothing(config: OversmoothingConfig, out: Path) -> list[Path]:
    """Writes ``out/oversmoothing.csv`` and ``out/oversmoothing.png``."""
    from eamp.experiments.report import plot_oversmoothing
    from eamp.io import write_csv

    out.mkdir(parents=True, exist_ok=True)
    rows = oversmoothing_rows(config)
    csv_path = write_csv(out / "oversmoothing.csv", rows, ENERGY_COLUMNS)
    png_path = plot_oversmoothing(rows, out / "oversmoothing.png", normalize=config.normalize)
    return [csv_path, png_path]
