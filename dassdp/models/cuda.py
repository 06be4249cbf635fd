"""Make stock brian2cuda 1.0b1 build on CUDA 12/13 and Hopper (sm_90), through preferences only.

Two things stop brian2cuda 1.0b1 on a current toolkit:

* CUDA 13's Thrust and CUB need C++17, while brian2cuda's makefile passes ``-std=c++11`` to nvcc
  and Brian2's default host-compiler flags do the same. A later ``-std=c++17`` in both the nvcc
  and the host-compiler arguments wins.
* cuRAND may not be in the toolkit. PyTorch's ``nvidia-curand`` wheel ships it
  (``site-packages/nvidia/cu13/{include,lib}`` for CUDA 13, ``nvidia/curand/{include,lib}`` for
  CUDA 12), the library only as ``libcurand.so.10``: the linker's ``-lcurand`` needs a
  ``libcurand.so`` link, which we create inside the build directory, never in the installed
  package.

The compute capability comes from the GPU (``nvidia-smi``), else from the argument, else from
``DASSDP_CUDA_COMPUTE_CAPABILITY``, else 9.0 (Hopper): code can be generated and compiled on a
machine without a GPU.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from dassdp.checks import check_path

DEFAULT_COMPUTE_CAPABILITY = 9.0
CC_ENV = "DASSDP_CUDA_COMPUTE_CAPABILITY"


@dataclass(frozen=True)
class Curand:
    """Where cuRAND's header and shared library are."""

    include_dir: Path
    library: Path


def find_nvcc() -> Path | None:
    """nvcc from ``CUDA_PATH`` or ``PATH``."""
    cuda_path = os.environ.get("CUDA_PATH")
    if cuda_path and (Path(cuda_path) / "bin" / "nvcc").is_file():
        return Path(cuda_path) / "bin" / "nvcc"
    found = shutil.which("nvcc")
    return Path(found) if found else None


def nvcc_version() -> str | None:
    """The release line of ``nvcc --version`` (e.g. ``release 13.0, V13.0.88``)."""
    nvcc = find_nvcc()
    if nvcc is None:
        return None
    out = subprocess.run([str(nvcc), "--version"], capture_output=True, text=True, check=False).stdout
    lines = [line for line in out.splitlines() if "release" in line]
    return lines[0].split(",", 1)[1].strip() if lines else out.strip() or None


def find_curand() -> Curand | None:
    """cuRAND from the toolkit next to nvcc, or from the ``nvidia-curand`` wheel."""
    candidates = []
    nvcc = find_nvcc()
    if nvcc is not None:
        root = nvcc.resolve().parent.parent
        candidates += [
            (root / "include", root / "lib64"),
            (root / "targets" / "x86_64-linux" / "include", root / "targets" / "x86_64-linux" / "lib"),
        ]
    site = Path(sysconfig.get_paths()["purelib"]) / "nvidia"
    candidates += [
        (site / "cu13" / "include", site / "cu13" / "lib"),
        (site / "curand" / "include", site / "curand" / "lib"),
    ]
    for include, lib in candidates:
        if (include / "curand.h").is_file():
            libs = sorted(lib.glob("libcurand.so*")) if lib.is_dir() else []
            if libs:
                return Curand(include_dir=include, library=libs[0])
    return None


def gpu_compute_capability() -> float | None:
    """Compute capability of the first GPU, from ``nvidia-smi``; None without a GPU."""
    if shutil.which("nvidia-smi") is None:
        return None
    out = subprocess.run(
        ["nvidia-smi", "--query-gpu=compute_cap", "--format=csv,noheader"], capture_output=True, text=True, check=False
    )
    values = [line.strip() for line in out.stdout.splitlines() if line.strip()]
    try:
        return float(values[0]) if out.returncode == 0 and values else None
    except ValueError:
        return None


def configure_cuda(build_dir: str | os.PathLike, compute_capability: float | None = None) -> dict:
    """Set Brian2/brian2cuda preferences so that ``cuda_standalone`` builds here.

    Returns what was chosen (compute capability and where it came from, cuRAND paths, whether a
    GPU was found). Raises RuntimeError naming what is missing (nvcc, cuRAND), TypeError or
    ValueError naming a bad ``build_dir``, ``compute_capability`` or ``DASSDP_CUDA_COMPUTE_CAPABILITY``.
    """
    check_path("build_dir", build_dir)
    if compute_capability is not None:
        _check_compute_capability("compute_capability", compute_capability)
    import brian2cuda  # noqa: F401  (registers the device and its preferences)
    from brian2 import prefs

    nvcc = find_nvcc()
    if nvcc is None:
        raise RuntimeError("nvcc not found: install the CUDA toolkit or set CUDA_PATH")
    curand = find_curand()
    if curand is None:
        raise RuntimeError(
            "cuRAND not found in the CUDA toolkit nor in the nvidia-curand wheel "
            "(pip install nvidia-curand, which torch also installs)"
        )
    gpu_cc = gpu_compute_capability()
    if gpu_cc is not None:
        cc, source = gpu_cc, "GPU"
    elif compute_capability is not None:
        cc, source = float(compute_capability), "argument"
    elif os.environ.get(CC_ENV):
        try:
            cc = float(os.environ[CC_ENV])
        except ValueError:
            raise ValueError(f"{CC_ENV} must be a number such as 9.0, got {os.environ[CC_ENV]!r}") from None
        _check_compute_capability(CC_ENV, cc)
        source = CC_ENV
    else:
        cc, source = DEFAULT_COMPUTE_CAPABILITY, "default"

    link_dir = Path(build_dir).resolve() / "_dassdp_curand"
    link_dir.mkdir(parents=True, exist_ok=True)
    link = link_dir / "libcurand.so"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(curand.library)

    backend = prefs.devices.cuda_standalone.cuda_backend
    backend.cuda_path = str(nvcc.resolve().parent.parent)
    backend.detect_gpus = gpu_cc is not None
    if gpu_cc is None:
        backend.gpu_id = 0  # without detection brian2cuda needs an explicit id
    backend.compute_capability = cc
    backend.extra_compile_args_nvcc = ["-w", "-use_fast_math", "-std=c++17"]
    host_args = [a for a in prefs.codegen.cpp.extra_compile_args_gcc if not a.startswith("-std=")]
    prefs.codegen.cpp.extra_compile_args_gcc = host_args + ["-std=c++17"]
    prefs.codegen.cpp.include_dirs = _with(prefs.codegen.cpp.include_dirs, str(curand.include_dir))
    prefs.codegen.cpp.library_dirs = _with(prefs.codegen.cpp.library_dirs, str(link_dir))
    prefs.codegen.cpp.runtime_library_dirs = _with(prefs.codegen.cpp.runtime_library_dirs, str(curand.library.parent))
    return {
        "compute_capability": cc,
        "compute_capability_from": source,
        "gpu": gpu_cc is not None,
        "nvcc": str(nvcc),
        "curand_include": str(curand.include_dir),
        "curand_library": str(curand.library),
    }


def _check_compute_capability(name: str, value) -> None:
    """A finite number > 0 such as 9.0 (major.minor)."""
    from dassdp.checks import check_positive

    check_positive(name, value)


def _with(values, item):
    return list(values) + [item] if item not in values else list(values)
