"""PyTorch modules for networks imported from NIR (time-major ``[T, B, ...]``, as `dassdp.models.snn`).

`NIRNetwork` runs named layers in sequence; besides ``nn.Linear``, ``nn.Conv1d/2d``,
``nn.MaxPool1d/2d``, ``nn.AvgPool2d``, ``nn.Flatten`` and our `dassdp.models.snn.LIF` it uses:

- `CubaLIF`: ``syn[t] = alpha syn[t-1] + I[t]``; ``u[t] = beta v[t-1] + syn[t]``; spike and reset
  as `dassdp.models.snn.lif_step`;
- `LI`: ``v[t] = beta v[t-1] + I[t]``, non-spiking (outputs ``v``);
- `SumPool2d`: ``y = sum over each window`` (``avg_pool2d`` with ``divisor_override=1``);
- `TimeMean`: ``y = (1/T) sum_t x[t]`` (the readout of `SpikingMLP`).
"""

from __future__ import annotations

import torch
from torch import nn

from dassdp.models.snn import LIFParameters, LIFState, lif_step

__all__ = ["LI", "CubaLIF", "NIRNetwork", "SumPool2d", "TimeMean"]


def _as_buffer(module: nn.Module, name: str, value) -> None:
    module.register_buffer(name, torch.as_tensor(value, dtype=torch.float64).clone())


class CubaLIF(nn.Module):
    """Current-based LIF: a synaptic current ``syn`` (decay ``alpha``) drives a `LIF` membrane."""

    step_mode = "m"

    def __init__(self, alpha, beta, threshold=1.0, reset: str = "subtract") -> None:
        super().__init__()
        if reset not in ("subtract", "zero"):
            raise ValueError(f"reset must be 'subtract' or 'zero', got {reset!r}")
        _as_buffer(self, "alpha", alpha)
        _as_buffer(self, "beta", beta)
        _as_buffer(self, "threshold", threshold)
        self.reset = reset

    def forward(self, currents: torch.Tensor) -> torch.Tensor:
        p = LIFParameters(self.beta, self.threshold, self.reset)
        syn = torch.zeros_like(currents[0])
        state = LIFState(torch.zeros_like(currents[0]))
        out = []
        for current in currents:
            syn = self.alpha * syn + current
            s, state = lif_step(syn, state, p)
            out.append(s)
        return torch.stack(out)


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
