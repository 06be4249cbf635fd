"""Select a Brian2 code-generation target by name for a block of code.

``numpy`` and ``cython`` are runtime targets; ``cpp_standalone`` (and, with brian2cuda,
``cuda_standalone``) generate a project in ``directory`` and build it when the network runs.
The context manager restores Brian2's runtime device afterwards, so several targets can be used
one after the other in one process.
"""

from __future__ import annotations

from contextlib import contextmanager

RUNTIME = ("numpy", "cython")
STANDALONE = ("cpp_standalone", "cuda_standalone")


@contextmanager
def use_target(name: str, directory: str | None = None):
    """Run the block on target ``name``; standalone targets build into ``directory`` on ``run``."""
    from brian2 import device, prefs, set_device

    if name not in RUNTIME + STANDALONE:
        raise ValueError(f"target must be one of {RUNTIME + STANDALONE}, got {name!r}")
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
