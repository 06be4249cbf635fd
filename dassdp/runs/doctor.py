"""Which Brian2 targets work on this machine, and why not (the checks behind ``dassdp doctor``).

`diagnose` runs a two-neuron network on each CPU target (numpy, cython, cpp_standalone) and checks
the prerequisites of cuda_standalone (nvcc and its version, cuRAND, a GPU and its compute
capability; with ``compile_cuda`` it also generates and compiles a small network with nvcc).
`target_problem` is the quick check of one target's prerequisites that a study runs first.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
import shutil
import tempfile
import traceback

CPU_TARGETS = ("numpy", "cython", "cpp_standalone")


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def smoke_test(target: str, directory: str) -> None:
    """Run a two-neuron network on ``target``; raise if it fails or computes a wrong value."""
    from brian2 import Network, NeuronGroup, ms

    from dassdp.models.standalone import StandaloneNetwork
    from dassdp.models.targets import use_target

    def network():
        group = NeuronGroup(2, "dv/dt = (1 - v) / (10*ms) : 1", method="exact")
        return group, Network(group)

    if target == "cuda_standalone":
        with StandaloneNetwork(target, directory) as sim:
            group, net = network()
            sim.build(net, 1 * ms)
        return
    with use_target(target, directory):
        group, net = network()
        net.run(10 * ms)
        value = float(group.v[0])
    expected = 1 - 2.718281828459045**-1
    if abs(value - expected) > 1e-6:
        raise RuntimeError(f"v(10 ms) = {value}, expected {expected}")


def target_problem(target: str) -> str | None:
    """Why ``target`` cannot run here (a quick check of its prerequisites), or None."""
    from dassdp.models import cuda

    compiler = shutil.which("g++") or shutil.which("c++")
    if target == "cython":
        if importlib.util.find_spec("Cython") is None:
            return "Cython is not installed"
    if target in ("cython", "cpp_standalone") and compiler is None:
        return "no C++ compiler (g++ or c++) found"
    if target == "cuda_standalone":
        problem = cuda_toolchain_problem()
        if problem is None and cuda.gpu_compute_capability() is None:
            problem = "no GPU found (nvidia-smi)"
        return problem
    return None


def cuda_toolchain_problem() -> str | None:
    """What is missing to generate and compile cuda_standalone code (a GPU is not needed)."""
    from dassdp.models import cuda

    if cuda.find_nvcc() is None:
        return "nvcc not found"
    if cuda.find_curand() is None:
        return "cuRAND not found (toolkit or nvidia-curand wheel)"
    return None


def diagnose(compile_cuda: bool = False) -> dict:
    """Versions, toolchain facts and per-target status (``ok`` or the reason it failed)."""
    from dassdp.models import cuda

    facts = {
        "python": platform.python_version(),
        **{name: _version(name) for name in ("brian2", "brian2cuda", "torch", "numba", "numpy", "cython")},
        "c++ compiler": shutil.which("g++") or shutil.which("c++") or "not found",
        "nvcc": str(cuda.find_nvcc() or "not found"),
        "nvcc version": cuda.nvcc_version() or "-",
    }
    curand = cuda.find_curand()
    facts["cuRAND"] = f"{curand.include_dir} | {curand.library.name}" if curand else "not found"
    cc = cuda.gpu_compute_capability()
    facts["GPU"] = f"compute capability {cc}" if cc else "none found (nvidia-smi)"

    status = {}
    with tempfile.TemporaryDirectory(prefix="dassdp-doctor-") as tmp:
        for target in CPU_TARGETS:
            status[target] = _try(smoke_test, target, f"{tmp}/{target}")
        problem = cuda_toolchain_problem()
        if problem:
            status["cuda_standalone"] = f"no: {problem}"
        elif compile_cuda:
            built = _try(smoke_test, "cuda_standalone", f"{tmp}/cuda")
            status["cuda_standalone"] = (
                (
                    f"compiles for sm_{int(10 * (cc or cuda.DEFAULT_COMPUTE_CAPABILITY))}"
                    + ("" if cc else "; no GPU here to run it")
                )
                if built == "ok"
                else built
            )
        else:
            status["cuda_standalone"] = (
                "prerequisites found"
                + ("" if cc else "; no GPU to run on")
                + " (--compile-cuda to build a test network)"
            )
    return {"facts": facts, "targets": status}


def _try(func, *args) -> str:
    try:
        func(*args)
        return "ok"
    except Exception as error:  # noqa: BLE001 - the doctor reports every failure
        last = traceback.format_exception_only(type(error), error)[-1].strip()
        return f"no: {last[:300]}"
