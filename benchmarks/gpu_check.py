"""GPU check: cuda_standalone against cpp_standalone on the same spike-generator input, the demo
study's Brian2 phase on both targets (the one-field switch), then static synapses against DA-SSDP
at 1e6 synapses on both targets (the part of ``dassdp bench brian2`` that fits a device session:
the whole benchmark builds 16 cuda projects). Run through ``benchmarks/gpu_check.sh``."""

import json
import sys
import tempfile

import numpy as np

from benchmarks import bench_brian2
from dassdp.runs.network_demo import simulate


def brian2_phase_check() -> dict:
    """One shortened DA-SSDP run of the demo study on cpp_standalone and on cuda_standalone."""
    import tomllib

    from dassdp.cli.demo import study_text
    from dassdp.runs.brian2_phase import execute_brian2
    from dassdp.runs.study import expand_runs, parse_study

    tables = {}
    for target in ("cpp_standalone", "cuda_standalone"):
        data = tomllib.loads(study_text(target))
        data.update(seeds=[0], variants=["dassdp"])
        for protocol in ("reference", "calibration"):  # one variant at the study's default rate
            data.pop(protocol, None)
        data["brian2"].update(train_samples=60, eval_samples=40)
        data["brian2"]["dassdp"]["warmup"] = 20
        tables[target] = execute_brian2(expand_runs(parse_study(data))[0][2])
    cpp, cuda = tables["cpp_standalone"], tables["cuda_standalone"]
    difference = float(np.max(np.abs(cpp["weights"].value.to_numpy() - cuda["weights"].value.to_numpy())))
    return {
        "accuracies_cpp": cpp["evaluations"].accuracy.tolist(),
        "accuracies_cuda": cuda["evaluations"].accuracy.tolist(),
        "max_abs_weight_statistic_difference": difference,
        "agree_1e-6": difference < 1e-6 and cpp["evaluations"].accuracy.equals(cuda["evaluations"].accuracy),
    }


def bench_1e6() -> dict:
    """Run time of static synapses and DA-SSDP (20 ms windows) at 1e6 synapses on cuda_standalone
    and cpp_standalone (`benchmarks.bench_brian2`'s network), and their ratio per target."""
    out: dict = {}
    for size in ("1e6_all", "1e6_sparse"):
        for target in ("cuda_standalone", "cpp_standalone"):
            with tempfile.TemporaryDirectory(prefix="dassdp-gpu-bench-") as tmp:
                rows = bench_brian2.repeat_runs(
                    {
                        variant: bench_brian2._measure_standalone(
                            target, variant, *bench_brian2.SIZES[size], 1.0, f"{tmp}/{variant}"
                        )
                        for variant in ("static", "dassdp")
                    },
                    repeats=3,
                )  # device time is scarce
            for measure in ("run", "loop"):
                rows[f"dassdp_over_static_{measure}"] = rows["dassdp"][f"{measure}_s"] / rows["static"][f"{measure}_s"]
            out[f"{target}/{size}"] = rows
    return out


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="dassdp-gpu-") as tmp:
        cpp = simulate("cpp_standalone", n_windows=60, warmup=10, seed=3, directory=f"{tmp}/cpp")
        cuda = simulate("cuda_standalone", n_windows=60, warmup=10, seed=3, directory=f"{tmp}/cuda")
    agreement = {
        "max_abs_weight_difference": float(np.max(np.abs(cuda["w"] - cpp["w"]))),
        "spikes_equal": bool(
            np.array_equal(cuda["readout_i"], cpp["readout_i"]) and np.array_equal(cuda["readout_t"], cpp["readout_t"])
        ),
        "gate_cpp": [cpp["gate"].k, cpp["gate"].mu, cpp["gate"].s],
        "gate_cuda": [cuda["gate"].k, cuda["gate"].mu, cuda["gate"].s],
    }
    agreement["weights_agree_1e-6"] = agreement["max_abs_weight_difference"] < 1e-6
    print(json.dumps({"cuda_vs_cpp": agreement}, indent=2))
    sys.stdout.flush()
    try:
        phase = brian2_phase_check()
    except Exception as error:  # noqa: BLE001 - reported, and the check fails
        phase = {"error": f"{type(error).__name__}: {error}", "agree_1e-6": False}
    print(json.dumps({"brian2_phase_cuda_vs_cpp": phase}, indent=2))
    sys.stdout.flush()
    print(json.dumps({"bench_1e6": bench_1e6()}, indent=2))
    return 0 if agreement["weights_agree_1e-6"] and phase["agree_1e-6"] else 1


if __name__ == "__main__":
    sys.exit(main())
