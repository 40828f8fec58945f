"""GRAND (Chamberlain et al., ICML 2021) and its entropy-aware version (the paper's
Appendix B), integrated with torchdiffeq."""

from __future__ import annotations

import math
import warnings
from functools import partial

import torch
from torch import Tensor
from torch.nn import Linear, Module, Parameter, init
from torch_geometric.index import ptr2index
from torch_geometric.utils import (
    add_self_loops,
    remove_self_loops,
    scatter,
    softmax,
    to_torch_csr_tensor,
)
from torchdiffeq import odeint, odeint_adjoint

from eamp.entropy import PreparedGraph, gradient_of
from eamp.models.base import DeepGNN
from eamp.nn.cache import GraphCache
from eamp.nn.functional import dropout
from eamp.nn.options import ENTROPY_WEIGHT, TEMPERATURE, EntropyOptions
from eamp.nn.sparse import input_step

__all__ = ["GRAND", "EntropicGRAND", "AttentionDiffusion", "SOLVERS", "FIXED_STEP",
           "NORMALIZATIONS", "AXES"]

FIXED_STEP = ("euler", "rk4", "midpoint")
SOLVERS = (*FIXED_STEP, "dopri5")
VARIANTS = ("nl", "l")


NORMALIZATIONS = ("softmax", "squareplus")
AXES = ("target", "source")


class AttentionDiffusion(Module):
    r"""The vector field of GRAND with an optional entropy term,

    .. math::
        \frac{d\mathbf{X}}{dt} = a\,(A(\mathbf{X}) - I)\mathbf{X} + b\,\mathbf{X}(0)
        + \lambda \nabla_{\mathbf{X}} S(\mathbf{X}),
        \qquad A(\mathbf{X})_{ij} = \frac{1}{H}\sum_{h=1}^{H}
        \operatorname{norm}\Big(\frac{(W_K^h \mathbf{x}_i)^\top W_Q^h \mathbf{x}_j}
        {\sqrt{d_k / H}}\Big)

    over the edges :math:`j \in \mathcal{N}_i \cup \{i\}`. ``norm`` is a softmax, or the
    authors' squareplus :math:`s \mapsto (s + \sqrt{s^2 + 4}) / 2` (after subtracting the
    largest score) divided by its sum, taken over each target's edges (:math:`A` row-stochastic)
    or over each source's (column-stochastic, the authors' ``attention_norm_idx=1`` on Cora).
    Without ``source``, :math:`a = 1, b = 0`; with it, :math:`a = \sigma(\alpha)` and
    :math:`b = \beta` are learned scalars, both starting at 0, and :math:`\mathbf{X}(0)` is
    the detached initial state (the authors' ``add_source``).

    The graph comes with each call, never as state: ``pattern`` (the CSR pattern of
    :math:`\mathcal{N}_i \cup \{i\}`), ``graph`` (the entropy's, when there is an entropy
    term), for GRAND-l a fixed ``attention`` and, with ``source``, ``x0``; bind them with
    :func:`functools.partial` to get the ``f(t, x)`` an ODE solver takes. The attention scores
    come from a sampled dense-dense product and :math:`A\mathbf{X}` from a CSR product: no
    ``[E, d]`` tensor.

    Args:
        channels (int): width of :math:`\mathbf{X}`.
        key_channels (int): :math:`d_k`, over all heads.
        entropy (EntropyOptions, optional): :math:`\lambda` (``entropy_weight``), :math:`T`,
            ``detach`` and ``normalize`` of the entropy term; none without one.
        heads (int): :math:`H`, which divides ``key_channels``. (default: ``1``)
        normalization (str): ``"softmax"`` or ``"squareplus"``. (default: ``"softmax"``)
        axis (str): ``"target"`` (each node's incoming weights sum to one) or ``"source"``
            (its outgoing weights do). (default: ``"target"``)
        source (bool): the learned scale and source term. (default: ``False``)
        constant_init (bool): key and query weights start at :math:`10^{-5}`, with biases
            (the authors' ``SpGraphTransAttentionLayer``): the attention starts uniform.
            (default: ``False``: PyTorch's initialisation, no biases)
    """

    def __init__(self, channels: int, key_channels: int,
                 entropy: EntropyOptions | None = None, heads: int = 1,
                 normalization: str = "softmax", axis: str = "target", source: bool = False,
                 constant_init: bool = False) -> None:
        super().__init__()
        self.key = Linear(channels, key_channels, bias=constant_init)
        self.query = Linear(channels, key_channels, bias=constant_init)
        self.entropy = entropy
        self.heads, self.normalization, self.axis = heads, normalization, axis
        self.constant_init = constant_init
        if source:
            self.alpha = Parameter(torch.zeros(()))
            self.beta = Parameter(torch.zeros(()))
        else:
            self.register_parameter("alpha", None)
            self.register_parameter("beta", None)

    def reset_parameters(self) -> None:
        for linear in (self.key, self.query):
            linear.reset_parameters()
            if self.constant_init:
                init.constant_(linear.weight, 1e-5)
        if self.alpha is not None:
            init.zeros_(self.alpha)
            init.zeros_(self.beta)

    def _normalize(self, scores: Tensor, crow: Tensor, col: Tensor, n: int) -> Tensor:
        """Scores ``[nnz, H]`` to weights summing to one over each group of edges."""
        if self.normalization == "squareplus":
            shifted = scores - scores.max()
            weights = (shifted + torch.sqrt(shifted * shifted + 4)) / 2
            index = col if self.axis == "source" else ptr2index(crow)
            total = scatter(weights, index, dim=0, dim_size=n, reduce="sum")
            return weights / (total[index] + 1e-16)
        if self.axis == "source":
            return softmax(scores, index=col, num_nodes=n)
        return softmax(scores, ptr=crow)

    def attention(self, x: Tensor, pattern: Tensor) -> Tensor:
        r"""The normalised :math:`A(\mathbf{X})` as a sparse CSR matrix on ``pattern``."""
        keys, queries = self.key(x), self.query(x)
        width = keys.size(-1) // self.heads
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            mask = pattern.to(x.dtype)
            scores = torch.stack([
                torch.sparse.sampled_addmm(
                    mask, keys[:, h * width:(h + 1) * width],
                    queries[:, h * width:(h + 1) * width].t(), beta=0.0,
                    alpha=1 / math.sqrt(width)).values()
                for h in range(self.heads)], dim=1)
            crow, col = mask.crow_indices(), mask.col_indices()
            # every row and column has its self-loop: no group is empty
            weights = self._normalize(scores, crow, col, x.size(0)).mean(1)
            return torch.sparse_csr_tensor(crow, col, weights, mask.shape)

    def forward(self, t: Tensor, x: Tensor, *, pattern: Tensor,
                graph: PreparedGraph | None = None, attention: Tensor | None = None,
                x0: Tensor | None = None) -> Tensor:
        attention = attention if attention is not None else self.attention(x, pattern)
        dx = torch.sparse.mm(attention, x, "sum") - x
        if self.alpha is not None:
            dx = torch.sigmoid(self.alpha) * dx + self.beta * x0
        entropy = self.entropy
        if entropy is not None and entropy.entropy_weight > 0:
            source = x.detach() if entropy.detach else x
            dx = dx + entropy.entropy_weight * gradient_of(source, graph, entropy.temperature,
                                                           entropy.normalize)
        return dx

    def extra_repr(self) -> str:
        return (f"heads={self.heads}, normalization={self.normalization!r}, "
                f"axis={self.axis!r}, source={self.alpha is not None}")


class GRAND(DeepGNN):
    r"""GRAND from `"GRAND: Graph Neural Diffusion" <https://arxiv.org/abs/2106.10934>`_:
    a linear encoder, the attention diffusion

    .. math::
        \frac{d\mathbf{X}}{dt} = (A(\mathbf{X}) - I)\,\mathbf{X}, \qquad t \in [0, \tau],

    (:class:`AttentionDiffusion`) integrated with torchdiffeq, then a linear decoder. The
    authors' Cora model differs in five ways, each an option here: eight attention heads,
    squareplus weights normalised over each source's edges, constant initial key and query
    weights, a learned scale and source term, and a ReLU before the decoder (with Adamax: the
    preset ``grand-chamberlain2021`` sets all of them).

    ``num_layers`` is the number of integration intervals: the hidden states are the input, then
    :math:`\mathbf{X}(k\tau/L)` for :math:`k = 1..L`; with a fixed-step solver and the default
    ``time = num_layers * step_size`` each interval is one step, the analogue of a layer.

    Args:
        in_channels, hidden_channels, num_layers, out_channels: as :class:`~eamp.models.GCN`.
        dropout (float): dropout before the decoder. (default: ``0.0``)
        input_dropout (float): dropout on the input features. (default: ``0.5``)
        time (float, optional): :math:`\tau`. (default: ``num_layers * step_size``)
        step_size (float): step of the fixed-step solvers. (default: ``1.0``)
        method (str): ``"euler"``, ``"rk4"``, ``"midpoint"`` or ``"dopri5"``.
            (default: ``"rk4"``)
        rtol, atol (float): tolerances of ``dopri5``. (default: ``1e-5``, ``1e-7``)
        adjoint (bool): back-propagate with the adjoint method. (default: ``False``)
        variant (str): ``"nl"`` (attention recomputed along the trajectory, GRAND-nl) or
            ``"l"`` (fixed from the initial state, GRAND-l). (default: ``"l"``)
        key_channels (int, optional): attention width :math:`d_k`, over all heads.
            (default: width)
        heads, normalization, axis, source, constant_init: of the attention and the field,
            as :class:`AttentionDiffusion`. (defaults: ``1``, ``"softmax"``, ``"target"``,
            ``False``, ``False``)
        output_relu (bool): a ReLU on the final state, before dropout and the decoder (the
            authors' ``GNN.forward``). (default: ``False``)
    """

    # an ODE has no layers to checkpoint: use adjoint=True for memory
    supports_checkpointing = False

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        num_layers: int,
        out_channels: int,
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
        heads: int = 1,
        normalization: str = "softmax",
        axis: str = "target",
        source: bool = False,
        constant_init: bool = False,
        output_relu: bool = False,
    ) -> None:
        super().__init__(in_channels, hidden_channels, num_layers, out_channels, dropout)
        key_channels = key_channels or hidden_channels
        if isinstance(heads, bool) or not isinstance(heads, int) or heads < 1 \
                or key_channels % heads:
            raise ValueError(f"heads: expected an integer >= 1 dividing key_channels "
                             f"({key_channels}), got {heads!r}")
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization: expected one of {NORMALIZATIONS}, got "
                             f"{normalization!r}")
        if axis not in AXES:
            raise ValueError(f"axis: expected one of {AXES}, got {axis!r}")
        for name, flag in (("source", source), ("constant_init", constant_init),
                           ("output_relu", output_relu)):
            if not isinstance(flag, bool):
                raise ValueError(f"{name}: expected true or false, got {flag!r}")
        self.attention_options = dict(heads=heads, normalization=normalization, axis=axis,
                                      source=source, constant_init=constant_init)
        self.output_relu = output_relu
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
        self.time = float(time) if time is not None else num_layers * self.step_size
        self.method, self.rtol, self.atol = method, float(rtol), float(atol)
        self.adjoint, self.variant = adjoint, variant
        self.encoder = Linear(in_channels, hidden_channels)
        self.func = self.make_field(hidden_channels, key_channels)
        self.decoder = Linear(hidden_channels, out_channels)
        self._graph_cache = GraphCache()
        self._pattern_cache = GraphCache(self._attention_pattern)
        self.reset_parameters()

    def make_field(self, channels: int, key_channels: int) -> AttentionDiffusion:
        """Hook: the vector field (default: attention diffusion alone)."""
        return AttentionDiffusion(channels, key_channels, **self.attention_options)

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
        times = torch.linspace(0, self.time, self.num_layers + 1, dtype=h.dtype, device=h.device)
        options = {"step_size": self.step_size} if self.method in FIXED_STEP else None
        solve = odeint_adjoint if self.adjoint else odeint
        kwargs = dict(method=self.method, options=options, rtol=self.rtol, atol=self.atol)
        if self.adjoint:
            kwargs["adjoint_params"] = tuple(self.func.parameters())
        with torch.autocast(h.device.type, enabled=False):
            fixed = self.func.attention(h, pattern) if self.variant == "l" else None
            x0 = h.detach() if self.func.alpha is not None else None
            field = partial(self.func, pattern=pattern, graph=graph, attention=fixed, x0=x0)
            trajectory = solve(field, h, times, **kwargs)
        hidden.extend(trajectory[1:].unbind(0))
        out = torch.relu(trajectory[-1]) if self.output_relu else trajectory[-1]
        out = dropout(out, self.dropout, self.training)
        return self.decoder(out), hidden

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, time={self.time}, method={self.method!r}, "
                f"variant={self.variant!r}, adjoint={self.adjoint}"
                + (", output_relu=True" if self.output_relu else ""))


class EntropicGRAND(GRAND):
    r"""Entropy-aware graph neural diffusion, the paper's eq. 19:

    .. math::
        \frac{d\mathbf{X}}{dt} = (A(\mathbf{X}) - I)\mathbf{X}
        + \lambda \nabla_{\mathbf{X}} S(\mathbf{X})

    with :math:`\nabla S` from :func:`eamp.entropy.entropy_gradient` on the graph prepared
    once per forward pass, detached or not as in :class:`~eamp.nn.EntropicConv`.

    Takes :class:`GRAND`'s arguments, and:

    Args:
        entropy_weight (float): :math:`\lambda \ge 0`. (default: the layer's,
            :data:`~eamp.nn.options.ENTROPY_WEIGHT`). Unlike eq. 5, eq. 19 has no factor
            :math:`T`, and :math:`\nabla S \approx \frac{C}{T} L\mathbf{X}` must outweigh
            the diffusion, so the term only counts once :math:`\lambda` exceeds about
            :math:`T / C_i` (16 T at degree 4, width 64): at the default it is weak.
        temperature (float): :math:`T > 0`. (default: the layer's,
            :data:`~eamp.nn.options.TEMPERATURE`)
        detach (bool): no gradient through the entropy term. (default: ``True``)
    """

    def __init__(self, in_channels: int, hidden_channels: int, num_layers: int,
                 out_channels: int, dropout: float = 0.0, input_dropout: float = 0.5,
                 time: float | None = None, step_size: float = 1.0, method: str = "rk4",
                 rtol: float = 1e-5, atol: float = 1e-7, adjoint: bool = False,
                 variant: str = "l", key_channels: int | None = None, heads: int = 1,
                 normalization: str = "softmax", axis: str = "target", source: bool = False,
                 constant_init: bool = False, output_relu: bool = False,
                 entropy_weight: float = ENTROPY_WEIGHT, temperature: float = TEMPERATURE,
                 detach: bool = True) -> None:
        self.entropy = EntropyOptions(entropy_weight=entropy_weight, temperature=temperature,
                                      detach=detach)
        super().__init__(in_channels, hidden_channels, num_layers, out_channels, dropout,
                         input_dropout, time, step_size, method, rtol, atol, adjoint, variant,
                         key_channels, heads, normalization, axis, source, constant_init,
                         output_relu)

    def make_field(self, channels: int, key_channels: int) -> AttentionDiffusion:
        return AttentionDiffusion(channels, key_channels, entropy=self.entropy,
                                  **self.attention_options)

    def extra_repr(self) -> str:
        e = self.entropy
        return (f"{super().extra_repr()}, entropy_weight={e.entropy_weight}, "
                f"temperature={e.temperature}, detach={e.detach}")
