"""Lower a PyTorch model to a `dassdp.bridge.plan.Plan` (float64 copies of its parameters).

Supported: `dassdp.models.snn.SpikingMLP`, `dassdp.models.snn.SpikingConvNet`,
`dassdp.bridge.modules.NIRNetwork`, ``nn.Sequential`` chains of the layers listed in
`SUPPORTED`, and `dassdp.bridge.replicas.Replicas` of fully connected such chains. Anything
else raises `ConversionError` naming the layer, as does a parameter
(weight, bias, ``beta``, threshold) holding NaN or infinite values; a ``model`` that is not a
``torch.nn.Module`` raises TypeError (`check_model`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dassdp.bridge import modules as M
from dassdp.bridge.plan import (
    Affine,
    BlockAffine,
    Conv,
    ConversionError,
    ConversionTypeError,
    Flatten,
    MaxPool,
    Neurons,
    Plan,
    SumPool,
    TimeMean,
)
from dassdp.checks import check_count, describe
from dassdp.models.snn import LIF, SpikingConvNet, SpikingMLP

__all__ = ["SUPPORTED", "apply_stage", "check_model", "check_shape", "lower", "lower_layer"]

SUPPORTED = (
    "nn.Linear, nn.Conv1d, nn.Conv2d (groups=1, zero padding), nn.MaxPool1d/2d (no padding), nn.AvgPool2d, "
    "SumPool2d, nn.Flatten, dassdp LIF, CubaLIF, LI, TimeMean"
)


#: the model types `lower` accepts, as error messages name them
MODEL_TYPES = "a SpikingMLP, SpikingConvNet, NIRNetwork, nn.Sequential or Replicas"


def check_model(model, name: str = "model") -> None:
    """Raise `ConversionTypeError` (a TypeError) unless ``model`` is a ``torch.nn.Module`` (which
    `lower` may still reject)."""
    if not isinstance(model, nn.Module):
        raise ConversionTypeError(f"{name} must be a torch.nn.Module ({MODEL_TYPES}), got {describe(model)}")


def check_shape(name: str, shape) -> tuple[int, ...]:
    """``shape`` as a tuple of positive integers (the shape of one sample); TypeError/ValueError naming ``name``."""
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        raise TypeError(f"{name} must be a tuple of positive integers, got {describe(shape)}")
    shape = tuple(shape)
    for n in shape:
        check_count(name, n.item() if isinstance(n, np.generic) else n, minimum=1)
    if not shape:
        raise ValueError(f"{name} must have at least one dimension, got ()")
    return tuple(int(n) for n in shape)


def _np(t) -> np.ndarray:
    return t.detach().to("cpu", torch.float64).numpy().copy()


def _finite(name: str, layer: nn.Module, **values) -> None:
    """Raise `ConversionError` naming the layer and parameter that holds NaN or infinite values."""
    for what, value in values.items():
        if value is None:
            continue
        array = np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value, dtype=np.float64)
        bad = int(np.count_nonzero(~np.isfinite(array)))
        if bad:
            raise ConversionError(
                f"layer {name!r} ({type(layer).__name__}): {what} has {bad} NaN or infinite value(s) of {array.size}"
            )


def _tuple(v, dims):
    return tuple(int(x) for x in np.broadcast_to(np.asarray(v), (dims,)))


def lower_layer(name: str, layer: nn.Module):
    """One PyTorch layer as a stage (``None`` for layers that change nothing, e.g. Identity)."""
    if isinstance(layer, (nn.Linear, nn.Conv1d, nn.Conv2d)):
        _finite(name, layer, weight=layer.weight, bias=layer.bias)
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
        _finite(name, layer, beta=torch.as_tensor(p.beta), threshold=torch.as_tensor(p.threshold))
        return Neurons(
            name,
            "lif",
            _np(torch.as_tensor(p.beta)),
            _np(torch.as_tensor(p.threshold, dtype=torch.float64)),  # a float threshold keeps its value
            layer.reset,
            module=layer,
            reset_delay=layer.reset_delay,
        )
    if isinstance(layer, M.CubaLIF):
        _finite(name, layer, alpha=layer.alpha, beta=layer.beta, threshold=layer.threshold)
        return Neurons(
            name,
            "cubalif",
            _np(layer.beta),
            _np(layer.threshold),
            layer.reset,
            alpha=_np(layer.alpha),
            module=layer,
            reset_delay=layer.reset_delay,
        )
    if isinstance(layer, M.LI):
        _finite(name, layer, beta=layer.beta)
        return Neurons(name, "li", _np(layer.beta), np.inf, module=layer)
    if isinstance(layer, M.TimeMean):
        return TimeMean(name)
    if isinstance(layer, nn.Identity):
        return None
    raise ConversionError(f"layer {name!r} ({type(layer).__name__}) has no Brian2 equivalent; supported: {SUPPORTED}")


def lower(model: nn.Module, input_shape: tuple[int, ...] | None = None) -> Plan:
    """The stages of ``model`` for samples of ``input_shape`` (derived where the model fixes it)."""
    check_model(model)
    if input_shape is not None:
        input_shape = check_shape("input_shape", input_shape)
    from dassdp.bridge.replicas import Replicas, lower_replicas

    if isinstance(model, Replicas):
        return lower_replicas(model, input_shape)
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
    if isinstance(stage, BlockAffine):  # each member's layer on its own features, as alone
        n_in = stage.blocks[0].in_size()
        parts = [x[..., r * n_in : (r + 1) * n_in].contiguous() for r in range(stage.replicas)]
        return torch.cat([M.apply_layer(b.module, part) for b, part in zip(stage.blocks, parts)], dim=-1)
    return M.apply_layer(stage.module, x)
