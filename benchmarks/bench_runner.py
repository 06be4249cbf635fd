"""The study runner's scaling: a tiny sweep run with 1 worker and with 2 local worker processes,
for the PyTorch phase and for the Brian2 phase (numpy target).

``ratio`` is the 2-worker wall time over the 1-worker wall time (target <= 0.65 on 2 free cores).
The data set is loaded and a first (cold) 1-worker pass is run before the timings; local workers
are forked (Linux), so worker
start-up is part of the 2-worker time but costs no imports.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from argparse import Namespace
from pathlib import Path

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


def run(json_out: bool) -> dict:
    del json_out  # the dict is printed by `dassdp bench`
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
    print(run(Namespace(json=False)))
