"""PyTorch modules for networks imported from NIR (time-major ``[T, B, ...]``, as `dassdp.models.snn`).

`NIRNetwork` runs named layers in sequence; besides ``nn.Linear``, ``nn.Conv1d/2d``,
``nn.MaxPool1d/2d``, ``nn.AvgPool2d``, ``nn.Flatten`` and our `dassdp.models.snn.LIF` it uses:

- `CubaLIF`: ``syn[t] = alpha syn[t-1] + I[t]``; ``u[t] = beta v[t-1] + syn[t]``; spike and reset
  as `dassdp.models.snn.lif_step`, or (``reset_delay`` True/False) as snnTorch's ``Synaptic``;
- `LI`: ``v[t] = beta v[t-1] + I[t]``, non-spiking (outputs ``v``);
- `SumPool2d`: ``y = sum over each window`` (``avg_pool2d`` with ``divisor_override=1``);
- `TimeMean`: ``y = (1/T) sum_t x[t]`` (the readout of `SpikingMLP`).
"""

from __future__ import annotations

import torch
from torch import nn

from dassdp.checks import check_choice, check_type
from dassdp.models.snn import (
    LIFParameters,
    LIFState,
    lif_step,
    pending_reset,
    short_value,
    snntorch_membrane,
    snntorch_store,
    spike,
)

__all__ = ["LI", "CubaLIF", "NIRNetwork", "SumPool2d", "TimeMean"]


def _as_buffer(module: nn.Module, name: str, value) -> None:
    module.register_buffer(name, torch.as_tensor(value, dtype=torch.float64).clone())


class CubaLIF(nn.Module):
    """Current-based LIF: a synaptic current ``syn`` (decay ``alpha``) drives a `LIF` membrane.

    ``reset_delay=None`` (default): ``syn[t] = alpha syn[t-1] + I[t]``, then `dassdp.models.snn.lif_step`
    on ``syn[t]`` (``reset`` ``"subtract"``, ``"zero"`` or ``"none"``).

    ``reset_delay`` True or False: snnTorch's ``Synaptic`` (snnTorch 1.0, forward pass, bit
    for bit in the same dtype), with the stored membrane ``v`` and its pending reset
    ``r[t] = H(v[t-1] - threshold)``::

        syn[t] = alpha syn[t-1] + I[t]                  (the current is never reset)
        a[t]   = beta v[t-1] + syn[t]
        u[t]   = a[t] - r[t] threshold   ("subtract")  |  a[t] - a[t] r[t]   ("zero")  |  a[t]   ("none")
        s[t]   = H(u[t] - threshold)

    and ``v[t]`` stored as in `dassdp.models.snn.snntorch_store` (``u[t]``, or with
    ``reset_delay=False`` ``u - (s - r) threshold`` / ``u - (s - r) u``). Unlike ``Leaky``'s, the
    zero reset also drops that step's input. ``alpha``, ``beta`` and ``threshold`` are used as given
    (snnTorch clamps ``alpha`` and ``beta`` to [0, 1]; `dassdp.bridge.from_snntorch` passes the
    clamped values).
    """

    step_mode = "m"

    def __init__(self, alpha, beta, threshold=1.0, reset: str = "subtract", reset_delay: bool | None = None) -> None:
        super().__init__()
        check_choice("reset", reset, ("subtract", "zero", "none"))
        check_type("reset_delay", reset_delay, bool, optional=True)
        _as_buffer(self, "alpha", alpha)
        _as_buffer(self, "beta", beta)
        _as_buffer(self, "threshold", threshold)
        self.reset, self.reset_delay = reset, reset_delay

    def extra_repr(self) -> str:
        delay = "" if self.reset_delay is None else f", reset_delay={self.reset_delay}"
        values = ", ".join(f"{name}={short_value(getattr(self, name))}" for name in ("alpha", "beta", "threshold"))
        return f"{values}, reset={self.reset!r}{delay}"

    def forward(self, currents: torch.Tensor) -> torch.Tensor:
        p = LIFParameters(self.beta, self.threshold, self.reset, reset_delay=self.reset_delay)
        step = lif_step if self.reset_delay is None else _synaptic_step
        syn = torch.zeros_like(currents[0])
        state = LIFState(torch.zeros_like(currents[0]))
        out = []
        for current in currents:
            syn = self.alpha * syn + current
            s, state = step(syn, state, p)
            out.append(s)
        return torch.stack(out)


def _synaptic_step(syn: torch.Tensor, state: LIFState, p: LIFParameters) -> tuple[torch.Tensor, LIFState]:
    """snnTorch ``Synaptic``'s membrane step on the current ``syn[t]`` (see `CubaLIF`)."""
    r = pending_reset(state.v, p.threshold)
    if p.reset == "zero":
        a = p.beta * state.v + syn
        u = a - a * r
    else:
        u = snntorch_membrane(syn, state.v, r, p)
    s = spike(u - p.threshold, p.surrogate, p.alpha)
    return s, LIFState(snntorch_store(u, s.detach(), r, p))


class LI(nn.Module):
    """Leaky integrator ``v[t] = beta v[t-1] + I[t]`` from ``v = 0``; returns ``v[T, B, ...]``."""

    step_mode = "m"

    def __init__(self, beta) -> None:
        super().__init__()
        _as_buffer(self, "beta", beta)

    def forward(self, currents: torch.Tensor) -> torch.Tensor:
        v = torch.zeros_like(currents[0])
        out = []
        for current in currents:
            v = self.beta * v + current
            out.append(v)
        return torch.stack(out)


class SumPool2d(nn.Module):
    """Sum pooling without padding: ``avg_pool2d(x, kernel, stride, divisor_override=1)``."""

    def __init__(self, kernel_size, stride=None) -> None:
        super().__init__()
        self.kernel_size = tuple(int(k) for k in torch.as_tensor(kernel_size).reshape(-1).expand(2))
        stride = self.kernel_size if stride is None else stride
        self.stride = tuple(int(k) for k in torch.as_tensor(stride).reshape(-1).expand(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.avg_pool2d(x, self.kernel_size, self.stride, divisor_override=1)


class TimeMean(nn.Module):
    """``x[T, B, ...] -> mean over T``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(0)


#: layers applied to ``[T, B, ...]`` by folding time into the batch
_PER_SAMPLE = (nn.Conv1d, nn.Conv2d, nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool2d, SumPool2d)


def apply_layer(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """One layer of a `NIRNetwork` on a time-major tensor."""
    if isinstance(layer, _PER_SAMPLE):
        return layer(x.flatten(0, 1)).unflatten(0, x.shape[:2])
    if isinstance(layer, nn.Flatten):
        return x.flatten(2)
    return layer(x)


class NIRNetwork(nn.Module):
    """Named layers run in sequence on ``x[T, B, ...]`` (a NIR graph that is a chain).

    ``metadata`` keeps the conventions the graph was read with (``dt``, ``reset``).
    """

    def __init__(
        self, layers: dict[str, nn.Module], input_shape: tuple[int, ...], metadata: dict | None = None
    ) -> None:
        super().__init__()
        self.names = list(layers)
        self.layers = nn.ModuleDict({name.replace(".", "_"): layer for name, layer in layers.items()})
        self.input_shape = tuple(int(n) for n in input_shape)
        self.metadata = dict(metadata or {})

    def named_layers(self) -> list[tuple[str, nn.Module]]:
        return [(name, self.layers[name.replace(".", "_")]) for name in self.names]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[2:]) != self.input_shape:
            raise ValueError(
                f"NIRNetwork expects input [T, B, {', '.join(map(str, self.input_shape))}], got {tuple(x.shape)}"
            )
        for _, layer in self.named_layers():
            x = apply_layer(layer, x)
        return x
