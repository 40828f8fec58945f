"""eamp: Entropy-Aware Message Passing for PyTorch Geometric.

The physics lives in :mod:`eamp.entropy`, the layer in :mod:`eamp.nn`, the paper's models in
:mod:`eamp.models`; :mod:`eamp.data`, :mod:`eamp.train` and :mod:`eamp.experiments` run them.
"""

__version__ = "0.1.0"

from eamp.entropy import (  # noqa: E402
    PreparedGraph,
    boltzmann_entropy,
    dirichlet_energy,
    entropy_gradient,
    prepare_graph,
    total_dirichlet_energy,
)
from eamp.nn import EntropicConv  # noqa: E402

__all__ = [
    "EntropicConv",
    "PreparedGraph",
    "boltzmann_entropy",
    "dirichlet_energy",
    "entropy_gradient",
    "prepare_graph",
    "total_dirichlet_energy",
]
