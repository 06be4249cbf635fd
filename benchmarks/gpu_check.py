"""GPU check: cuda_standalone against cpp_standalone on the same spike-generator input, then the
Brian2 benchmark with the cuda_standalone target. Run through ``benchmarks/gpu_check.sh``."""

import json
import sys
import tempfile

import numpy as np

from dassdp.cli import main as dassdp_main
from dassdp.runs.demo import simulate


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="dassdp-gpu-") as tmp:
        cpp = simulate("cpp_standalone", n_windows=60, warmup=10, seed=3, directory=f"{tmp}/cpp")
        cuda = simulate("cuda_standalone", n_windows=60, warmup=10, seed=3, directory=f"{tmp}/cuda")
    agreement = {
        "max_abs_weight_difference": float(np.max(np.abs(cuda["w"] - cpp["w"]))),
        "spikes_equal": bool(np.array_equal(cuda["spike_i"], cpp["spike_i"])
                             and np.array_equal(cuda["spike_t"], cpp["spike_t"])),
        "gate_cpp": [cpp["gate"].k, cpp["gate"].mu, cpp["gate"].s],
        "gate_cuda": [cuda["gate"].k, cuda["gate"].mu, cuda["gate"].s],
    }
    agreement["weights_agree_1e-6"] = agreement["max_abs_weight_difference"] < 1e-6
    print(json.dumps({"cuda_vs_cpp": agreement}, indent=2))
    sys.stdout.flush()
    dassdp_main(["bench", "brian2", "--json"])
    return 0 if agreement["weights_agree_1e-6"] else 1


if __name__ == "__main__":
    sys.exit(main())
