"""Select a Brian2 code-generation target by name for a block of code.

``numpy`` and ``cython`` are runtime targets; ``cpp_standalone`` (and, with brian2cuda,
``cuda_standalone``) generate a project in ``directory`` and build it when the network runs.
The context manager restores Brian2's runtime device afterwards, so several targets can be used
one after the other in one process. A first compilation can take minutes and prints nothing
while it runs, so `use_target` says so on stderr, once per process for Cython (whose compiled
code objects are cached for later processes) and whenever a standalone project has not been
built in ``directory`` yet.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

RUNTIME = ("numpy", "cython")
STANDALONE = ("cpp_standalone", "cuda_standalone")
#: what a first compilation costs, as said on stderr (measured on 2 CPU cores)
FIRST_BUILD = {
    "cython": "Cython compiles each code object on first use (this can take minutes; cached afterwards)",
    "cpp_standalone": "the C++ project of this network is built once (about 40 s for the demo's network)",
    "cuda_standalone": "nvcc builds the CUDA project of this network once (about 2 minutes)",
}
_announced: set[str] = set()


def announce_first_build(name: str, directory=None) -> None:
    """One line on stderr before a compilation that may take long (see the module docstring)."""
    first = (name == "cython" and name not in _announced) or (
        name in STANDALONE and directory is not None and not (Path(directory) / "main").exists()
    )
    if first:
        _announced.add(name)
        print(f"dassdp: compiling for {name}: {FIRST_BUILD[name]} ...", file=sys.stderr, flush=True)


@contextmanager
def use_target(name: str, directory: str | None = None):
    """Run the block on target ``name``; standalone targets build into ``directory`` on ``run``."""
    from brian2 import device, prefs, set_device

    if name not in RUNTIME + STANDALONE:
        raise ValueError(f"target must be one of {RUNTIME + STANDALONE}, got {name!r}")
    if directory is not None and not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"directory must be a path (str or os.PathLike), got {type(directory).__name__} {directory!r}")
    announce_first_build(name, directory)
    old_target = prefs.codegen.target
    try:
        if name in RUNTIME:
            prefs.codegen.target = name
        else:
            if directory is None:
                raise ValueError(f"target {name!r} needs a build directory")
            if name == "cuda_standalone":
                from dassdp.models.cuda import configure_cuda

                configure_cuda(directory)
            set_device(name, directory=str(directory), build_on_run=True)
        yield
    finally:
        prefs.codegen.target = old_target
        if name in STANDALONE:
            device.reinit()
            set_device("runtime")
