"""Benchmark of ``dassdp.bridge``: converting a 784-500-500-10 SpikingMLP to Brian2.

(a) Conversion time (lowering, groups, 647,000 synapses connected from index arrays, weights
    set), target < 5 s, for input given as spikes (the first layer is synaptic too) and as a
    TimedArray current (the first layer is computed by PyTorch).
(b) The exact round trip: PyTorch -> Brian2 -> PyTorch weights bit-identical.
(c) A short run (numpy target) of a few rate-coded samples: spike rasters and predictions
    compared with PyTorch float64.

Run with ``dassdp bench bridge [--json]``. Times are reported, never asserted.
"""

from __future__ import annotations

import time

import numpy as np
import torch

SIZES = [784, 500, 500]
N_CLASSES = 10
N_STEPS = 20
N_SAMPLES = 5


def _model() -> torch.nn.Module:
    from dassdp.models.snn import SpikingMLP

    torch.manual_seed(0)
    model = SpikingMLP(SIZES, N_CLASSES, beta=0.9).double()
    with torch.no_grad():
        model.fc[0].weight.mul_(8.0)  # make the random network spike
        model.fc[1].weight.mul_(8.0)
    return model


def run(json_out: bool) -> dict:
    from brian2 import BrianLogger

    from dassdp.bridge import to_brian2, to_torch
    from dassdp.bridge.check import agreement
    from dassdp.models.snn import SpikingMLP
    from dassdp.models.targets import use_target

    BrianLogger.suppress_name("unused_brian_object")  # the first conversion is built only to be timed
    model = _model()
    x = torch.rand(N_SAMPLES, SIZES[0], generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 0.5
    result: dict = {"network": "-".join(map(str, SIZES + [N_CLASSES])), "target_seconds": 5.0, "conversion": {}}
    with use_target("numpy"):
        for mode in ("spikes", "current"):
            start = time.perf_counter()
            converted = to_brian2(model, x, encoding="rate", n_steps=N_STEPS, seed=2, input_mode=mode)
            seconds = time.perf_counter() - start
            summary = converted.summary()
            result["conversion"][mode] = {
                "seconds": round(seconds, 3),
                "neurons": summary["neurons"],
                "synapses": summary["synapses"],
            }
        fresh = SpikingMLP(SIZES, N_CLASSES, beta=0.5).double()
        start = time.perf_counter()
        to_torch(converted, fresh)
        exact = all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), fresh.state_dict().values()))
        result["round_trip"] = {"bit_identical": exact, "seconds": round(time.perf_counter() - start, 3)}
        start = time.perf_counter()
        converted.run(report=None)
        check = agreement(converted, model)
    result["run"] = {
        "samples": N_SAMPLES,
        "steps": N_STEPS,
        "seconds": round(time.perf_counter() - start, 3),
        "identical_rasters": check["identical_rasters"],
        "spikes": {name: layer["torch_spikes"] for name, layer in check["layers"].items()},
        "mismatches": int(np.sum([layer["mismatches"] for layer in check["layers"].values()])),
        "prediction_agreement": check.get("prediction_agreement"),
    }
    return result


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(run(True), indent=2))
