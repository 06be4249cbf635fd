"""A damaged, interrupted, locked or unwritable results directory: a clear message (exit 2), or
the same final tables as an uninterrupted run; never a traceback, never a finished run lost."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from dassdp.cli import main
from dassdp.runs import store
from dassdp.runs.runner import RUN_TABLES, load_dir, run_states

AGGREGATES = (*RUN_TABLES, "metrics", "summary")
ROOT = Path(__file__).resolve().parents[2]


def _tables(out: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(out / f"{name}.parquet") for name in AGGREGATES}


def _assert_same(a: Path, b: Path) -> None:
    left, right = _tables(a), _tables(b)
    for name in AGGREGATES:
        pd.testing.assert_frame_equal(left[name], right[name], check_exact=True, obj=name)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, write_tiny_study):
    """A finished tiny study (2 variants x 2 seeds), copied by the tests that damage it."""
    root = tmp_path_factory.mktemp("reliability")
    study = write_tiny_study(root / "tiny.toml", variants=("none", "dassdp"))
    assert main(["run", str(study), "--out", str(root / "out"), "--quiet"]) == 0
    return root / "out"


@pytest.fixture
def copy(finished, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(finished, out)
    return out


def _run_dirs(out: Path) -> list[Path]:
    return sorted((out / store.RUNS).iterdir())


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_bit(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _swap(path: Path) -> None:
    """Exchange this run's table with the same table of another run (both stay valid Parquet)."""
    other = next(d for d in _run_dirs(path.parent.parent.parent) if d != path.parent) / path.name
    a, b = path.read_bytes(), other.read_bytes()
    path.write_bytes(b)
    other.write_bytes(a)


DAMAGE = {
    "truncated": _truncate,
    "bit-flipped": _flip_bit,
    "deleted": lambda path: path.unlink(),
    "swapped": _swap,
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_run_is_reported_and_redone(copy, finished, damage, capsys):
    victim = _run_dirs(copy)[0]
    DAMAGE[damage](victim / "evaluations.parquet")
    states = run_states(load_dir(copy)[0]).set_index("run").state
    assert states[victim.name] == "damaged"
    if damage == "swapped":
        assert (states == "damaged").sum() == 2
    capsys.readouterr()
    assert main(["status", str(copy)]) == 0
    assert "damaged runs" in capsys.readouterr().out
    assert main(["resume", str(copy), "--quiet"]) == 0
    assert run_states(load_dir(copy)[0]).done.all()
    _assert_same(copy, finished)


def test_damaged_manifest_counts_as_damaged_and_is_redone(copy, finished):
    victim = _run_dirs(copy)[0]
    (victim / store.MANIFEST).write_text('{"status": "do')
    assert store.run_state(victim) == "damaged"
    assert main(["resume", str(copy), "--quiet"]) == 0
    _assert_same(copy, finished)


@pytest.mark.parametrize("damage", ["truncated", "bit-flipped", "deleted"])
def test_damaged_aggregate_status_and_report_say_so_and_resume_rewrites_it(copy, finished, damage, capsys):
    DAMAGE[damage](copy / "summary.parquet")
    assert store.damaged_tables(copy) == ["summary.parquet"]
    capsys.readouterr()
    assert main(["status", str(copy)]) == 0
    assert "aggregate tables damaged (summary.parquet)" in capsys.readouterr().out
    assert main(["report", str(copy)]) == 2
    assert "summary.parquet" in capsys.readouterr().err and not (copy / "report").exists()
    assert main(["resume", str(copy), "--quiet"]) == 0
    assert store.damaged_tables(copy) == []
    _assert_same(copy, finished)


def test_unreadable_manifest_is_an_error_and_nothing_is_removed(copy, capsys):
    """EACCES/EIO stand-in (the tests may run as root): the manifest is a directory, so reading
    it raises an OSError other than "not found"."""
    victim = _run_dirs(copy)[0]
    (victim / store.MANIFEST).unlink()
    (victim / store.MANIFEST).mkdir()
    with pytest.raises(store.StoreError, match="cannot read"):
        store.run_state(victim)
    capsys.readouterr()
    assert main(["resume", str(copy), "--quiet"]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert (victim / "evaluations.parquet").is_file()
    assert main(["status", str(copy)]) == 2


def test_stale_temporary_files_are_removed_by_resume(copy):
    stale = [copy / ".training.parquet.12345.0123abcd.tmp", _run_dirs(copy)[0] / ".gate.parquet.1.ff.tmp"]
    for path in stale:
        path.write_bytes(b"PAR1 half")
    assert main(["resume", str(copy), "--quiet"]) == 0
    assert not any(path.exists() for path in stale)


def test_a_study_killed_before_it_was_recorded_can_be_run_again(tiny_study, tmp_path, capsys):
    study = tiny_study(variants=("none",), seeds=(0,))
    out = tmp_path / "out"
    (out / store.RUNS).mkdir(parents=True)  # what a kill between `mkdir runs` and `study.json` leaves
    (out / ".study.toml.1.aa.tmp").write_text("half")
    for command in ("resume", "status"):
        assert main([command, str(out)]) == 2
        assert "interrupted before it started" in capsys.readouterr().err
    assert main(["run", str(study), "--out", str(out), "--quiet"]) == 0
    assert run_states(load_dir(out)[0]).done.all()


def test_out_that_is_a_file_exits_2_naming_out(tiny_study, tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("mine")
    assert main(["run", str(tiny_study()), "--out", str(target), "--quiet"]) == 2
    assert "--out" in capsys.readouterr().err and target.read_text() == "mine"


@pytest.fixture
def read_only(monkeypatch):
    """Make writes under a directory fail with EROFS (the tests may run as root, for whom
    permission bits do not stop writes)."""

    def make(directory: Path) -> None:
        directory = str(directory.resolve())

        def guard(real):
            def call(path, *args, **kwargs):
                if os.path.abspath(path).startswith(directory):
                    raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
                return real(path, *args, **kwargs)

            return call

        monkeypatch.setattr(os, "mkdir", guard(os.mkdir))
        real_open = os.open
        writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT
        monkeypatch.setattr(
            os, "open", lambda p, flags, *a, **k: (guard(real_open) if flags & writes else real_open)(p, flags, *a, **k)
        )

    return make


def test_read_only_out_exits_2_naming_out(tiny_study, tmp_path, read_only, capsys):
    out = tmp_path / "ro"
    read_only(tmp_path)
    assert main(["run", str(tiny_study()), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "Read-only file system" in err and "Traceback" not in err


def test_resume_and_report_on_a_read_only_file_system_exit_2(copy, read_only, capsys):
    read_only(copy)
    assert main(["resume", str(copy), "--quiet"]) == 2
    assert "Read-only file system" in capsys.readouterr().err
    assert main(["report", str(copy)]) == 2
    assert "--out" in capsys.readouterr().err
    assert main(["status", str(copy)]) == 0  # reads only


def test_unreachable_scheduler_exits_2_and_writes_nothing(tiny_study, tmp_path, capsys):
    pytest.importorskip("distributed")
    out = tmp_path / "out"
    assert main(["run", str(tiny_study()), "--out", str(out), "--scheduler", "tcp://127.0.0.1:1", "--quiet"]) == 2
    assert "--scheduler" in capsys.readouterr().err and not out.exists()


def test_second_process_on_a_locked_directory_is_refused(copy, capsys):
    """Another process holds the lock: `resume` and `run --resume` say so, remove nothing."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from dassdp.runs import store\n"
            f"with store.lock({str(copy)!r}):\n    print('held', flush=True); time.sleep(60)",
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        partial = copy / store.RUNS / "in-progress-elsewhere"
        partial.mkdir()
        capsys.readouterr()
        assert main(["resume", str(copy), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert f"in use by dassdp pid {holder.pid}" in err
        assert partial.is_dir()
        study = copy / "study.toml"
        assert main(["run", str(study), "--out", str(copy), "--resume", "--quiet"]) == 2
        assert partial.is_dir()
    finally:
        holder.kill()
        holder.wait()
    assert main(["resume", str(copy), "--quiet"]) == 0  # the lock went with its process


def _start(study: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dassdp.cli", "run", str(study), "--out", str(out), "--quiet", *extra],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a shell gives a job
    )


def _interrupt_after_first_run(proc: subprocess.Popen, out: Path, group: bool) -> tuple[int, str, float]:
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.glob("runs/*/manifest.json")):
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.01)
    sent = time.time()
    if group:
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err, time.time() - sent


@pytest.mark.parametrize(
    ("workers", "group"), [("2", False), ("2", True), ("1", True)], ids=["main-only", "group", "in-process"]
)
def test_ctrl_c_stops_cleanly_and_resume_finishes(tiny_study, tmp_path, workers, group):
    study = tiny_study(variants=("none", "dassdp"), seeds=(0, 1, 2), epochs=2, hidden=(64, 64))
    out = tmp_path / "interrupted"
    rc, err, seconds = _interrupt_after_first_run(_start(study, out, "--workers", workers), out, group)
    assert rc == 130, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and f"dassdp resume {out}" in lines[0]
    assert seconds < 30
    states = run_states(load_dir(out)[0])
    assert 1 <= states.done.sum() < len(states), "the study must be stopped part-way"
    assert not (out / store.MANIFEST).exists()
    assert main(["resume", str(out), "--quiet"]) == 0
    if workers == "2" and not group:
        assert main(["run", str(study), "--out", str(tmp_path / "clean"), "--quiet"]) == 0
        _assert_same(out, tmp_path / "clean")
