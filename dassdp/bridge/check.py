"""Compare a converted Brian2 network with the PyTorch model it came from (the oracle).

`torch_reference` runs the model's own ``forward`` in float64 and captures, through forward
hooks, the spikes of every spiking layer; `agreement` counts what matches.
"""

from __future__ import annotations

import copy
from collections import defaultdict

import numpy as np
import torch

from dassdp.bridge.lower import lower
from dassdp.bridge.plan import MaxPool, Neurons

__all__ = ["agreement", "torch_reference"]


def torch_reference(model: torch.nn.Module, inputs: torch.Tensor) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(output, {layer: bool[N, T, *shape]})`` from a float64 copy of ``model`` on ``inputs[T, N, ...]``."""
    model = copy.deepcopy(model).to(torch.float64).eval()
    x = torch.as_tensor(inputs, dtype=torch.float64)
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
    largest absolute output difference and the fraction of equal predictions.
    """
    output, reference = torch_reference(model, converted.inputs)
    rasters = converted.spike_rasters()
    layers = {}
    for name, expected in reference.items():
        got = rasters[name]
        layers[name] = {
            "torch_spikes": int(expected.sum()),
            "brian2_spikes": int(got.sum()),
            "mismatches": int((expected != got).sum()) if expected.shape == got.shape else -1,
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
