"""Deep GCN with PairNorm (Zhao & Akoglu, ICLR 2020)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor
from torch.nn import Module, ModuleList
from torch_geometric.nn import PairNorm

from eamp.checks import real_number
from eamp.models.gcn import GCN

__all__ = ["PairNormGCN", "ScaleCenterShift", "PAIRNORM_MODES"]

PAIRNORM_MODES = ("PN", "PN-SI", "PN-SCS")


class ScaleCenterShift(Module):
    r"""PairNorm's PN-SCS variant, which PyG's :class:`~torch_geometric.nn.norm.PairNorm`
    lacks: scale each row to norm :math:`s`, then shift by the input's column mean,

    .. math::
        \mathbf{x}_i' = s \frac{\mathbf{x}_i}{\|\mathbf{x}_i\|} - \frac1n \sum_j \mathbf{x}_j

    Args:
        scale (float): :math:`s`. (default: ``1.0``)
        eps (float): added under the root of the row norm. (default: ``1e-6``)
    """

    def __init__(self, scale: float = 1.0, eps: float = 1e-6) -> None:
        super().__init__()
        self.scale = scale
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        mean = x.mean(dim=0, keepdim=True)
        norm = (self.eps + x.pow(2).sum(-1, keepdim=True)).sqrt()
        return self.scale * x / norm - mean

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(scale={self.scale})"


def make_pairnorm(mode: str, scale: float) -> Module:
    """PyG's PairNorm for PN and PN-SI, built here so that ``scale`` is what was asked for
    (PyG's ``norm='pairnorm'`` resolver passes the width as ``scale``)."""
    if mode == "PN":
        return PairNorm(scale=scale)
    if mode == "PN-SI":
        return PairNorm(scale=scale, scale_individually=True)
    if mode == "PN-SCS":
        return ScaleCenterShift(scale=scale)
    raise ValueError(f"mode: expected one of {PAIRNORM_MODES}, got {mode!r}")


class PairNormGCN(GCN):
    r"""A deep GCN with PairNorm after every layer but the last:

    .. math::
        \mathbf{X}^{k+1} = \mathrm{ReLU}\big(\mathrm{PN}(\hat{A} \mathbf{X}^k \mathbf{W}^k)\big)

    Args:
        in_channels, hidden_channels, num_layers, out_channels, dropout: as
            :class:`~eamp.models.GCN`.
        mode (str): ``"PN"``, ``"PN-SI"`` (scale individually) or ``"PN-SCS"``
            (scale-and-center-shift). (default: ``"PN"``)
        scale (float): PairNorm's :math:`s`. (default: ``1.0``)
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        num_layers: int,
        out_channels: int,
        dropout: float = 0.5,
        mode: str = "PN",
        scale: float = 1.0,
    ) -> None:
        self.scale = real_number("scale", scale, low=0.0, allow_low=False)
        self.mode = mode
        super().__init__(in_channels, hidden_channels, num_layers, out_channels, dropout)
        self.norms = ModuleList(make_pairnorm(mode, self.scale) for _ in range(num_layers - 1))

    def activate(self, index: int, x: Tensor) -> Tensor:
        return F.relu(self.norms[index](x))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, mode={self.mode!r}, scale={self.scale}"
