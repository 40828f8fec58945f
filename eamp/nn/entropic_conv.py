"""The entropy-aware wrapper around any PyG message-passing layer."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.nn import Module, Parameter

from eamp.checks import real_number
from eamp.entropy import PreparedGraph, dirichlet_energy, entropy_of, gradient_of
from eamp.nn.cache import GraphCache
from eamp.nn.functional import dropout
from eamp.nn.options import ENTROPY_WEIGHT, TEMPERATURE, EntropyOptions
from eamp.nn.schedules import adaptive_weight

__all__ = ["EntropicConv", "EntropyStepWarning", "check_step"]


class EntropicConv(Module):
    r"""Entropy-aware message passing from the `"Entropy Aware Message Passing in Graph Neural
    Networks" <https://arxiv.org/abs/2403.04636>`_ paper (Nazari et al., 2023), eq. 5:

    .. math::
        \mathbf{X}^{k+1} = \mathbf{X}^k + \phi(\mathbf{X}^k)
        + \lambda T \, \nabla_{\mathbf{X}} S(\mathbf{X}^k_c)

    where :math:`\phi` is the wrapped layer's update, :math:`S` the Boltzmann entropy of the
    node energies (:func:`eamp.entropy.boltzmann_entropy`) and :math:`\mathbf{X}_c` a detached
    copy. For a plain layer :math:`\mathbf{X}^{k+1} = \sigma(\mathrm{conv}(\mathbf{X}^k))`,
    :math:`\phi = \sigma(\mathrm{conv}(\mathbf{X}^k)) - \mathbf{X}^k`, so this layer computes

    - ``gradient_at="input"`` (eq. 5, default):
      :math:`\sigma(\mathrm{conv}(\mathbf{X})) + \lambda T \nabla S(\mathbf{X})`, which needs
      ``conv`` to keep the width;
    - ``gradient_at="output"`` (the authors' released code): with
      :math:`\mathbf{H} = \mathrm{conv}(\mathbf{X})`,
      :math:`\sigma(\mathbf{H} + \lambda T \nabla S(\mathbf{H}))`.

    With ``schedule="adaptive"``, :math:`\lambda` becomes
    :math:`\lambda (1 + \gamma \max(0, 1 - S(\mathbf{X}^k)/S_0))` with :math:`S_0` the entropy
    passed as ``reference_entropy`` (:func:`eamp.nn.schedules.adaptive_weight`).

    The entropy uses the graph without self-loops or duplicate edges. Pass ``entropy_graph``
    (from :func:`eamp.entropy.prepare_graph`) to share that work across layers; otherwise it is
    prepared from ``edge_index`` and cached while the same tensor comes back.

    Args:
        conv (Module): the wrapped layer, called as ``conv(x, edge_index, *args, **kwargs)``.
        entropy_weight (float): :math:`\lambda \ge 0`. (default:
            :data:`~eamp.nn.options.ENTROPY_WEIGHT`, ``1.0``)
        temperature (float): :math:`T > 0`. (default: :data:`~eamp.nn.options.TEMPERATURE`,
            ``10.0``)
        learn_entropy_weight (bool): learn :math:`\lambda` (kept positive through its log).
            (default: ``False``)
        learn_temperature (bool): learn :math:`T` (kept positive through its log).
            (default: ``False``)
        detach (bool): take the gradient on a detached copy, so no gradient reaches
            :math:`\mathbf{X}` through the entropy term (the paper); ``False`` back-propagates
            through the closed form. :math:`\lambda` and :math:`T` get gradients either way.
            (default: ``True``)
        gradient_at (str): ``"input"`` or ``"output"``, see above. (default: ``"input"``)
        act (Callable, optional): :math:`\sigma`, applied inside the layer so that
            ``gradient_at`` can place the entropy step around it. (default: identity)
        schedule (str): ``"constant"`` or ``"adaptive"``. (default: ``"constant"``)
        schedule_gain (float): :math:`\gamma \ge 0` of the adaptive schedule. (default: ``1.0``)
        dropout (float): dropout on the wrapped layer's input only (the entropy always sees
            the clean :math:`\mathbf{X}^k`). (default: ``0.0``)
        normalize (bool): use the paper's :math:`C_i = 1/\sqrt{|\mathcal{N}_i| d}`.
            (default: ``True``)

    Shapes:
        - **input:** node features :math:`(|\mathcal{V}|, F_{in})`, edge indices
          :math:`(2, |\mathcal{E}|)`, and whatever else ``conv`` takes
        - **output:** node features :math:`(|\mathcal{V}|, F_{out})`
    """

    def __init__(
        self,
        conv: Module,
        entropy_weight: float = ENTROPY_WEIGHT,
        temperature: float = TEMPERATURE,
        *,
        learn_entropy_weight: bool = False,
        learn_temperature: bool = False,
        detach: bool = True,
        gradient_at: str = "input",
        act: Callable[[Tensor], Tensor] | None = None,
        schedule: str = "constant",
        schedule_gain: float = 1.0,
        dropout: float = 0.0,
        normalize: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(conv, Module):
            raise ValueError(f"conv: expected a torch.nn.Module, got {type(conv).__name__}")
        # the entropy settings, checked once into one frozen object
        self.options = EntropyOptions(
            entropy_weight=entropy_weight, temperature=temperature,
            learn_entropy_weight=learn_entropy_weight, learn_temperature=learn_temperature,
            detach=detach, gradient_at=gradient_at, schedule=schedule,
            schedule_gain=schedule_gain, normalize=normalize)
        self.dropout = real_number("dropout", dropout, low=0.0)
        if self.dropout >= 1:
            raise ValueError(f"dropout: expected a rate in [0, 1), got {dropout}")
        self.conv = conv
        self.act = act
        self.log_entropy_weight = (Parameter(torch.empty(()))
                                   if self.options.learn_entropy_weight else None)
        self.log_temperature = (Parameter(torch.empty(()))
                                if self.options.learn_temperature else None)
        self._graph_cache = GraphCache()
        self._step_checked = False
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r"""Resets the wrapped layer and :math:`\lambda`, :math:`T` to their initial values."""
        if hasattr(self.conv, "reset_parameters"):
            self.conv.reset_parameters()
        with torch.no_grad():
            if self.log_entropy_weight is not None:
                self.log_entropy_weight.fill_(math.log(self.options.entropy_weight))
            if self.log_temperature is not None:
                self.log_temperature.fill_(math.log(self.options.temperature))

    @property
    def entropy_weight(self) -> Tensor | float:
        r"""The current :math:`\lambda`."""
        if self.log_entropy_weight is not None:
            return self.log_entropy_weight.exp()
        return self.options.entropy_weight

    @property
    def temperature(self) -> Tensor | float:
        """The current :math:`T`."""
        if self.log_temperature is not None:
            return self.log_temperature.exp()
        return self.options.temperature

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        *args: Any,
        entropy_graph: PreparedGraph | None = None,
        reference_entropy: Tensor | None = None,
        **kwargs: Any,
    ) -> Tensor:
        """Runs ``conv`` and adds the entropy-ascent step.

        Args:
            x (Tensor): node features.
            edge_index (Tensor): the edges given to ``conv`` (and, unless ``entropy_graph`` is
                given, to the entropy).
            args, kwargs: whatever else ``conv`` takes, passed on to it.
            entropy_graph (PreparedGraph, optional): the graph of the entropy.
            reference_entropy (Tensor, optional): :math:`S_0` for the adaptive schedule;
                without it the schedule leaves :math:`\\lambda` unchanged.
        """
        out = self.conv(dropout(x, self.dropout, self.training), edge_index, *args, **kwargs)
        if self.options.gradient_at == "output":
            out = _plus(out, self.entropy_step(out, edge_index, entropy_graph,
                                               reference_entropy))
            return self.act(out) if self.act is not None else out
        if self.act is not None:
            out = self.act(out)
        if out.shape != x.shape:
            raise ValueError(
                f"x: gradient_at='input' adds the entropy gradient of the input to the output, "
                f"so conv must keep the shape; got input {list(x.shape)} and output "
                f"{list(out.shape)} (use gradient_at='output')"
            )
        return _plus(out, self.entropy_step(x, edge_index, entropy_graph, reference_entropy))

    def reference_entropy(self, x: Tensor, graph: PreparedGraph) -> Tensor | None:
        r"""The adaptive schedule's reference :math:`S_0`: the entropy of ``x`` at this
        layer's temperature, or ``None`` for the constant schedule. A model passes the value
        its first entropic layer computes from that layer's input to every later layer."""
        if self.options.schedule != "adaptive":
            return None
        with torch.no_grad():
            return entropy_of(x, graph.to(x.device), self.temperature, self.options.normalize)

    @torch.compiler.disable  # eager under torch.compile: sparse products, a one-time check
    def entropy_step(
        self,
        x: Tensor,
        edge_index: Tensor,
        entropy_graph: PreparedGraph | None = None,
        reference_entropy: Tensor | None = None,
    ) -> Tensor:
        r""":math:`\lambda T \nabla_{\mathbf{X}} S(\mathbf{X})`, the term this layer adds."""
        weight, temperature = self.entropy_weight, self.temperature
        if self.log_entropy_weight is None and weight == 0:
            return torch.zeros_like(x)
        graph = entropy_graph if entropy_graph is not None else self._graph_cache(edge_index, x)
        if graph.num_nodes != x.size(0):
            raise ValueError(f"entropy_graph: has {graph.num_nodes} nodes, x has {x.size(0)} rows")
        graph = graph.to(x.device)
        if x.dtype in (torch.float16, torch.bfloat16):  # under autocast: the entropy is float32
            x = x.float()
        source = x.detach() if self.options.detach else x
        if reference_entropy is not None and self.options.schedule == "adaptive":
            with torch.no_grad():
                entropy = entropy_of(source, graph, temperature, self.options.normalize)
            weight = adaptive_weight(
                torch.as_tensor(weight, dtype=x.dtype, device=x.device),
                entropy,
                torch.as_tensor(reference_entropy, dtype=x.dtype, device=x.device),
                self.options.schedule_gain,
            )
        step = gradient_of(source, graph, temperature, self.options.normalize,
                           scale=weight * temperature)
        if not self._step_checked:
            self._step_checked = True
            check_step(step, source, graph, self.options)
        return step

    def __repr__(self) -> str:
        o = self.options
        learn = []
        if o.learn_entropy_weight:
            learn.append("entropy_weight")
        if o.learn_temperature:
            learn.append("temperature")
        extra = f", learn={learn}" if learn else ""
        if self.dropout:
            extra += f", dropout={self.dropout}"
        if o.schedule != "constant":
            extra += f", schedule={o.schedule!r}, schedule_gain={o.schedule_gain}"
        return (
            f"{self.__class__.__name__}({self.conv}, entropy_weight="
            f"{o.entropy_weight}, temperature={o.temperature}, "
            f"detach={o.detach}, gradient_at={o.gradient_at!r}{extra})"
        )


def _plus(out: Tensor, step: Tensor) -> Tensor:
    """``out + step``; into ``step``'s own memory when autograd allows it (a detached step,
    a fresh tensor of this layer's): one ``[n, d]`` allocation fewer per layer."""
    if step.requires_grad or step.dtype != torch.promote_types(out.dtype, step.dtype):
        return out + step
    return step.add_(out)


class EntropyStepWarning(UserWarning):
    r"""The entropy step is numerically zero (or not finite) for every node: at these
    :math:`\lambda` and :math:`T` a model trains without the entropy term."""


# (lambda, T, what happened) already said in this process: one line for a whole model
_SAID: set[tuple[float, float, str]] = set()


def check_step(step: Tensor, x: Tensor, graph: PreparedGraph, options: EntropyOptions) -> None:
    r"""Warns (:class:`EntropyStepWarning`, once per :math:`\lambda`, :math:`T` and kind in
    a process) when the step :math:`\lambda T \nabla S` a layer computed is zero for every
    node although the embedding ``x`` is not constant on the edges (``exp(-E/T)`` underflows
    for every node: :math:`T` far below the energies), or when it is not finite (it
    overflows). An entropic layer calls it on its first step; it costs one pass over the
    energies, once."""
    if options.entropy_weight == 0 and not options.learn_entropy_weight:
        return
    with torch.no_grad():
        finite = bool(torch.isfinite(step).all())
        if finite and bool((step != 0).any()):
            return
        energy = dirichlet_energy(x.detach(), graph, normalize=options.normalize)
        low, high = float(energy.min()), float(energy.max())
    if finite and high == 0:
        return  # a constant embedding: the gradient is zero, exactly
    kind = "zero" if finite else "not finite"
    key = (options.entropy_weight, options.temperature, kind)
    if key in _SAID:
        return
    _SAID.add(key)
    why = (f"exp(-E/T) underflows for every node (E/T >= {low / options.temperature:.3g})"
           if finite else "it overflows")
    warnings.warn(EntropyStepWarning(
        f"the entropy step lambda*T*grad S is {kind} for every node at entropy_weight="
        f"{options.entropy_weight:g}, temperature={options.temperature:g}, with node energies "
        f"E in [{low:.3g}, {high:.3g}]: {why}; the model trains without the entropy term "
        "(choose T near the energies)"), stacklevel=2)
