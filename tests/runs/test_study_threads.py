"""``brian2.threads``: an integer in [1, MAX_THREADS] or "auto" (exit status 2 naming the field
otherwise); it says how runs execute, not what they compute, so run ids and the study hash do not
depend on it; the runner tells each run how many runs share its host."""

from __future__ import annotations

from pathlib import Path

import pytest

from dassdp.cli import main
from dassdp.runs.study import MAX_THREADS, expand_runs, load_study, study_hash


def _with_threads(tiny_study, value: str) -> Path:
    path = tiny_study()
    text = path.read_text()
    path.write_text(text.replace("[tasks]", f"[brian2]\nthreads = {value}\n[tasks]", 1))
    return path


@pytest.mark.parametrize(
    "value",
    ["0", "-1", str(MAX_THREADS + 1), "2.0", '"4"', "true", '"AUTO"', '"all"', "[2]", "{ n = 2 }"],
)
def test_invalid_threads_exit_2_naming_the_field(tiny_study, tmp_path, capsys, value):
    out = tmp_path / "out"
    assert main(["run", str(_with_threads(tiny_study, value)), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "`brian2.threads`" in err and f'[1, {MAX_THREADS}] or "auto"' in err, err
    assert "more error" not in err, err
    assert not out.exists()


@pytest.mark.parametrize(("value", "expected"), [(None, "auto"), ('"auto"', "auto"), ("1", 1), ("16", 16)])
def test_valid_threads(tiny_study, value, expected):
    study, _ = load_study(_with_threads(tiny_study, value) if value else tiny_study())
    assert study.brian2.threads == expected


def test_run_ids_and_study_hash_do_not_depend_on_threads(tiny_study):
    """A study resumed with another thread count keeps its runs (the results are the same)."""
    auto, _ = load_study(tiny_study())
    eight, _ = load_study(_with_threads(tiny_study, "8"))
    assert study_hash(auto) == study_hash(eight)
    specs = [spec for _, _, spec in expand_runs(auto)], [spec for _, _, spec in expand_runs(eight)]
    assert [s.run_id for s in specs[0]] == [s.run_id for s in specs[1]]
    assert [s.study["brian2"]["threads"] for s in specs[1]] == [8] * len(specs[1])  # the runs still see it
    other, _ = load_study(_with_threads(tiny_study, "8\nrate_scale = 2.0"))
    assert study_hash(other) != study_hash(eight)  # other brian2 fields still count


def test_build_directories_are_kept_per_thread_count(tiny_study, tmp_path):
    """Projects compiled for different thread counts never share a slot; the study's own value
    ("auto" or a number) does not matter, only the count the project is compiled for."""
    from dassdp.runs.brian2_phase import build_directory

    auto = expand_runs(load_study(tiny_study())[0])[0][2]
    two = expand_runs(load_study(_with_threads(tiny_study, "2"))[0])[0][2]

    def family(spec, threads):
        with build_directory([spec], tmp_path / "builds", threads) as path:
            return path.parent

    assert family(auto, 2) == family(two, 2) != family(auto, 4)


@pytest.mark.parametrize(("workers", "expected"), [(1, 1), (3, 3), (8, 4)])
def test_runner_tells_each_run_how_many_share_the_host(monkeypatch, tiny_study, tmp_path, workers, expected):
    """``concurrent`` (what ``"auto"`` divides the cores by) is ``--workers``, at most the number
    of pending runs (4 here)."""
    from dassdp.runs import runner

    def fake_run_one(spec_data, out, hash_, concurrent=1):
        raise RuntimeError(f"concurrent={concurrent}")

    # pickled by reference to the pool's forked workers, where the patched name resolves too
    fake_run_one.__module__, fake_run_one.__qualname__ = runner.__name__, "run_one"
    monkeypatch.setattr(runner, "run_one", fake_run_one)
    study, text = load_study(tiny_study())
    runs = runner.prepare_dir(study, text, tmp_path / "out", resume=False)
    failures = runner.run_study(runs, workers=workers)
    assert len(runs.runs) == 4 and sorted(str(err) for _, err in failures) == [f"concurrent={expected}"] * 4
