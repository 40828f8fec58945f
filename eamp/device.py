"""Where a run computes and in which precision: the ``device`` and ``precision`` settings.

Devices: ``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda``, ``cuda:N``, ``mps``.

Precisions (PyTorch Lightning's names):

- ``32``: every op in float32.
- ``bf16-mixed``: forward and loss under ``torch.autocast(dtype=torch.bfloat16)`` (CPU and
  GPU). Dense matrix products (the layers' linear maps) run in bfloat16; the graph's
  sparse products (the propagation, a product per layer over the normalized adjacency;
  attention's weighted sums) take the bfloat16 output in float32, since PyTorch has no
  16-bit sparse kernels on a CPU, and what follows them (bias, activation, dropout),
  softmax and the loss run in float32. Parameters, gradients and Adam's state stay
  float32. On Cora at width 256 and depth 16 a GCN's training step is about 2x faster
  than in 32-bit on a CPU with native bfloat16 (``benchmarks/train_epoch.py``).
- ``16-mixed``: the same with float16 and a gradient scaler (GPU only).

In every precision the entropy (energies, exponentials, its gradient and its sparse
products) runs in float32 with autocast off: in 16 bits ``exp(-E/T)`` underflows and the
gradient's differences cancel. A sparse input projection (see
:func:`~eamp.nn.sparse_features`) also runs in float32: PyTorch's sparse kernels have no
16-bit versions, and it is cheap.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["DEVICES", "PRECISIONS", "check_device", "check_precision",
           "resolve_device", "float64_device", "device_name", "autocast", "grad_scaler",
           "worker_device", "native_bf16"]

DEVICES = "auto, cpu, cuda, cuda:N or mps"
PRECISIONS = ("32", "bf16-mixed", "16-mixed")
_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def check_device(device: object) -> str:
    """``device`` as given, if it is one of :data:`DEVICES` (the text, not whether the
    machine has it); else a ``ValueError`` naming it."""
    if not isinstance(device, str) or not _PATTERN.fullmatch(device.strip().lower()):
        raise ValueError(f"device: expected {DEVICES}, got {device!r}")
    return device.strip().lower()


def resolve_device(device: str) -> torch.device:
    """The ``torch.device`` that ``device`` names on this machine; a ``ValueError`` says
    why a device cannot be used here (no CUDA build, no such GPU, no MPS)."""
    import torch

    device = check_device(device)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None else "no GPU visible"
            raise ValueError(f"device: {device!r} asked for, but this torch "
                             f"({torch.__version__}) has {build}; use --device cpu or auto")
        index = int(device.split(":")[1]) if ":" in device else torch.cuda.current_device()
        if index >= torch.cuda.device_count():
            raise ValueError(f"device: {device!r} asked for, but this machine has "
                             f"{torch.cuda.device_count()} GPU(s) (cuda:0 ...)")
        return torch.device("cuda", index)
    if device == "mps" and not (hasattr(torch.backends, "mps")
                                and torch.backends.mps.is_available()):
        raise ValueError("device: 'mps' asked for, but MPS is not available here")
    return torch.device(device)


def float64_device(device: torch.device) -> torch.device:
    """Where float64 sums of ``device``'s tensors run: ``device`` itself, or the CPU for
    MPS, which has no float64."""
    import torch

    return torch.device("cpu") if device.type == "mps" else device


def check_precision(precision: object, device: str | None = None) -> str:
    """``precision`` (its text) if it is one of :data:`PRECISIONS` and, with ``device``,
    if that device of this machine can run it (``16-mixed`` needs a GPU); else a
    ``ValueError``. A config checks the text; a run checks the device when it starts."""
    text = str(precision) if isinstance(precision, int) and not isinstance(precision, bool) \
        else precision
    if text not in PRECISIONS:
        raise ValueError(f"precision: expected one of {', '.join(PRECISIONS)}, got "
                         f"{precision!r}")
    if text == "16-mixed" and device is not None and resolve_device(device).type == "cpu":
        raise ValueError("precision: '16-mixed' needs a GPU (CPUs have no fast float16 "
                         "products); use bf16-mixed on a CPU")
    return text


def device_name(device: torch.device) -> str:
    """A readable name of ``device``: the GPU's model, or the CPU's."""
    import platform

    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "cpu":
        try:
            with open("/proc/cpuinfo") as handle:
                for line in handle:
                    if line.startswith("model name"):
                        return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return platform.processor() or platform.machine()
    return device.type


def native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX-512 BF16 or AMX). Without it
    PyTorch emulates bfloat16 products, and ``bf16-mixed`` is many times slower than
    ``32`` (a 2708 x 256 x 256 product: 3 ms in float32, 270 ms emulated, on a 2-core AMD
    EPYC without AVX-512). PyTorch has no public test for it; this asks oneDNN's."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


@contextlib.contextmanager
def autocast(device: torch.device, precision: str) -> Iterator[None]:
    """``torch.autocast`` for ``precision`` on ``device`` (nothing for ``32``)."""
    import torch

    if precision == "32":
        yield
        return
    dtype = torch.bfloat16 if precision == "bf16-mixed" else torch.float16
    with torch.autocast(device.type, dtype=dtype):
        yield


def grad_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler:
    """A gradient scaler: active for ``16-mixed`` (float16 gradients underflow), a no-op
    otherwise."""
    import torch

    return torch.amp.GradScaler(device.type, enabled=precision == "16-mixed")


def worker_device(device: str, worker: int) -> str:
    """The device of worker ``worker`` of a command run on ``device``: with several GPUs
    and ``device`` ``auto`` or ``cuda`` (no index), the workers go round robin over them;
    otherwise every worker uses ``device``."""
    import torch

    device = check_device(device)
    if device in ("auto", "cuda") and torch.cuda.is_available():
        return f"cuda:{worker % torch.cuda.device_count()}"
    return device
