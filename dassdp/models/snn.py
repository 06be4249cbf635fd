"""PyTorch spiking layers trained with surrogate gradients (Norse style: pure step functions
over parameter/state tuples, thin ``nn.Module`` wrappers on top).

Time is discrete and counted in steps; tensors are time-major ``[T, B, ...]``.

**LIF step** (the exact order, which the Brian2 bridge reproduces):

1. decay and integrate: ``u[t] = beta * v[t-1] + I[t]``
2. spike, strictly above threshold: ``s[t] = H(u[t] - threshold)`` with ``H(x) = 1 if x > 0 else 0``
3. reset: ``"subtract"``: ``v[t] = u[t] - threshold * s[t]``; ``"zero"``: ``v[t] = u[t] * (1 - s[t])``

with ``v[-1] = 0``. In the backward pass ``H`` is replaced by a surrogate derivative (fast sigmoid,
Zenke & Ganguli 2018: ``1 / (alpha |x| + 1)^2``; or arctan, Fang et al. 2021:
``(alpha / 2) / (1 + (pi alpha x / 2)^2)``), and the reset term is detached from the graph
(as in snnTorch), so gradients flow through ``u`` only. These dynamics equal snnTorch's
``Leaky(reset_delay=False)`` whenever ``v`` after a reset stays below the threshold.

Networks: `SpikingMLP` (Linear -> LIF per hidden layer) and `SpikingConvNet` (Conv -> LIF ->
MaxPool per block, 1-d or 2-d); both read out the time mean of a final non-spiking Linear layer
as logits. Max pooling keeps spikes binary, so every weight feeding a LIF layer sees spikes (or the
encoded input) and DA-SSDP can be applied to it.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import torch
from torch import nn

ResetMode = Literal["subtract", "zero"]
SurrogateName = Literal["fast_sigmoid", "atan"]

__all__ = [
    "LIFParameters",
    "LIFState",
    "spike",
    "lif_step",
    "lif_sequence",
    "LIF",
    "SpikingMLP",
    "SpikingConvNet",
]


class LIFParameters(NamedTuple):
    """Parameters of `lif_step`. ``beta`` in [0, 1] may be a tensor (learnable or per neuron)."""

    beta: torch.Tensor | float = 0.9
    threshold: float = 1.0
    reset: ResetMode = "subtract"
    surrogate: SurrogateName = "fast_sigmoid"
    alpha: float = 10.0


class LIFState(NamedTuple):
    """State of a LIF population: the membrane potential ``v`` after the last reset."""

    v: torch.Tensor


class _SpikeFunction(torch.autograd.Function):
    """``H(x)`` forward; the backward multiplies by the subclass's ``derivative(x, alpha)``."""

    @staticmethod
    def derivative(x: torch.Tensor, alpha: float) -> torch.Tensor:
        raise NotImplementedError

    @staticmethod
    def forward(ctx, x: torch.Tensor, alpha: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return (x > 0).to(x.dtype)

    @classmethod
    def backward(cls, ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        return grad * cls.derivative(x, ctx.alpha), None


class _FastSigmoidSpike(_SpikeFunction):
    @staticmethod
    def derivative(x: torch.Tensor, alpha: float) -> torch.Tensor:
        return 1.0 / (alpha * x.abs() + 1.0) ** 2


class _ArctanSpike(_SpikeFunction):
    @staticmethod
    def derivative(x: torch.Tensor, alpha: float) -> torch.Tensor:
        return (alpha / 2) / (1 + (math.pi / 2 * alpha * x) ** 2)


_SURROGATES = {"fast_sigmoid": _FastSigmoidSpike, "atan": _ArctanSpike}


def spike(x: torch.Tensor, surrogate: SurrogateName = "fast_sigmoid", alpha: float = 10.0) -> torch.Tensor:
    """``H(x) = 1 if x > 0 else 0`` with the named surrogate derivative."""
    return _SURROGATES[surrogate].apply(x, alpha)


def lif_step(current: torch.Tensor, state: LIFState, p: LIFParameters) -> tuple[torch.Tensor, LIFState]:
    """One LIF step (see the module docstring): returns ``(s[t], LIFState(v[t]))``."""
    u = p.beta * state.v + current
    s = spike(u - p.threshold, p.surrogate, p.alpha)
    reset = s.detach()
    v = u - p.threshold * reset if p.reset == "subtract" else u * (1.0 - reset)
    return s, LIFState(v)


def lif_sequence(
    currents: torch.Tensor, p: LIFParameters, state: LIFState | None = None
) -> tuple[torch.Tensor, LIFState]:
    """`lif_step` over ``currents[T, B, ...]`` from ``v = 0`` (or ``state``): spikes ``[T, B, ...]``."""
    state = LIFState(torch.zeros_like(currents[0])) if state is None else state
    spikes = []
    for current in currents:
        s, state = lif_step(current, state, p)
        spikes.append(s)
    return torch.stack(spikes), state


class LIF(nn.Module):
    """A population of LIF neurons over a whole window: ``forward(I[T, B, ...]) -> s[T, B, ...]``.

    ``learn_beta=True`` makes the decay a trainable scalar, clamped to [0, 1] in the forward pass.
    ``step_mode = "m"`` (multi-step, SpikingJelly's convention) tells hooks that outputs are
    time-major windows.
    """

    step_mode = "m"

    def __init__(
        self,
        beta: float = 0.9,
        threshold: float = 1.0,
        reset: ResetMode = "subtract",
        learn_beta: bool = False,
        surrogate: SurrogateName = "fast_sigmoid",
        alpha: float = 10.0,
    ) -> None:
        super().__init__()
        if reset not in ("subtract", "zero"):
            raise ValueError(f"reset must be 'subtract' or 'zero', got {reset!r}")
        if surrogate not in _SURROGATES:
            raise ValueError(f"surrogate must be one of {tuple(_SURROGATES)}, got {surrogate!r}")
        if not (threshold > 0 and alpha > 0):
            raise ValueError(f"threshold and alpha must be > 0, got {threshold!r} and {alpha!r}")
        if not 0.0 <= beta <= 1.0:
            raise ValueError(f"beta must lie in [0, 1], got {beta!r}")
        beta_t = torch.tensor(float(beta))
        if learn_beta:
            self.beta = nn.Parameter(beta_t)
        else:
            self.register_buffer("beta", beta_t)
        self.threshold, self.reset, self.surrogate, self.alpha = float(threshold), reset, surrogate, float(alpha)

    def parameters_tuple(self) -> LIFParameters:
        return LIFParameters(self.beta.clamp(0.0, 1.0), self.threshold, self.reset, self.surrogate, self.alpha)

    def forward(self, currents: torch.Tensor) -> torch.Tensor:
        return lif_sequence(currents, self.parameters_tuple())[0]

    def extra_repr(self) -> str:
        return (
            f"beta={float(self.beta):.3g}, threshold={self.threshold}, reset={self.reset!r}, "
            f"surrogate={self.surrogate!r}"
        )


def _time_distributed(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Apply a per-sample layer to ``x[T, B, ...]`` by folding time into the batch."""
    y = layer(x.flatten(0, 1))
    return y.unflatten(0, x.shape[:2])


class SpikingMLP(nn.Module):
    """``x[T, B, n_in]`` -> ``fc.k`` (Linear) -> ``lif.k`` (LIF) per hidden layer -> ``readout``.

    Logits are the time mean of the non-spiking readout: ``mean_t(W_out s_L[t] + b_out)``.
    """

    def __init__(self, sizes: list[int], n_classes: int, **lif_kwargs) -> None:
        super().__init__()
        if len(sizes) < 2:
            raise ValueError(f"sizes must list the input and at least one hidden width, got {sizes}")
        self.fc = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.lif = nn.ModuleList(LIF(**lif_kwargs) for _ in sizes[1:])
        self.readout = nn.Linear(sizes[-1], n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for fc, lif in zip(self.fc, self.lif):
            x = lif(fc(x))
        return self.readout(x).mean(0)


class SpikingConvNet(nn.Module):
    """``x[T, B, C, *spatial]`` -> per block ``conv.k`` (kernel 3, padding 1) -> ``lif.k`` ->
    MaxPool(2) -> flatten -> ``fc`` -> ``lif_fc`` -> ``readout`` (time mean, as in `SpikingMLP`).

    ``dims`` is 1 (sequences, ``input_shape = (C, L)``) or 2 (images, ``(C, H, W)``).
    """

    def __init__(
        self, input_shape: tuple[int, ...], channels: list[int], hidden: int, n_classes: int, **lif_kwargs
    ) -> None:
        super().__init__()
        dims = len(input_shape) - 1
        if dims not in (1, 2):
            raise ValueError(f"input_shape must be (C, L) or (C, H, W), got {input_shape}")
        conv, pool = (nn.Conv1d, nn.MaxPool1d) if dims == 1 else (nn.Conv2d, nn.MaxPool2d)
        widths = [input_shape[0], *channels]
        self.conv = nn.ModuleList(conv(a, b, 3, padding=1) for a, b in zip(widths[:-1], widths[1:]))
        self.lif = nn.ModuleList(LIF(**lif_kwargs) for _ in channels)
        self.pool = pool(2)
        spatial = [n // 2 ** len(channels) for n in input_shape[1:]]
        if min(spatial) < 1:
            raise ValueError(f"input_shape {input_shape} is too small for {len(channels)} pooling blocks")
        self.fc = nn.Linear(channels[-1] * math.prod(spatial), hidden)
        self.lif_fc = LIF(**lif_kwargs)
        self.readout = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv, lif in zip(self.conv, self.lif):
            x = _time_distributed(self.pool, lif(_time_distributed(conv, x)))
        x = self.lif_fc(self.fc(x.flatten(2)))
        return self.readout(x).mean(0)
