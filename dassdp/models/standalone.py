"""Compile once, run many: one standalone build (cpp_standalone or cuda_standalone), many runs.

Brian2's standalone devices compile a network into a binary. Anything that is a variable's
initial value or a `TimedArray`'s content can be changed at run time through ``run_args``
without recompiling: rule parameters (our rules keep them in shared variables), initial weights
(DA-SSDP reads ``w0`` from a `TimedArray`), input spike patterns and dopamine schedules
(TimedArrays). Seeds therefore enter as data: draw the random inputs with NumPy and pass them in.

Each run writes to its own results directory inside the build, so runs never overwrite each
other; `StandaloneNetwork.run_many` runs them in parallel worker processes (forked after the
build, each reading its results back before returning).

``threads`` (cpp_standalone only) compiles the project for that many OpenMP threads (None or 1:
serial code, see `dassdp.models.targets`). The count is part of the compiled code, not a run-time
setting: one build serves every run with its count, and a build for another count in the same
directory recompiles the project. Runs in parallel processes and threads multiply: ``workers``
runs of ``threads`` threads each want ``workers * threads`` cores.

Example::

    with StandaloneNetwork("cpp_standalone", build_dir) as sim:
        ...create groups, rules, monitors...
        sim.build(Network(...), duration)
        for k, args in enumerate(arg_sets):
            sim.run(f"run{k}", args)
            weights = rule.weight_matrix()
"""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path
from typing import Any, Callable, Mapping

from dassdp.checks import check_path


class StandaloneNetwork:
    """A standalone build that is compiled once and run many times (use as a context manager)."""

    def __init__(self, target: str, directory: str | os.PathLike, threads: int | None = None):
        from dassdp.models.targets import openmp_threads

        if target not in ("cpp_standalone", "cuda_standalone"):
            raise ValueError(f"target must be 'cpp_standalone' or 'cuda_standalone', got {target!r}")
        check_path("directory", directory)
        self.target = target
        self.directory = Path(directory).resolve()
        self.threads = threads
        self._openmp_threads = openmp_threads(target, threads)  # checks ``threads``
        self._saved_threads = 0
        self.built = False
        self.timings: dict[str, float] = {}

    def __enter__(self) -> "StandaloneNetwork":
        from brian2 import prefs, set_device

        self.directory.mkdir(parents=True, exist_ok=True)
        self._saved_threads = prefs.devices.cpp_standalone.openmp_threads
        prefs.devices.cpp_standalone.openmp_threads = self._openmp_threads
        if self.target == "cuda_standalone":
            from dassdp.models.cuda import configure_cuda

            configure_cuda(self.directory)
        set_device(self.target, build_on_run=False)
        return self

    def __exit__(self, *exc) -> None:
        from brian2 import device, prefs, set_device

        device.reinit()
        set_device("runtime")
        prefs.devices.cpp_standalone.openmp_threads = self._saved_threads

    def build(self, network, duration, compile_only: bool = False) -> None:
        """Record ``network.run(duration)``, generate and compile the project (no run).

        ``compile_only`` is accepted for compatibility and has no effect: the project is always
        compiled and never run here (`run` runs it)."""
        from brian2 import Network, device

        from dassdp.checks import check_type
        from dassdp.rules.brian2.checks import check_quantity

        check_type("network", network, Network)
        check_quantity("duration", duration)
        network.run(duration)
        start = time.perf_counter()
        device.build(directory=str(self.directory), compile=True, run=False, with_output=False)
        self.timings["build"] = time.perf_counter() - start
        self.built = True

    @property
    def binary(self) -> Path:
        return self.directory / "main"

    def run(self, name: str, run_args: Mapping | None = None) -> float:
        """Run the compiled binary with ``run_args`` into ``results/<name>``; return wall time.

        After it returns, variables read through Brian2 (``group.v[:]``, monitors) come from
        this run, and ``timings["loop"]`` holds the time the binary spent in the simulation loop
        (Brian2's own measure; the wall time adds start-up, connecting and writing results).
        """
        from brian2 import device

        if not self.built:
            raise RuntimeError("build() must be called before run()")
        if not isinstance(name, str):
            raise TypeError(f"run name must be a string, got {type(name).__name__} {name!r}")
        if not name or os.sep in name or name.startswith("."):
            raise ValueError(f"run name must be a plain directory name, got {name!r}")
        if run_args is not None and not isinstance(run_args, Mapping):
            raise TypeError(f"run_args must be a mapping (or None), got {type(run_args).__name__} {run_args!r}")
        start = time.perf_counter()
        device.run(
            directory=str(self.directory),
            results_directory=os.path.join("results", name),
            with_output=False,
            run_args=dict(run_args or {}),
        )
        wall = time.perf_counter() - start
        self.timings["loop"] = loop_time(self.directory / "results" / name)
        return wall

    def run_many(self, arg_sets: Mapping[str, Mapping], read: Callable[[], Any], workers: int = 1) -> dict[str, Any]:
        """Run every ``{name: run_args}`` and return ``{name: read()}`` after each run.

        With ``workers > 1`` the runs go to forked processes (the build is shared, results
        directories are separate); ``read`` must return picklable values.
        """
        from dassdp.checks import check_count

        if not isinstance(arg_sets, Mapping):
            raise TypeError(f"arg_sets must be a mapping of run names to run_args, got {type(arg_sets).__name__}")
        if not callable(read):
            raise TypeError(f"read must be callable, got {type(read).__name__} {read!r}")
        check_count("workers", workers, minimum=1)
        if workers <= 1:
            return {name: (self.run(name, args), read())[1] for name, args in arg_sets.items()}
        global _WORKER
        _WORKER = (self, read, dict(arg_sets))  # inherited by the forked workers, never pickled
        try:
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                return dict(pool.map(_run_one, list(arg_sets)))
        finally:
            _WORKER = None


def loop_time(results_directory: str | os.PathLike) -> float:
    """Seconds a standalone run spent in its simulation loop, as the binary recorded it in its
    results directory (``last_run_info.txt``: run time, completed fraction)."""
    with open(Path(results_directory) / "last_run_info.txt") as info:
        return float(info.read().split()[0])


_WORKER: tuple | None = None


def _run_one(name: str) -> tuple[str, Any]:
    sim, read, arg_sets = _WORKER
    sim.run(name, arg_sets[name])
    return name, read()
