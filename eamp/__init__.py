"""eamp: Entropy-Aware Message Passing for PyTorch Geometric.

The physics lives in :mod:`eamp.entropy`, the layer in :mod:`eamp.nn`, the paper's models in
:mod:`eamp.models`; :mod:`eamp.data`, :mod:`eamp.training`, :mod:`eamp.runs` and
:mod:`eamp.experiments` run them. The names below are imported on first use (``import eamp``
alone does not import PyTorch).
"""

from typing import TYPE_CHECKING

from eamp._lazy import lazy_attributes

__version__ = "0.2.0"

_NAMES = {
    **dict.fromkeys(("PreparedGraph", "boltzmann_entropy", "dirichlet_energy",
                     "entropy_gradient", "prepare_graph", "total_dirichlet_energy"),
                    "eamp.entropy"),
    "EntropicConv": "eamp.nn",
}
__all__ = [
    "EntropicConv",
    "PreparedGraph",
    "boltzmann_entropy",
    "dirichlet_energy",
    "entropy_gradient",
    "prepare_graph",
    "total_dirichlet_energy",
]  # the keys of _NAMES
__getattr__ = lazy_attributes(__name__, _NAMES)

if TYPE_CHECKING:
    from eamp.entropy import (
        PreparedGraph,
        boltzmann_entropy,
        dirichlet_energy,
        entropy_gradient,
        prepare_graph,
        total_dirichlet_energy,
    )
    from eamp.nn import EntropicConv
