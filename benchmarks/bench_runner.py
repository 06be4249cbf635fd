"""``dassdp bench runner``: the study runner's throughput, measured side by side.

1. **Replicas** (`replicas_comparison`): the demo study's Brian2 phase for 32 seeds of DA-SSDP on
   cpp_standalone with 2 local workers, once with one run per simulation (``brian2.replicas =
   1``: today's compile-once-run-many path, one compiled project per worker) and once with
   replicas (``"auto"``: on cpp_standalone the 32 seeds as one simulation, compiled once, with
   2 OpenMP threads; the second worker has nothing to do). Reported apart: the
   per-seed PyTorch pretraining (done once, into a cache both paths read), and for each path the
   Brian2 part summed over its simulations (``build_s``: building the Brian2 objects;
   ``run_s``: code generation, compilation and the simulation, of which ``simulate_s`` the
   simulation; ``read_s``: reading the results back into tables), the wall time and the runs
   per minute (with and without the pretraining); ``brian2_speedup`` is the ratio of the Brian2
   parts (target 4).
2. **Workers** (`worker_scaling`): a tiny sweep run with 1 worker and with 2 local worker
   processes, for the PyTorch phase and for the Brian2 phase (numpy target). ``ratio`` is the
   2-worker wall time over the 1-worker wall time (target <= 0.65 on 2 free cores). The data set
   is loaded and a first (cold) 1-worker pass is run before the timings; local workers are
   forked (Linux), so worker start-up is part of the 2-worker time but costs no imports.

``DASSDP_BENCH_QUICK=1``: 8 seeds and fewer samples in part 1.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

QUICK = os.environ.get("DASSDP_BENCH_QUICK") == "1"

STUDY = """
name = "bench_runner"
variants = ["none", "ssdp", "dassdp"]
seeds = [0, 1]
tasks = { kind = "classes", classes = { A = [0, 1, 2, 3, 4], B = [5, 6, 7, 8, 9] } }
sequence = [{ task = "A", epochs = 2 }, { task = "B", epochs = 2 }]
network = { hidden = [64, 64], n_steps = 8 }
sweep = { "training.lr" = [1e-3, 3e-3] }
"""

STUDY_BRIAN2 = """
name = "bench_runner_brian2"
phase = "brian2"
variants = ["none", "stdp", "dassdp"]
seeds = [0, 1]
tasks = { kind = "classes", classes = { A = [0, 1, 2, 3, 4], B = [5, 6, 7, 8, 9] } }
sequence = [{ task = "A", epochs = 1 }, { task = "B", epochs = 1 }]
network = { hidden = [64, 64], n_steps = 8 }
brian2 = { pretrain_epochs = 3, train_samples = 100, eval_samples = 60, dassdp = { warmup = 30 } }
"""


def _time_study(root: Path, workers: int, text: str = STUDY) -> float:
    import tomllib

    from dassdp.runs.runner import prepare_dir, run_study
    from dassdp.runs.study import parse_study

    study = parse_study(tomllib.loads(text))
    runs = prepare_dir(study, text, root / f"w{workers}", resume=False)
    started = time.perf_counter()
    failures = run_study(runs, workers=workers)
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"bench_runner: runs failed: {failures}")
    return elapsed


REPLICA_RUNS = 8 if QUICK else 32
REPLICA_VARIANT = "dassdp"


def _demo_study(runs: int, target: str, variant: str = REPLICA_VARIANT, **brian2) -> dict:
    """The demo study (`dassdp.cli.demo`) reduced to ``runs`` seeds of one variant at its default
    rate (no calibration, no reference), on ``target``; ``brian2`` overrides fields of ``[brian2]``."""
    import tomllib

    from dassdp.cli.demo import study_text

    data = tomllib.loads(study_text(target))
    data.update(seeds=list(range(runs)), variants=[variant])
    for section in ("reference", "calibration"):
        data.pop(section, None)
    data["brian2"].update(brian2)
    if QUICK:
        data["brian2"].update(train_samples=40, eval_samples=20)
        data["brian2"]["dassdp"]["warmup"] = 10
    return data


def pretrain_all(data: dict, cache: Path) -> float:
    """Pretrain every seed of the study into ``cache`` (what both paths then read); seconds."""
    from dassdp.runs.brian2_phase import pretrained
    from dassdp.runs.study import parse_study
    from dassdp.runs.tasks import make_tasks

    study = parse_study(data)
    tasks, n_classes = make_tasks(study)
    started = time.perf_counter()
    for seed in study.seeds:
        pretrained(study, tasks, n_classes, seed, cache)
    return time.perf_counter() - started


def _run_path(data: dict, root: Path, cache: Path, workers: int) -> dict:
    """Run the study with the runner from a fresh directory whose pretraining cache is filled;
    the wall time, and the Brian2 phase's own timings summed over its simulations."""
    import json

    from dassdp.runs.runner import PRETRAINED, prepare_dir, run_study
    from dassdp.runs.study import parse_study

    runs = prepare_dir(parse_study(data), json.dumps(data), root, resume=False)
    shutil.copytree(cache, root / PRETRAINED)
    started = time.perf_counter()
    failures = run_study(runs, workers=workers)
    wall = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"bench_runner: runs failed: {failures}")
    simulations: dict[tuple, dict] = {}
    for manifest in (json.loads(p.read_text()) for p in root.glob("runs/*/manifest.json")):
        simulations[tuple(manifest["batch"])] = manifest["timings"].get("brian2", {})
    parts = ("build_s", "run_s", "simulate_s", "read_s")
    summed = {part: sum(t.get(part, 0.0) for t in simulations.values()) for part in parts}
    brian2 = summed["build_s"] + summed["run_s"] + summed["read_s"]
    events = sum(t.get("synaptic_events", 0) for t in simulations.values())
    return {
        "simulations": len(simulations),
        "replicas_per_simulation": sorted({len(batch) for batch in simulations}),
        "wall_s": round(wall, 2),
        "brian2_s": round(brian2, 2),
        **{part: round(value, 2) for part, value in summed.items()},
        "synaptic_events": events,
    }


def replicas_comparison(runs: int = REPLICA_RUNS, target: str = "cpp_standalone", workers: int = 2) -> dict:
    """The demo's Brian2 phase for ``runs`` seeds of one variant, once as today's one run per
    simulation (``brian2.replicas = 1``: compile once per worker, run many) and once with
    replicas (``"auto"``: one simulation of all seeds on the compiled targets, the seeds split
    over the workers on numpy), in one process tree with ``workers`` local workers. Pretraining
    is done first, once per seed, into a cache both paths read (it is reported on its own:
    replicas do not remove it)."""
    root = Path(tempfile.mkdtemp(prefix="bench_replicas_"))
    try:
        pretraining = pretrain_all(_demo_study(runs, target), root / "cache")
        paths = {
            name: _run_path(_demo_study(runs, target, replicas=replicas), root / name, root / "cache", workers)
            for name, replicas in (("one_run_per_simulation", 1), ("replicas", "auto"))
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)
    one, many = paths["one_run_per_simulation"], paths["replicas"]
    for path in paths.values():
        path["runs_per_minute"] = round(60 * runs / path["wall_s"], 2)
        path["runs_per_minute_with_pretraining"] = round(60 * runs / (path["wall_s"] + pretraining), 2)
    return {
        "runs": runs,
        "variant": REPLICA_VARIANT,
        "target": target,
        "workers": workers,
        "pretraining_s": round(pretraining, 2),
        **paths,
        "brian2_speedup": round(one["brian2_s"] / many["brian2_s"], 2),
        "wall_speedup": round(one["wall_s"] / many["wall_s"], 2),
        "target_brian2_speedup": 4.0,
    }


def run(json_out: bool) -> dict:
    del json_out  # the dict is printed by `dassdp bench`
    return {"replicas": replicas_comparison(), "workers": worker_scaling()}


def worker_scaling() -> dict:
    """Part 2 of the module docstring."""
    import tomllib

    from dassdp.runs.study import parse_study
    from dassdp.runs.tasks import make_tasks

    make_tasks(parse_study(tomllib.loads(STUDY)))  # load the data set once, outside the timings
    root = Path(tempfile.mkdtemp(prefix="bench_runner_"))
    try:
        cold = _time_study(root / "cold", 1)  # pays one-time lazy imports and first-call costs
        one = _time_study(root, 1)
        two = _time_study(root, 2)
        _time_study(root / "cold_brian2", 1, STUDY_BRIAN2)
        one_b2 = _time_study(root / "brian2", 1, STUDY_BRIAN2)
        two_b2 = _time_study(root / "brian2", 2, STUDY_BRIAN2)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {
        "runs": 12,
        "seconds_1_worker_cold": round(cold, 2),
        "seconds_1_worker": round(one, 2),
        "seconds_2_workers": round(two, 2),
        "ratio": round(two / one, 3),
        "brian2_phase": {
            "runs": 6,
            "seconds_1_worker": round(one_b2, 2),
            "seconds_2_workers": round(two_b2, 2),
            "ratio": round(two_b2 / one_b2, 3),
        },
        "target_ratio": 0.65,
    }


if __name__ == "__main__":  # pragma: no cover
    print(run(json_out=False))
