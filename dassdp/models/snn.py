"""PyTorch spiking layers trained with surrogate gradients (Norse style: pure step functions
over parameter/state tuples, thin ``nn.Module`` wrappers on top).

Time is discrete and counted in steps; tensors are time-major ``[T, B, ...]``.

**LIF step** (the exact order, which the Brian2 bridge reproduces), with ``reset_delay=None``
(this package's default):

1. decay and integrate: ``u[t] = beta * v[t-1] + I[t]``
2. spike, strictly above threshold: ``s[t] = H(u[t] - threshold)`` with ``H(x) = 1 if x > 0 else 0``
3. reset: ``"subtract"``: ``v[t] = u[t] - threshold * s[t]``; ``"zero"``: ``v[t] = u[t] * (1 - s[t])``;
   ``"none"``: ``v[t] = u[t]``

with ``v[-1] = 0``. In the backward pass ``H`` is replaced by a surrogate derivative (fast sigmoid,
Zenke & Ganguli 2018: ``1 / (alpha |x| + 1)^2``; or arctan, Fang et al. 2021:
``(alpha / 2) / (1 + (pi alpha x / 2)^2)``), and the reset term is detached from the graph
(as in snnTorch), so gradients flow through ``u`` only.

**snnTorch's step** (``reset_delay=True`` or ``False``: ``snntorch.Leaky`` of snnTorch 1.0,
forward pass, bit for bit in the same dtype). ``v`` is the membrane snnTorch stores between steps;
a reset is *pending* while it lies above threshold:

1. pending reset: ``r[t] = H(v[t-1] - threshold)``
2. integrate: ``"subtract"``: ``u[t] = (beta * v[t-1] + I[t]) - r[t] * threshold``;
   ``"zero"``: ``u[t] = beta * ((1 - r[t]) * v[t-1]) + I[t]``; ``"none"``: ``u[t] = beta * v[t-1] + I[t]``
3. spike: ``s[t] = H(u[t] - threshold)``
4. store: ``reset_delay=True`` (snnTorch's default) or ``"none"``: ``v[t] = u[t]`` (the reset of a
   spike is applied by step 2 of the next step); ``reset_delay=False``: ``"subtract"``:
   ``v[t] = u[t] - (s[t] - r[t]) * threshold``, ``"zero"``: ``v[t] = u[t] - (s[t] - r[t]) * u[t]``.

While ``v`` after a reset stays below threshold (``r = 0`` throughout) ``reset_delay=False`` equals
the default step; a membrane left above threshold by a subtraction (a strong input) makes them
differ: snnTorch then subtracts the threshold once more at the next step and, if that step does not
spike, adds it back. Gradients: the reset terms are detached (snnTorch keeps ``s[t]`` of step 4 in
the graph; the forward pass is the same).

Networks: `SpikingMLP` (Linear -> LIF per hidden layer) and `SpikingConvNet` (Conv -> LIF ->
MaxPool per block, 1-d or 2-d); both read out the time mean of a final non-spiking Linear layer
as logits. Max pooling keeps spikes binary, so every weight feeding a LIF layer sees spikes (or the
encoded input) and DA-SSDP can be applied to it.

Arguments are checked, and a bad one raises ``TypeError`` (wrong kind: a string for a number, a
bool or a float for a width) or ``ValueError`` (NaN, infinity, out of range) naming it. Tensor
values (a tensor ``beta`` or ``threshold``, the currents) are not checked, so that a forward pass
needs no device synchronisation; `lif_sequence` (and so `LIF`) checks its `LIFParameters` once
per window, `lif_step` at every call (a few microseconds).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal, NamedTuple

import torch
from torch import nn

from dassdp.checks import check_choice, check_count, check_finite, check_positive, check_type

ResetMode = Literal["subtract", "zero", "none"]
SurrogateName = Literal["fast_sigmoid", "atan"]

__all__ = [
    "LIFParameters",
    "LIFState",
    "spike",
    "lif_step",
    "pending_reset",
    "snntorch_membrane",
    "snntorch_store",
    "lif_sequence",
    "LIF",
    "SpikingMLP",
    "SpikingConvNet",
]


class LIFParameters(NamedTuple):
    """Parameters of `lif_step`. ``beta`` in [0, 1] and ``threshold > 0`` may be tensors (learnable
    or per neuron, broadcast against the current of one step; their values are not checked);
    ``alpha > 0`` scales the surrogate; ``reset_delay`` None (this package's step) or a bool
    (snnTorch's step with that ``reset_delay``), see the module docstring."""

    beta: torch.Tensor | float = 0.9
    threshold: torch.Tensor | float = 1.0
    reset: ResetMode = "subtract"
    surrogate: SurrogateName = "fast_sigmoid"
    alpha: float = 10.0
    reset_delay: bool | None = None


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
_RESETS = ("subtract", "zero", "none")


def _check_tensor(name: str, value) -> None:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")


def _check_beta(beta) -> None:
    check_finite("beta", beta)
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must lie in [0, 1], got {beta!r}")


def _check_parameters(p: LIFParameters) -> None:
    """The numbers and names of ``p`` (not the values of tensor fields)."""
    if not isinstance(p, LIFParameters):
        raise TypeError(f"p must be LIFParameters, got {type(p).__name__}")
    check_choice("reset", p.reset, _RESETS)
    check_type("reset_delay", p.reset_delay, bool, optional=True)
    check_choice("surrogate", p.surrogate, tuple(_SURROGATES))
    check_positive("alpha", p.alpha)
    if not isinstance(p.threshold, torch.Tensor):
        check_positive("threshold", p.threshold)
    if not isinstance(p.beta, torch.Tensor):
        _check_beta(p.beta)


def spike(x: torch.Tensor, surrogate: SurrogateName = "fast_sigmoid", alpha: float = 10.0) -> torch.Tensor:
    """``H(x) = 1 if x > 0 else 0`` with the named surrogate derivative."""
    _check_tensor("x", x)
    check_choice("surrogate", surrogate, tuple(_SURROGATES))
    check_positive("alpha", alpha)
    return _SURROGATES[surrogate].apply(x, alpha)


def lif_step(current: torch.Tensor, state: LIFState, p: LIFParameters) -> tuple[torch.Tensor, LIFState]:
    """One LIF step (see the module docstring): returns ``(s[t], LIFState(v[t]))``."""
    _check_parameters(p)
    if not isinstance(state, LIFState):
        raise TypeError(f"state must be a LIFState, got {type(state).__name__}")
    return _lif_step(current, state, p)


def _lif_step(current: torch.Tensor, state: LIFState, p: LIFParameters) -> tuple[torch.Tensor, LIFState]:
    """`lif_step` without the checks (`lif_sequence` checks once per window)."""
    if p.reset_delay is not None:
        r = pending_reset(state.v, p.threshold)
        u = snntorch_membrane(current, state.v, r, p)
        s = _SURROGATES[p.surrogate].apply(u - p.threshold, p.alpha)
        return s, LIFState(snntorch_store(u, s.detach(), r, p))
    u = p.beta * state.v + current
    s = _SURROGATES[p.surrogate].apply(u - p.threshold, p.alpha)
    reset = s.detach()
    if p.reset == "none":
        return s, LIFState(u)
    v = u - p.threshold * reset if p.reset == "subtract" else u * (1.0 - reset)
    return s, LIFState(v)


def pending_reset(v: torch.Tensor, threshold) -> torch.Tensor:
    """snnTorch's pending reset ``r = H(v - threshold)`` of the stored membrane ``v`` (no gradient)."""
    return (v.detach() - threshold > 0).to(v.dtype)


def snntorch_membrane(current: torch.Tensor, v: torch.Tensor, r: torch.Tensor, p: LIFParameters) -> torch.Tensor:
    """snnTorch ``Leaky``'s membrane before the spike, from the stored ``v`` and the pending reset ``r``:
    ``"subtract"``: ``(beta v + I) - r threshold``; ``"zero"``: ``beta ((1 - r) v) + I``;
    ``"none"``: ``beta v + I``."""
    if p.reset == "zero":
        return p.beta * ((1.0 - r) * v) + current
    u = p.beta * v + current
    return u - r * p.threshold if p.reset == "subtract" else u


def snntorch_store(u: torch.Tensor, s: torch.Tensor, r: torch.Tensor, p: LIFParameters) -> torch.Tensor:
    """The membrane snnTorch stores after spiking ``s`` from ``u``: ``u`` with ``reset_delay=True`` or
    ``reset="none"``; with ``reset_delay=False`` ``u - (s - r) threshold`` (``"subtract"``) or
    ``u - (s - r) u`` (``"zero"``)."""
    if p.reset_delay or p.reset == "none":
        return u
    net = s - r
    return u - net * p.threshold if p.reset == "subtract" else u - net * u


def lif_sequence(
    currents: torch.Tensor, p: LIFParameters, state: LIFState | None = None
) -> tuple[torch.Tensor, LIFState]:
    """`lif_step` over ``currents[T, B, ...]`` from ``v = 0`` (or ``state``): spikes ``[T, B, ...]``."""
    _check_tensor("currents", currents)
    if currents.ndim < 1 or currents.shape[0] < 1:
        raise ValueError(f"currents must hold at least one step [T, B, ...], got shape {tuple(currents.shape)}")
    _check_parameters(p)
    if state is not None and not isinstance(state, LIFState):
        raise TypeError(f"state must be a LIFState or None, got {type(state).__name__}")
    state = LIFState(torch.zeros_like(currents[0])) if state is None else state
    spikes = []
    for current in currents:
        s, state = _lif_step(current, state, p)
        spikes.append(s)
    return torch.stack(spikes), state


class LIF(nn.Module):
    """A population of LIF neurons over a whole window: ``forward(I[T, B, ...]) -> s[T, B, ...]``.

    ``beta`` and ``threshold`` are numbers, or tensors (per neuron, broadcast against the current of
    one step ``[B, ...]``, kept as buffers in their own dtype). ``learn_beta=True`` makes the decay
    trainable; it is clamped to [0, 1] in the forward pass. ``reset`` is ``"subtract"``, ``"zero"``
    or ``"none"``; ``reset_delay`` None runs this package's step, True or False snnTorch's
    ``Leaky`` step with that ``reset_delay`` (module docstring). ``step_mode = "m"`` (multi-step,
    SpikingJelly's convention) tells hooks that outputs are time-major windows.
    """

    step_mode = "m"

    def __init__(
        self,
        beta: float | torch.Tensor = 0.9,
        threshold: float | torch.Tensor = 1.0,
        reset: ResetMode = "subtract",
        learn_beta: bool = False,
        surrogate: SurrogateName = "fast_sigmoid",
        alpha: float = 10.0,
        reset_delay: bool | None = None,
    ) -> None:
        super().__init__()
        check_choice("reset", reset, _RESETS)
        check_choice("surrogate", surrogate, tuple(_SURROGATES))
        check_positive("alpha", alpha)
        check_type("learn_beta", learn_beta, bool)
        check_type("reset_delay", reset_delay, bool, optional=True)
        if isinstance(threshold, torch.Tensor):
            self.register_buffer("threshold", threshold.detach().clone())
        else:
            check_positive("threshold", threshold)
            self.threshold = float(threshold)
        if isinstance(beta, torch.Tensor):
            beta_t = beta.detach().clone()
        else:
            _check_beta(beta)
            beta_t = torch.tensor(float(beta))
        if learn_beta:
            self.beta = nn.Parameter(beta_t)
        else:
            self.register_buffer("beta", beta_t)
        self.reset, self.surrogate, self.alpha, self.reset_delay = reset, surrogate, float(alpha), reset_delay

    def parameters_tuple(self) -> LIFParameters:
        return LIFParameters(
            self.beta.clamp(0.0, 1.0), self.threshold, self.reset, self.surrogate, self.alpha, self.reset_delay
        )

    def forward(self, currents: torch.Tensor) -> torch.Tensor:
        return lif_sequence(currents, self.parameters_tuple())[0]

    def extra_repr(self) -> str:
        delay = "" if self.reset_delay is None else f", reset_delay={self.reset_delay}"
        return (
            f"beta={short_value(self.beta)}, threshold={short_value(self.threshold)}, reset={self.reset!r}, "
            f"surrogate={self.surrogate!r}{delay}"
        )


def short_value(value) -> str:
    """A number for ``extra_repr``, or the shape of a per-neuron tensor."""
    if not isinstance(value, torch.Tensor):
        return str(value)
    return f"tensor{tuple(value.shape)}" if value.numel() != 1 else f"{float(value):.3g}"


def _check_widths(name: str, values, minimum: int = 1) -> list[int]:
    """A list of integers ``>= minimum`` (any iterable but a string), each named ``name[i]``."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be a list of integers, got {type(values).__name__} {values!r}")
    values = list(values)
    for i, value in enumerate(values):
        check_count(f"{name}[{i}]", value, minimum)
    return values


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
        sizes = _check_widths("sizes", sizes)
        check_count("n_classes", n_classes, 1)
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
        input_shape = tuple(_check_widths("input_shape", input_shape))
        channels = _check_widths("channels", channels)
        check_count("hidden", hidden, 1)
        check_count("n_classes", n_classes, 1)
        dims = len(input_shape) - 1
        if dims not in (1, 2):
            raise ValueError(f"input_shape must be (C, L) or (C, H, W), got {input_shape}")
        if not channels:
            raise ValueError("channels must list at least one convolution block's width")
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
