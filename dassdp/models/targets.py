"""Select a Brian2 code-generation target by name for a block of code.

``numpy`` and ``cython`` are runtime targets; ``cpp_standalone`` (and, with brian2cuda,
``cuda_standalone``) generate a project in ``directory`` and build it when the network runs.
The context manager restores Brian2's runtime device afterwards, so several targets can be used
one after the other in one process. A first compilation can take minutes and prints nothing
while it runs, so `use_target` says so on stderr, once per process for Cython (whose compiled
code objects are cached for later processes) and whenever a standalone project has not been
built in ``directory`` yet.

Threads: ``threads`` sets Brian2's ``prefs.devices.cpp_standalone.openmp_threads`` for
``cpp_standalone``: with ``threads > 1`` the project is compiled with OpenMP and the binary runs
its loops over neurons and synapses on that many threads; ``None`` or 1 compiles plain serial code
(Brian2's default, no OpenMP). The count is fixed at compile time (Brian2 writes it into the
generated code: ``omp_set_num_threads(n)`` in ``main.cpp``, one spike queue per thread), so a
project built for one count is rebuilt when another count is asked for in the same directory
(Brian2 rewrites the files whose content changed, and every object depends on the makefile and
its headers). The runtime targets (numpy, cython) run on one thread and ignore ``threads``;
``cuda_standalone`` runs on the GPU and ignores it too. `default_threads` is the study runner's
``"auto"``: the cores this process may use, shared among the processes that run at once.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

from dassdp.checks import check_path

RUNTIME = ("numpy", "cython")
STANDALONE = ("cpp_standalone", "cuda_standalone")
#: what a first compilation costs, as said on stderr (measured on 2 CPU cores)
FIRST_BUILD = {
    "cython": "Cython compiles each code object on first use (this can take minutes; cached afterwards)",
    "cpp_standalone": "the C++ project of this network is built once (about 40 s for the demo's network)",
    "cuda_standalone": "nvcc builds the CUDA project of this network once (about 2 minutes)",
}
_announced: set[str] = set()


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask where the OS has one, else
    ``os.cpu_count()``), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_threads(concurrent: int = 1) -> int:
    """Threads for one of ``concurrent`` processes that run Brian2 at once: `usable_cores` divided
    by ``concurrent`` (rounded down), at least 1."""
    from dassdp.checks import check_count

    check_count("concurrent", concurrent, minimum=1)
    return max(1, usable_cores() // concurrent)


def check_threads(threads) -> None:
    """``threads`` is None or an integer >= 1 (TypeError / ValueError naming it otherwise)."""
    from dassdp.checks import check_count

    if threads is not None:
        check_count("threads", threads, minimum=1)


def openmp_threads(name: str, threads: int | None) -> int:
    """The value of Brian2's ``prefs.devices.cpp_standalone.openmp_threads`` for ``threads`` on
    target ``name``: ``threads`` for cpp_standalone with more than one thread, else 0 (no OpenMP)."""
    check_threads(threads)
    return threads if name == "cpp_standalone" and threads is not None and threads > 1 else 0


def announce_first_build(name: str, directory=None) -> None:
    """One line on stderr before a compilation that may take long (see the module docstring)."""
    first = (name == "cython" and name not in _announced) or (
        name in STANDALONE and directory is not None and not (Path(directory) / "main").exists()
    )
    if first:
        _announced.add(name)
        print(f"dassdp: compiling for {name}: {FIRST_BUILD[name]} ...", file=sys.stderr, flush=True)


@contextmanager
def use_target(name: str, directory: str | None = None, threads: int | None = None):
    """Run the block on target ``name``; standalone targets build into ``directory`` on ``run``;
    cpp_standalone compiles for ``threads`` OpenMP threads (None or 1: serial code; ignored by the
    other targets, see the module docstring)."""
    from brian2 import device, prefs, set_device

    if name not in RUNTIME + STANDALONE:
        raise ValueError(f"target must be one of {RUNTIME + STANDALONE}, got {name!r}")
    if directory is not None:
        check_path("directory", directory)
    omp = openmp_threads(name, threads)
    announce_first_build(name, directory)
    old_target = prefs.codegen.target
    old_threads = prefs.devices.cpp_standalone.openmp_threads
    try:
        if name in RUNTIME:
            prefs.codegen.target = name
        else:
            if directory is None:
                raise ValueError(f"target {name!r} needs a build directory")
            if name == "cuda_standalone":
                from dassdp.models.cuda import configure_cuda

                configure_cuda(directory)
            prefs.devices.cpp_standalone.openmp_threads = omp
            set_device(name, directory=str(directory), build_on_run=True)
        yield
    finally:
        prefs.codegen.target = old_target
        prefs.devices.cpp_standalone.openmp_threads = old_threads
        if name in STANDALONE:
            device.reinit()
            set_device("runtime")
