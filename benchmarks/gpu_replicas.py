"""GPU checks of replicas (``bash benchmarks/gpu_check.sh replicas``): many runs of the demo's
Brian2 phase in one cuda_standalone simulation.

1. **Equality** (`equality`): 4 DA-SSDP runs (4 seeds, two learning-rate scales) as replicas of
   one cuda_standalone simulation against the same runs executed one by one on numpy: identical
   evaluation and training predictions, and weight statistics and gates within 1e-6 (the GPU
   sums in another order).
2. **Throughput** (`scaling`): R = 1, 32 and 1000 runs of one variant in one simulation on
   ``target`` (``cuda_standalone``): the build, run (code generation, compilation, simulation)
   and simulation seconds, runs per second of simulation, and the synaptic events per second.
   The runs skip pretraining (``pretrain_epochs = 0``: each seed's network keeps its random
   initial weights; pretraining 1000 networks is PyTorch's work, which replicas do not change)
   and present fewer samples than the demo, so that the input of 1000 replicas stays small.

``DASSDP_GPU_TARGET=cpp_standalone`` and ``DASSDP_GPU_SIZES=1,2`` try the script on a CPU.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import tempfile
import time

import numpy as np

TARGET = os.environ.get("DASSDP_GPU_TARGET", "cuda_standalone")
SIZES = tuple(int(n) for n in os.environ.get("DASSDP_GPU_SIZES", "1,32,1000").split(","))


def _specs(runs: int, target: str, scales=(1.0,), **brian2):
    """``runs`` seeds of DA-SSDP in the demo study (no calibration), scales taking turns."""
    import tomllib

    from dassdp.cli.demo import study_text
    from dassdp.runs.study import RunSpec, expand_runs, parse_study

    data = tomllib.loads(study_text(target))
    data.update(seeds=list(range(runs)), variants=["dassdp"])
    for section in ("reference", "calibration"):
        data.pop(section, None)
    data["brian2"].update(train_samples=60, eval_samples=40, **brian2)
    data["brian2"]["dassdp"]["warmup"] = 20
    specs = []
    for k, (_, _, spec) in enumerate(expand_runs(parse_study(data))):
        study = copy.deepcopy(spec.study)
        study["brian2"]["rate_scale"] = scales[k % len(scales)]
        specs.append(RunSpec(study=study, variant=spec.variant, seed=spec.seed))
    return specs


def equality(target: str = TARGET) -> dict:
    from dassdp.runs.brian2_phase import execute_brian2, execute_brian2_batch

    specs = _specs(4, target, scales=(1.0, 30.0))
    with tempfile.TemporaryDirectory(prefix="dassdp-gpu-replicas-") as tmp:
        together = execute_brian2_batch(specs, build_root=tmp)
    alone = [execute_brian2(_retarget(spec, "numpy")) for spec in specs]
    predictions_equal, largest = True, 0.0
    for a, b in zip(alone, together):
        predictions_equal &= a["evaluations"].accuracy.equals(b["evaluations"].accuracy)
        predictions_equal &= a["training"].prediction.equals(b["training"].prediction)
        for name, column in (("weights", "value"), ("gate", "k"), ("gate", "mu"), ("gate", "s")):
            difference = np.abs(a[name][column].to_numpy() - b[name][column].to_numpy())
            largest = max(largest, float(difference.max(initial=0.0)))
    return {
        "replicas": len(specs),
        "target": target,
        "predictions_equal": bool(predictions_equal),
        "max_abs_difference": largest,
        "agree_1e-6": bool(predictions_equal and largest < 1e-6),
    }


def _retarget(spec, target: str):
    from dassdp.runs.study import RunSpec

    study = copy.deepcopy(spec.study)
    study["brian2"]["target"] = target
    return RunSpec(study=study, variant=spec.variant, seed=spec.seed)


def scaling(target: str = TARGET, sizes=SIZES) -> dict:
    from dassdp.runs.brian2_phase import execute_brian2_batch

    out = {}
    for runs in sizes:
        specs = _specs(runs, target, pretrain_epochs=0)
        timings: dict = {}
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="dassdp-gpu-scaling-") as tmp:
            execute_brian2_batch(specs, build_root=tmp, timings=timings)
        simulate = timings.get("simulate_s", float("nan"))
        out[f"R={runs}"] = {
            **{key: round(value, 3) for key, value in timings.items() if key.endswith("_s")},
            "wall_s": round(time.perf_counter() - started, 2),
            "synaptic_events": timings["synaptic_events"],
            "synaptic_events_per_s": timings["synaptic_events"] / simulate,
            "runs_per_simulated_s": runs / simulate,
        }
        print(json.dumps({f"R={runs}": out[f"R={runs}"]}), flush=True)
    return out


def main() -> int:
    check = equality()
    print(json.dumps({"replicas_equality": check}, indent=2), flush=True)
    print(json.dumps({"replicas_scaling": scaling()}, indent=2), flush=True)
    return 0 if check["agree_1e-6"] else 1


if __name__ == "__main__":
    sys.exit(main())
