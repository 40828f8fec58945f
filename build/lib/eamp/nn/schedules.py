r"""Schedules for the entropy weight :math:`\lambda` of :class:`~eamp.nn.EntropicConv`.

The paper's future work asks for "a weight scheduler that increases :math:`\lambda` whenever
the entropy of the model decreases". A schedule maps the base weight, the entropy
:math:`S_k` of the layer's input and a reference entropy :math:`S_0` (the network input's)
to the weight used at that layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["SCHEDULES", "adaptive_weight"]

SCHEDULES = ("constant", "adaptive")


def adaptive_weight(weight: Tensor, entropy: Tensor, reference: Tensor, gain: float) -> Tensor:
    r"""Raises :math:`\lambda` by how far the layer's entropy fell below the reference:

    .. math::
        \lambda_k = \lambda \left(1 + \gamma \,
        \max\!\left(0, 1 - \frac{S_k}{S_0}\right)\right)

    so :math:`\lambda_k \in [\lambda, (1 + \gamma)\lambda]`: unchanged while the entropy holds,
    up to :math:`1 + \gamma` times larger when it has collapsed to 0. The relative drop keeps
    :math:`\gamma` independent of the graph's size (:math:`S` is a sum over nodes). A reference
    of 0 (a constant input) leaves :math:`\lambda` unchanged. The entropies are treated as
    constants (no gradient flows through the schedule).

    Args:
        weight (Tensor): :math:`\lambda`, scalar.
        entropy (Tensor): :math:`S_k`, scalar.
        reference (Tensor): :math:`S_0`, scalar.
        gain (float): :math:`\gamma \ge 0`.
    """
    entropy, reference = entropy.detach(), reference.detach()
    if float(reference) <= 0:
        return weight
    drop = (1 - entropy / reference).clamp_min(0)
    return weight * (1 + gain * drop)
