"""The float32 bag sum in C with AVX-512 intrinsics (``bag_sum.c``), for the plug-in's hot path.

`bag_sum_f32` compiles ``bag_sum.c`` on first use with the system C compiler (``$CC``, else
``cc``) for this machine (``-O3 -march=native``), keeps the shared library beside the numba
cache (``__pycache__`` of this package, or the temporary directory when that is read-only), and
returns its function through ctypes, to be passed to the numba kernels
(`dassdp.rules.kernels.add_window_update`). It returns None, and the numba kernel does the work,
when there is no compiler, the CPU has no AVX-512, the build fails, or ``DASSDP_NATIVE=0``.
The library's name holds a hash of the source, the compiler and the CPU's flags, so an edit or
another machine gets its own build.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

SOURCE = Path(__file__).with_name("bag_sum.c")
FLAGS = ["-O3", "-march=native", "-std=c99", "-shared", "-fPIC"]  # no -ffast-math: it may set FTZ process-wide
#: The signature of ``dassdp_bag_sum_f32`` (int64 sizes and flags, pointers as integers, the clip bound).
ARGTYPES = [ctypes.c_int64] * 3 + [ctypes.c_void_p] * 5 + [ctypes.c_int64] + [ctypes.c_void_p] * 4 \
    + [ctypes.c_int64] * 2 + [ctypes.c_float]


def _cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            return next((line for line in info if line.startswith(("flags", "Features"))), "")
    except OSError:
        return platform.processor()


def _build_dir() -> Path:
    here = SOURCE.parent / "__pycache__"
    try:
        here.mkdir(exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=here)
        probe.close()
        return here
    except OSError:
        return Path(tempfile.gettempdir())


def _build(compiler: str) -> Path:
    key = hashlib.sha256(b"\0".join([SOURCE.read_bytes(), compiler.encode(), " ".join(FLAGS).encode(),
                                     _cpu_flags().encode()])).hexdigest()[:16]
    library = _build_dir() / f"dassdp_bag_sum-{key}.so"
    if not library.exists():  # build beside it, then rename: concurrent builds cannot clash
        with tempfile.TemporaryDirectory(dir=library.parent) as scratch:
            built = Path(scratch) / library.name
            subprocess.run([compiler, *FLAGS, "-o", str(built), str(SOURCE)], check=True, capture_output=True)
            os.replace(built, library)
    return library


@functools.cache
def bag_sum_f32():
    """The compiled ``dassdp_bag_sum_f32`` (a ctypes function), or None where it is not available."""
    compiler = os.environ.get("CC", "cc")
    if os.environ.get("DASSDP_NATIVE") == "0" or shutil.which(compiler) is None:
        return None
    try:
        library = ctypes.CDLL(str(_build(compiler)))
    except (OSError, subprocess.CalledProcessError):
        return None
    from dassdp.rules.kernels import TILE

    if not library.dassdp_has_avx512() or library.dassdp_tile() != TILE:  # scratch is sized by TILE
        return None
    function = library.dassdp_bag_sum_f32
    function.argtypes, function.restype = ARGTYPES, None
    return function
