"""GRAND (Chamberlain et al., ICML 2021) and its entropy-aware version (the paper's
Appendix B), integrated with torchdiffeq."""

from __future__ import annotations

import math
import warnings
from functools import partial

import torch
from torch import Tensor
from torch.nn import Linear, Module
from torch_geometric.utils import (
    add_self_loops,
    remove_self_loops,
    softmax,
    to_torch_csr_tensor,
)
from torchdiffeq import odeint, odeint_adjoint

from eamp.entropy import PreparedGraph, gradient_of
from eamp.models.base import DeepGNN
from eamp.nn.entropic_conv import GraphCache
from eamp.nn.functional import dropout
from eamp.nn.options import EntropyOptions
from eamp.nn.sparse import input_step

__all__ = ["GRAND", "EntropicGRAND", "AttentionDiffusion", "SOLVERS", "FIXED_STEP"]

FIXED_STEP = ("euler", "rk4", "midpoint")
SOLVERS = (*FIXED_STEP, "dopri5")
VARIANTS = ("nl", "l")


class AttentionDiffusion(Module):
    r"""The vector field of GRAND with an optional entropy term,

    .. math::
        \frac{d\mathbf{X}}{dt} = (A(\mathbf{X}) - I)\mathbf{X}
        + \lambda \nabla_{\mathbf{X}} S(\mathbf{X}),
        \qquad A(\mathbf{X})_{ij} = \operatorname{softmax}_{j \in \mathcal{N}_i \cup \{i\}}
        \frac{(W_K \mathbf{x}_i)^\top W_Q \mathbf{x}_j}{\sqrt{d_k}}

    The graph comes with each call, never as state: ``pattern`` (the CSR pattern of
    :math:`\mathcal{N}_i \cup \{i\}`), ``graph`` (the entropy's, when there is an entropy
    term) and, for GRAND-l, a fixed ``attention``; bind them with
    :func:`functools.partial` to get the ``f(t, x)`` an ODE solver takes. The attention scores
    come from a sampled dense-dense product and :math:`A\mathbf{X}` from a CSR product: no
    ``[E, d]`` tensor.

    Args:
        channels (int): width of :math:`\mathbf{X}`.
        key_channels (int): :math:`d_k`.
        entropy (EntropyOptions, optional): :math:`\lambda` (``entropy_weight``), :math:`T`,
            ``detach`` and ``normalize`` of the entropy term; none without one.
    """

    def __init__(self, channels: int, key_channels: int,
                 entropy: EntropyOptions | None = None) -> None:
        super().__init__()
        self.key = Linear(channels, key_channels, bias=False)
        self.query = Linear(channels, key_channels, bias=False)
        self.entropy = entropy

    def reset_parameters(self) -> None:
        self.key.reset_parameters()
        self.query.reset_parameters()

    def attention(self, x: Tensor, pattern: Tensor) -> Tensor:
        r"""The row-stochastic :math:`A(\mathbf{X})` as a sparse CSR matrix on ``pattern``."""
        keys, queries = self.key(x), self.query(x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            scores = torch.sparse.sampled_addmm(
                pattern.to(x.dtype), keys, queries.t(), beta=0.0,
                alpha=1 / math.sqrt(keys.size(-1)))
            crow, col = scores.crow_indices(), scores.col_indices()
            # every row has its self-loop, so no softmax is over an empty row
            weights = softmax(scores.values(), ptr=crow)
            return torch.sparse_csr_tensor(crow, col, weights, scores.shape)

    def forward(self, t: Tensor, x: Tensor, *, pattern: Tensor,
                graph: PreparedGraph | None = None, attention: Tensor | None = None) -> Tensor:
        attention = attention if attention is not None else self.attention(x, pattern)
        dx = torch.sparse.mm(attention, x, "sum") - x
        entropy = self.entropy
        if entropy is not None and entropy.entropy_weight > 0:
            source = x.detach() if entropy.detach else x
            dx = dx + entropy.entropy_weight * gradient_of(source, graph, entropy.temperature,
                                                           entropy.normalize)
        return dx


class GRAND(DeepGNN):
    r"""GRAND from `"GRAND: Graph Neural Diffusion" <https://arxiv.org/abs/2106.10934>`_:
    a linear encoder, the attention diffusion

    .. math::
        \frac{d\mathbf{X}}{dt} = (A(\mathbf{X}) - I)\,\mathbf{X}, \qquad t \in [0, \tau],

    (:class:`AttentionDiffusion`) integrated with torchdiffeq, then a linear decoder.

    ``depth`` is the number of integration intervals: the hidden states are the input, then
    :math:`\mathbf{X}(k\tau/L)` for :math:`k = 1..L`; with a fixed-step solver and the default
    ``time = depth * step_size`` each interval is one step, the analogue of a layer.

    Args:
        in_channels, out_channels, depth, hidden_channels: as :class:`~eamp.models.GCN`.
        dropout (float): dropout before the decoder. (default: ``0.0``)
        input_dropout (float): dropout on the input features. (default: ``0.5``)
        time (float, optional): :math:`\tau`. (default: ``depth * step_size``)
        step_size (float): step of the fixed-step solvers. (default: ``1.0``)
        method (str): ``"euler"``, ``"rk4"``, ``"midpoint"`` or ``"dopri5"``.
            (default: ``"rk4"``)
        rtol, atol (float): tolerances of ``dopri5``. (default: ``1e-5``, ``1e-7``)
        adjoint (bool): back-propagate with the adjoint method. (default: ``False``)
        variant (str): ``"nl"`` (attention recomputed along the trajectory, GRAND-nl) or
            ``"l"`` (fixed from the initial state, GRAND-l). (default: ``"l"``)
        key_channels (int, optional): attention width :math:`d_k`. (default: width)
    """

    # an ODE has no layers to checkpoint: use adjoint=True for memory
    supports_checkpointing = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        depth: int,
        hidden_channels: int = 64,
        dropout: float = 0.0,
        input_dropout: float = 0.5,
        time: float | None = None,
        step_size: float = 1.0,
        method: str = "rk4",
        rtol: float = 1e-5,
        atol: float = 1e-7,
        adjoint: bool = False,
        variant: str = "l",
        key_channels: int | None = None,
    ) -> None:
        super().__init__(in_channels, out_channels, depth, hidden_channels, dropout)
        if method not in SOLVERS:
            raise ValueError(f"method: expected one of {SOLVERS}, got {method!r}")
        if variant not in VARIANTS:
            raise ValueError(f"variant: expected one of {VARIANTS}, got {variant!r}")
        if not step_size > 0 or (time is not None and not time > 0):
            raise ValueError(f"time, step_size: expected numbers > 0, got {time}, {step_size}")
        if not 0 <= input_dropout < 1:
            raise ValueError(f"input_dropout: expected a rate in [0, 1), got {input_dropout}")
        self.input_dropout = float(input_dropout)
        self.step_size = float(step_size)
        self.time = float(time) if time is not None else depth * self.step_size
        self.method, self.rtol, self.atol = method, float(rtol), float(atol)
        self.adjoint, self.variant = adjoint, variant
        self.encoder = Linear(in_channels, hidden_channels)
        self.func = self.make_field(hidden_channels, key_channels or hidden_channels)
        self.decoder = Linear(hidden_channels, out_channels)
        self._graph_cache = GraphCache()
        self._pattern_cache = GraphCache(self._attention_pattern)
        self.reset_parameters()

    def make_field(self, channels: int, key_channels: int) -> AttentionDiffusion:
        """Hook: the vector field (default: attention diffusion alone)."""
        return AttentionDiffusion(channels, key_channels)

    def reset_parameters(self) -> None:
        self.encoder.reset_parameters()
        self.func.reset_parameters()
        self.decoder.reset_parameters()

    @staticmethod
    def _attention_pattern(edge_index: Tensor, num_nodes: int) -> Tensor:
        r"""The CSR pattern of :math:`\mathcal{N}_i \cup \{i\}`, rows are targets: node i
        attends over the sources j of its edges (j, i)."""
        edges, _ = remove_self_loops(edge_index)
        edges, _ = add_self_loops(edges, num_nodes=num_nodes)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return to_torch_csr_tensor(edges.flip(0), size=num_nodes)

    def run(self, x: Tensor, edge_index: Tensor) -> tuple[Tensor, list[Tensor]]:
        hidden = [x]
        # the ODE runs in float32 with autocast off: a solver's steps and tolerances are
        # float32 arithmetic, and PyTorch has no 16-bit sampled_addmm on a CPU
        h = input_step(self.encoder, x, self.input_dropout, self.training)
        if h.dtype in (torch.float16, torch.bfloat16):
            h = h.float()
        pattern = self._pattern_cache(edge_index, x)
        graph = self._graph_cache(edge_index, x) if self.func.entropy is not None else None
        times = torch.linspace(0, self.time, self.depth + 1, dtype=h.dtype, device=h.device)
        options = {"step_size": self.step_size} if self.method in FIXED_STEP else None
        solve = odeint_adjoint if self.adjoint else odeint
        kwargs = dict(method=self.method, options=options, rtol=self.rtol, atol=self.atol)
        if self.adjoint:
            kwargs["adjoint_params"] = tuple(self.func.parameters())
        with torch.autocast(h.device.type, enabled=False):
            fixed = self.func.attention(h, pattern) if self.variant == "l" else None
            field = partial(self.func, pattern=pattern, graph=graph, attention=fixed)
            trajectory = solve(field, h, times, **kwargs)
        hidden.extend(trajectory[1:].unbind(0))
        out = dropout(trajectory[-1], self.dropout, self.training)
        return self.decoder(out), hidden

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, time={self.time}, method={self.method!r}, "
                f"variant={self.variant!r}, adjoint={self.adjoint}")


class EntropicGRAND(GRAND):
    r"""Entropy-aware graph neural diffusion, the paper's eq. 19:

    .. math::
        \frac{d\mathbf{X}}{dt} = (A(\mathbf{X}) - I)\mathbf{X}
        + \lambda \nabla_{\mathbf{X}} S(\mathbf{X})

    with :math:`\nabla S` from :func:`eamp.entropy.entropy_gradient` on the graph prepared
    once per forward pass, detached or not as in :class:`~eamp.nn.EntropicConv`.

    Args:
        as :class:`GRAND`, and
        entropy_weight (float): :math:`\lambda \ge 0`. (default: ``10.0``: unlike eq. 5,
            eq. 19 has no factor :math:`T`, and :math:`\nabla S \approx
            \frac{C}{T} L\mathbf{X}` must outweigh the diffusion, so :math:`\lambda` must
            exceed about :math:`T / C_i` (16 T at degree 4, width 64))
        temperature (float): :math:`T > 0`. (default: ``1.0``)
        detach (bool): no gradient through the entropy term. (default: ``True``)
    """

    def __init__(self, in_channels: int, out_channels: int, depth: int,
                 hidden_channels: int = 64, dropout: float = 0.0, input_dropout: float = 0.5,
                 time: float | None = None, step_size: float = 1.0, method: str = "rk4",
                 rtol: float = 1e-5, atol: float = 1e-7, adjoint: bool = False,
                 variant: str = "l", key_channels: int | None = None,
                 entropy_weight: float = 10.0, temperature: float = 1.0,
                 detach: bool = True) -> None:
        self.entropy = EntropyOptions(entropy_weight=entropy_weight, temperature=temperature,
                                      detach=detach)
        super().__init__(in_channels, out_channels, depth, hidden_channels, dropout,
                         input_dropout, time, step_size, method, rtol, atol, adjoint, variant,
                         key_channels)

    def make_field(self, channels: int, key_channels: int) -> AttentionDiffusion:
        return AttentionDiffusion(channels, key_channels, entropy=self.entropy)

    def extra_repr(self) -> str:
        e = self.entropy
        return (f"{super().extra_repr()}, entropy_weight={e.entropy_weight}, "
                f"temperature={e.temperature}, detach={e.detach}")
