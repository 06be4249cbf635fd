"""Compare a converted Brian2 network with the PyTorch model it came from (the oracle).

`torch_reference` runs the model's own ``forward`` in float64 and captures, through forward
hooks, the spikes of every spiking layer; `agreement` counts what matches. Arguments of the wrong
type raise TypeError; NaN or infinite inputs, inputs that are not time-major ``[T, N, ...]`` and a
model whose layers are not those of the converted network raise ValueError.
"""

from __future__ import annotations

import copy
from collections import defaultdict

import numpy as np
import torch

from dassdp.bridge.lower import check_model, lower
from dassdp.bridge.plan import ConversionError, ConversionTypeError, MaxPool, Neurons
from dassdp.checks import describe

__all__ = ["agreement", "torch_reference"]


def torch_reference(model: torch.nn.Module, inputs: torch.Tensor) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(output, {layer: bool[N, T, *shape]})`` from a float64 copy of ``model`` on ``inputs[T, N, ...]``."""
    from dassdp.bridge.brian2 import _as_tensor

    check_model(model)
    x = _as_tensor(inputs).to(torch.float64)
    if x.ndim < 3 or 0 in x.shape:
        raise ValueError(f"inputs must be time-major [T, N, ...] with T, N >= 1, got shape {tuple(x.shape)}")
    model = copy.deepcopy(model).to(torch.float64).eval()
    n_steps, n_samples = x.shape[:2]
    plan = lower(model, input_shape=tuple(x.shape[2:]))
    names: dict[int, list[str]] = defaultdict(list)
    modules = {}
    folded = set()  # pooling runs per sample, on [T * N, ...]
    for stage in plan.stages:
        if (isinstance(stage, Neurons) and stage.spiking) or isinstance(stage, MaxPool):
            names[id(stage.module)].append(stage.name)
            modules[id(stage.module)] = stage.module
            if isinstance(stage, MaxPool):
                folded.add(stage.name)
    calls: dict[int, list[torch.Tensor]] = defaultdict(list)
    hooks = [
        m.register_forward_hook(lambda mod, i, out, key=key: calls[key].append(out.detach()))
        for key, m in modules.items()
    ]
    try:
        with torch.no_grad():
            output = model(x)
    finally:
        for hook in hooks:
            hook.remove()
    rasters = {}
    for key, layer_names in names.items():
        for name, out in zip(layer_names, calls[key]):
            if name in folded:
                out = out.unflatten(0, (n_steps, n_samples))
            rasters[name] = out.transpose(0, 1).numpy() > 0.5
    return output.numpy(), rasters


def agreement(converted, model) -> dict:
    """Spike-by-spike and prediction agreement of a run ``converted`` network with ``model``.

    Returns per-layer counts (spikes in PyTorch, in Brian2, raster entries that differ), the
    largest absolute output difference and the fraction of equal predictions. A ``model`` with a
    spiking layer the network lacks (or of another shape) raises `ConversionError`.
    """
    from dassdp.bridge.brian2 import Converted

    if not isinstance(converted, Converted):
        raise ConversionTypeError(f"converted must be the result of to_brian2 (a Converted), got {describe(converted)}")
    check_model(model)
    rasters = converted.spike_rasters()  # RuntimeError before run()
    output, reference = torch_reference(model, converted.inputs)
    layers = {}
    for name, expected in reference.items():
        got = rasters.get(name)
        if got is None or got.shape != expected.shape:
            found = "no such layer" if got is None else f"shape {got.shape[2:]}"
            raise ConversionError(
                f"model does not match the converted network: its spiking layer {name!r} has shape "
                f"{expected.shape[2:]}, the network {found}"
            )
        layers[name] = {
            "torch_spikes": int(expected.sum()),
            "brian2_spikes": int(got.sum()),
            "mismatches": int((expected != got).sum()),
        }
    logits = converted.logits()
    out = {
        "layers": layers,
        "samples": converted.n_samples,
        "steps": converted.n_steps,
        "identical_rasters": all(v["mismatches"] == 0 for v in layers.values()),
    }
    if logits.shape == output.shape:
        out["max_output_difference"] = float(np.abs(logits - output).max())
        if output.ndim == 2:
            out["prediction_agreement"] = float(np.mean(logits.argmax(-1) == output.argmax(-1)))
    return out
