"""Lower a PyTorch model to a `dassdp.bridge.plan.Plan` (float64 copies of its parameters).

Supported: `dassdp.models.snn.SpikingMLP`, `dassdp.models.snn.SpikingConvNet`,
`dassdp.bridge.modules.NIRNetwork` and ``nn.Sequential`` chains of the layers listed in
`SUPPORTED`. Anything else raises `ConversionError` naming the layer.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dassdp.bridge import modules as M
from dassdp.bridge.plan import Affine, Conv, ConversionError, Flatten, MaxPool, Neurons, Plan, SumPool, TimeMean
from dassdp.models.snn import LIF, SpikingConvNet, SpikingMLP

SUPPORTED = (
    "nn.Linear, nn.Conv1d, nn.Conv2d (groups=1, zero padding), nn.MaxPool1d/2d (no padding), nn.AvgPool2d, "
    "SumPool2d, nn.Flatten, dassdp LIF, CubaLIF, LI, TimeMean"
)


def _np(t) -> np.ndarray:
    return t.detach().to("cpu", torch.float64).numpy().copy()


def _tuple(v, dims):
    return tuple(int(x) for x in np.broadcast_to(np.asarray(v), (dims,)))


def lower_layer(name: str, layer: nn.Module):
    """One PyTorch layer as a stage (``None`` for layers that change nothing, e.g. Identity)."""
    if isinstance(layer, nn.Linear):
        return Affine(name, _np(layer.weight), None if layer.bias is None else _np(layer.bias), module=layer)
    if isinstance(layer, (nn.Conv1d, nn.Conv2d)):
        if layer.groups != 1 or layer.padding_mode != "zeros" or isinstance(layer.padding, str):
            raise ConversionError(
                f"layer {name!r} ({type(layer).__name__}): only groups=1 and integer zero padding are supported "
                f"(got groups={layer.groups}, padding={layer.padding!r}, padding_mode={layer.padding_mode!r})"
            )
        return Conv(
            name,
            _np(layer.weight),
            None if layer.bias is None else _np(layer.bias),
            layer.stride,
            layer.padding,
            layer.dilation,
            module=layer,
        )
    if isinstance(layer, (nn.MaxPool1d, nn.MaxPool2d)):
        dims = 1 if isinstance(layer, nn.MaxPool1d) else 2
        if _tuple(layer.padding, dims) != (0,) * dims or _tuple(layer.dilation, dims) != (1,) * dims or layer.ceil_mode:
            raise ConversionError(
                f"layer {name!r} ({type(layer).__name__}): padding, dilation and ceil_mode are not supported"
            )
        stride = layer.kernel_size if layer.stride is None else layer.stride
        return MaxPool(name, _tuple(layer.kernel_size, dims), _tuple(stride, dims), module=layer)
    if isinstance(layer, (nn.AvgPool2d, M.SumPool2d)):
        if isinstance(layer, nn.AvgPool2d) and (
            _tuple(layer.padding, 2) != (0, 0) or layer.ceil_mode or layer.divisor_override
        ):
            raise ConversionError(
                f"layer {name!r} (AvgPool2d): padding, ceil_mode and divisor_override are not supported"
            )
        kernel = _tuple(layer.kernel_size, 2)
        stride = _tuple(layer.kernel_size if layer.stride is None else layer.stride, 2)
        scale = 1.0 if isinstance(layer, M.SumPool2d) else 1.0 / (kernel[0] * kernel[1])
        return SumPool(name, kernel, stride, scale, module=layer)
    if isinstance(layer, nn.Flatten):
        if layer.start_dim not in (1, -3, -2) or layer.end_dim != -1:
            raise ConversionError(f"layer {name!r} (Flatten): only flattening all feature dimensions is supported")
        return Flatten(name, module=layer)
    if isinstance(layer, LIF):
        p = layer.parameters_tuple()
        return Neurons(name, "lif", _np(torch.as_tensor(p.beta)), p.threshold, layer.reset, module=layer)
    if isinstance(layer, M.CubaLIF):
        return Neurons(
            name, "cubalif", _np(layer.beta), _np(layer.threshold), layer.reset, alpha=_np(layer.alpha), module=layer
        )
    if isinstance(layer, M.LI):
        return Neurons(name, "li", _np(layer.beta), np.inf, module=layer)
    if isinstance(layer, M.TimeMean):
        return TimeMean(name)
    if isinstance(layer, nn.Identity):
        return None
    raise ConversionError(f"layer {name!r} ({type(layer).__name__}) has no Brian2 equivalent; supported: {SUPPORTED}")


def lower(model: nn.Module, input_shape: tuple[int, ...] | None = None) -> Plan:
    """The stages of ``model`` for samples of ``input_shape`` (derived where the model fixes it)."""
    if isinstance(model, SpikingMLP):
        layers = []
        for k, (fc, lif) in enumerate(zip(model.fc, model.lif)):
            layers += [(f"fc.{k}", fc), (f"lif.{k}", lif)]
        layers += [("readout", model.readout), ("mean", M.TimeMean())]
        shape = (model.fc[0].in_features,)
    elif isinstance(model, SpikingConvNet):
        if input_shape is None:
            raise ConversionError(
                "SpikingConvNet: the input shape (C, H, W) or (C, L) is needed; pass inputs or input_shape"
            )
        layers = []
        for k, (conv, lif) in enumerate(zip(model.conv, model.lif)):
            layers += [(f"conv.{k}", conv), (f"lif.{k}", lif), (f"pool.{k}", model.pool)]
        layers += [
            ("flatten", nn.Flatten()),
            ("fc", model.fc),
            ("lif_fc", model.lif_fc),
            ("readout", model.readout),
            ("mean", M.TimeMean()),
        ]
        shape = input_shape
    elif isinstance(model, M.NIRNetwork):
        layers, shape = model.named_layers(), model.input_shape
    elif isinstance(model, nn.Sequential):
        if input_shape is None:
            raise ConversionError("nn.Sequential: the input shape of one sample is needed; pass inputs or input_shape")
        layers, shape = list(model.named_children()), input_shape
    else:
        raise ConversionError(
            f"model of type {type(model).__name__} is not supported: give a SpikingMLP, SpikingConvNet, "
            f"NIRNetwork or nn.Sequential of {SUPPORTED}"
        )
    if input_shape is not None and tuple(input_shape) != tuple(shape):
        raise ConversionError(
            f"{type(model).__name__} expects samples of shape {tuple(shape)}, got inputs of shape {tuple(input_shape)}"
        )
    stages = [stage for name, layer in layers if (stage := lower_layer(name, layer)) is not None]
    for k, stage in enumerate(stages):
        if isinstance(stage, TimeMean) and k != len(stages) - 1:
            raise ConversionError(f"layer {stage.name!r} (TimeMean) must be the last layer")
    plan = Plan(tuple(int(n) for n in shape), stages)
    plan.shapes()
    return plan


def apply_stage(stage, x: torch.Tensor) -> torch.Tensor:
    """Apply a linear stage's PyTorch module to ``x[T, B, ...]`` exactly as the model's forward does."""
    if isinstance(stage, Flatten):
        return x.flatten(2)
    return M.apply_layer(stage.module, x)
