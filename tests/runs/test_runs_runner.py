"""End to end: a tiny study's tables, determinism, kill -9 and resume, local processes vs Dask."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dassdp.analysis.continual import accuracy_matrix
from dassdp.cli import main
from dassdp.runs import store
from dassdp.runs.runner import RUN_TABLES, load_dir, run_states

AGGREGATES = (*RUN_TABLES, "metrics", "summary")


def _run(study: Path, out: Path, *extra: str) -> None:
    assert main(["run", str(study), "--out", str(out), "--quiet", *extra]) == 0


def _tables(out: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(out / f"{name}.parquet") for name in AGGREGATES}


def _assert_same(a: Path, b: Path) -> None:
    left, right = _tables(a), _tables(b)
    for name in AGGREGATES:
        pd.testing.assert_frame_equal(left[name], right[name], check_exact=True, obj=name)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, write_tiny_study):
    root = tmp_path_factory.mktemp("e2e")
    study = write_tiny_study(root / "tiny.toml", variants=("frozen", "none", "ssdp", "dassdp"))
    _run(study, root / "out")
    return root / "out"


def test_tables_schema_and_values(finished):
    t = _tables(finished)
    runs, _ = load_dir(finished)
    assert len(runs.runs) == 8 and bool(run_states(runs).done.all())
    ev = t["evaluations"]
    assert {"run", "variant", "seed", "block", "trained_task", "eval_task", "accuracy", "synchrony", "point"} <= set(ev)
    # before training (block -1) and after each of the 2 blocks, both tasks
    assert len(ev) == 8 * 3 * 2
    assert ev.accuracy.between(0, 1).all()
    for run, rows in ev[ev.block >= 0].groupby("run"):
        matrix = accuracy_matrix(rows, task_order=["A", "B"])
        assert matrix.shape == (2, 2) and np.isfinite(matrix).all()
    metrics = t["metrics"]
    trained = metrics[metrics.variant != "frozen"]
    assert np.isfinite(trained.value).all()
    assert set(metrics.metric) >= {"ACC", "BWT", "FWT", "forgetting", "synchrony"}
    tr = t["training"]
    assert set(tr.variant) == {"none", "ssdp", "dassdp"}  # frozen trains nothing
    assert np.isfinite(tr.loss).all() and tr.synchrony.between(0, 1).all() and tr.accuracy.between(0, 1).all()
    for run, rows in tr.groupby("run"):
        assert (rows.trial.to_numpy() == np.arange(len(rows))).all()
    plastic = tr[tr.variant.isin(["ssdp", "dassdp"]) & ~tr.warmup]
    assert len(plastic) and plastic.gate.between(0, 2).all()
    assert (plastic[plastic.variant == "ssdp"].gate == 1).all()
    assert tr[tr.variant == "none"].gate.isna().all() and tr.gate[tr.warmup].isna().all()
    assert len(t["gate"]) == 4 and np.isfinite(t["gate"].k).all()  # ssdp and dassdp x 2 seeds
    summary = t["summary"]
    assert set(summary.variant) == {"frozen", "none", "ssdp", "dassdp"}
    assert (summary.n[summary.metric == "ACC"] == 2).all()


def test_frozen_accuracy_never_moves_and_training_does(finished):
    t = _tables(finished)
    ev, weights = t["evaluations"], t["weights"]
    frozen = ev[ev.variant == "frozen"]
    assert (frozen.groupby(["run", "eval_task"]).accuracy.nunique() == 1).all()
    change = weights[weights.stat == "change_from_initial"]
    assert (change[change.variant == "frozen"].value == 0).all()
    assert (change[change.variant == "none"].value > 0).all()
    # training moves the accuracy somewhere (otherwise the frozen check above proves nothing)
    moved = ev[ev.variant == "none"].groupby(["run", "eval_task"]).accuracy.nunique()
    assert (moved > 1).any()
    # DA-SSDP changes the plastic weight beyond what surrogate gradients alone do
    fc1 = change[(change.layer == "fc.1") & (change.block == 1)].set_index(["seed", "variant"]).value
    assert not np.allclose(fc1.xs("dassdp", level="variant"), fc1.xs("none", level="variant"))


def test_atomic_files_and_manifests(finished):
    assert not list(finished.rglob("*.tmp"))
    manifest = json.loads((finished / "manifest.json").read_text())
    assert manifest["status"] == "done" and manifest["seeds"] == [0, 1]
    for run_dir in (finished / "runs").iterdir():
        run = store.read_manifest(run_dir)
        assert run["status"] == "done" and run["study_hash"] == manifest["study_hash"]
        assert run["run_id"] == run_dir.name and "torch" in run["versions"]
        assert {f"{name}.parquet" for name in RUN_TABLES} <= {p.name for p in run_dir.iterdir()}


def test_same_seed_same_numbers_and_resume_of_done_study_is_a_no_op(finished, tmp_path):
    study_text = (finished / "study.toml").read_text()
    (tmp_path / "s.toml").write_text(study_text)
    _run(tmp_path / "s.toml", tmp_path / "again")
    _assert_same(finished, tmp_path / "again")
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "again" / "runs").rglob("*.parquet")}
    assert main(["resume", str(tmp_path / "again"), "--quiet"]) == 0
    assert before == {p: p.stat().st_mtime_ns for p in (tmp_path / "again" / "runs").rglob("*.parquet")}
    # rerunning into a finished directory without --resume is refused, nothing touched
    assert main(["run", str(tmp_path / "s.toml"), "--out", str(tmp_path / "again"), "--quiet"]) == 2


def test_atomic_write_failure_leaves_nothing(tmp_path):
    def broken(tmp):
        Path(tmp).write_bytes(b"PAR1 half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        store.write_atomic(tmp_path / "t.parquet", broken)
    assert list(tmp_path.iterdir()) == []


def test_kill_9_then_resume_equals_uninterrupted(tiny_study, tmp_path):
    study = tiny_study(variants=("none", "dassdp"), seeds=(0, 1, 2, 3), epochs=3, hidden=(64, 64))
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dassdp.cli", "run", str(study), "--out", str(out), "--quiet"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 90
    while time.time() < deadline and not list(out.glob("runs/*/manifest.json")):
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    runs, _ = load_dir(out)
    states = run_states(runs)
    assert 1 <= states.done.sum() < len(states), "the study must be killed part-way"
    assert not (out / "manifest.json").exists() and not (out / "evaluations.parquet").exists()
    # a pending run's directory with a truncated table (as a crash might leave) is cleaned up
    pending = states[~states.done].run.iloc[-1]
    (out / "runs" / pending).mkdir(exist_ok=True)
    (out / "runs" / pending / "evaluations.parquet").write_bytes(b"PAR1 truncated")
    assert main(["resume", str(out), "--quiet"]) == 0
    assert run_states(load_dir(out)[0]).done.all()
    _run(study, tmp_path / "clean")
    _assert_same(out, tmp_path / "clean")


def test_dask_local_cluster_equals_local_processes(tiny_study, tmp_path):
    pytest.importorskip("distributed")
    study = tiny_study()
    _run(study, tmp_path / "procs", "--workers", "2")
    _run(study, tmp_path / "dask", "--local-cluster", "2")
    _assert_same(tmp_path / "procs", tmp_path / "dask")
    hosts = {store.read_manifest(p)["worker"]["pid"] for p in (tmp_path / "dask" / "runs").iterdir()}
    assert os.getpid() not in hosts
