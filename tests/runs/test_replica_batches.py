"""``brian2.replicas``: the runner executes Brian2-phase runs that differ only in their seed and
``brian2.rate_scale`` (same variant) in batches, as replicas of one simulation.

No Brian2 here: ``execute_brian2_batch`` and ``execute_brian2`` are replaced by fakes whose tables
have the real schemas (`dassdp.runs.tasks.run_tables`) and whose numbers depend only on the run
(its seed, rate scale and sequence), as the real phase's do; what is checked is how the runner
groups, sizes, executes and stores batches. That a batch computes each run's own tables is the
phase's business (its tests compare batches against runs executed alone).
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import pandas as pd
import pytest

import dassdp.runs.brian2_phase as phase
from dassdp.cli import main
from dassdp.runs import runner, store
from dassdp.runs.runner import AUTO_REPLICAS, batches, load_dir, prepare_dir, run_batch, run_study
from dassdp.runs.study import MAX_REPLICAS, RunSpec, StudyError, expand_runs, load_study, parse_study, study_hash
from dassdp.runs.tasks import BRIAN2_TRAINING_COLUMNS, run_tables

STUDY = """
name = "replicas"
phase = "brian2"
variants = {variants}
seeds = {seeds}
sequence = [{{ task = "A", epochs = 1 }}, {{ task = "B", epochs = 1 }}]

[tasks]
kind = "classes"
scenario = "task"
[tasks.classes]
A = [0, 1]
B = [2, 3]

[network]
hidden = [8, 8]
n_steps = 4

[brian2]
train_samples = 8
eval_samples = 8
{brian2}
"""


def write(path: Path, variants=("none", "stdp"), seeds=(0, 1, 2, 3), brian2="", extra="") -> Path:
    text = STUDY.format(variants=list(variants), seeds=list(seeds), brian2=brian2).replace("'", '"')
    path.write_text(text + extra)
    return path


def fake_tables(spec: RunSpec) -> dict[str, pd.DataFrame]:
    """Valid tables of the run whose numbers depend on the run alone (seed, rate scale)."""
    study = spec.resolved()
    scale = study.brian2.rate_scale
    names = study.tasks.names
    evaluations = [
        {
            "block": block,
            "trained_task": study.blocks[block].task if block >= 0 else "",
            "eval_task": name,
            "accuracy": ((spec.seed * 7 + block * 3 + k + int(10 * scale)) % 10) / 10,
            "synchrony": 0.25,
        }
        for block in range(-1, len(study.blocks))
        for k, name in enumerate(names)
    ]
    training = [
        {
            "block": block,
            "task": study.blocks[block].task,
            "epoch": 0,
            "batch": 0,
            "trial": block,
            "loss": 1.0 / (1 + spec.seed),
            "accuracy": 0.5,
            "synchrony": 0.25,
            "gate": float("nan"),
            "warmup": False,
            "label": 0,
            "prediction": 0,
            "dopamine": float("nan"),
            "free_prediction": 0,
            "free_accuracy": 0.5,
        }
        for block in range(len(study.blocks))
    ]
    return run_tables(spec, training, evaluations, [], "readout", None, BRIAN2_TRAINING_COLUMNS, [])


class Fakes(list):
    """The calls ``(kind, [run ids], concurrent)`` the fakes got in this process (forked workers
    record theirs in their own copy); ``fail``: a predicate on a batch's specs that makes it
    raise (set it before the workers fork)."""

    def __init__(self) -> None:
        super().__init__()
        self.fail = lambda specs: False

    def batch(self, specs, build_root=None, pretrained_root=None, concurrent=1, timings=None):
        self.append(("batch", [s.run_id for s in specs], concurrent))
        if self.fail(specs):
            raise RuntimeError(f"batch failed: {len(specs)} runs, concurrent={concurrent}")
        return [fake_tables(s) for s in specs]

    def one(self, spec, build_root=None, pretrained_root=None, concurrent=1, timings=None):
        self.append(("one", [spec.run_id], concurrent))
        if self.fail([spec]):
            raise RuntimeError(f"run failed, concurrent={concurrent}")
        return fake_tables(spec)


@pytest.fixture(autouse=True)
def plenty_of_memory(monkeypatch):
    """Batch sizes that do not depend on this machine's free memory (one test sets it)."""
    monkeypatch.setattr(runner, "available_memory", lambda: 2**50)


@pytest.fixture
def fakes(monkeypatch) -> Fakes:
    """`Fakes` in place of the phase's ``execute_brian2_batch`` and ``execute_brian2``."""
    fakes = Fakes()
    monkeypatch.setattr(phase, "execute_brian2_batch", fakes.batch)
    monkeypatch.setattr(phase, "execute_brian2", fakes.one)
    return fakes


def _specs(tmp_path, **kw) -> list[RunSpec]:
    study, _ = load_study(write(tmp_path / "s.toml", **kw))
    return [spec for _, _, spec in expand_runs(study)]


def _many(n: int, target: str = "numpy", replicas="auto") -> list[RunSpec]:
    """``n`` runs of one variant (seeds 0..n-1) of a study on ``target``."""
    data = tomllib.loads(STUDY.format(variants=["stdp"], seeds=[0], brian2="").replace("'", '"'))
    body = expand_runs(parse_study(data))[0][2].study
    body = copy.deepcopy(body)
    body["brian2"].update(target=target, replicas=replicas)
    return [RunSpec(study=body, variant="stdp", seed=seed) for seed in range(n)]


def _manifests(out: Path) -> dict[str, dict]:
    return {p.name: store.read_manifest(p) for p in (out / store.RUNS).iterdir() if store.is_done(p)}


# ------------------------------------------------------------------------------------------
# grouping and batch sizes
# ------------------------------------------------------------------------------------------


def test_batches_group_seeds_and_rate_scales_never_variants_or_other_values(tmp_path):
    extra = '\n[sweep]\n"brian2.rate_scale" = [1.0, 2.0]\n"brian2.teacher" = [0.5, 1.0]\n'
    specs = _specs(tmp_path, seeds=(0, 1, 2), brian2="replicas = 16", extra=extra)
    assert len(specs) == 2 * 2 * 2 * 3  # points (rate_scale x teacher) x variants x seeds
    units = batches(specs)
    assert len(units) == 4  # variant x teacher
    for unit in units:
        assert len({s.variant for s in unit}) == 1
        assert len({s.study["brian2"]["teacher"] for s in unit}) == 1
        assert {(s.seed, s.study["brian2"]["rate_scale"]) for s in unit} == {
            (seed, scale) for seed in (0, 1, 2) for scale in (1.0, 2.0)
        }
        # the study's order within a batch, batches in the order of their first runs
        assert [specs.index(s) for s in unit] == sorted(specs.index(s) for s in unit)
    firsts = [specs.index(unit[0]) for unit in units]
    assert firsts == sorted(firsts)


def test_calibration_points_and_seeds_share_batches(tmp_path):
    extra = "\n[calibration]\ngrid = [0.5, 1.0, 2.0]\nseeds = [1000, 1001]\n"
    study, text = load_study(write(tmp_path / "s.toml", variants=("none", "stdp", "dastdp"), extra=extra))
    runs = prepare_dir(study, text, tmp_path / "out", resume=False)
    specs = [spec for _, _, spec in runs.calibration]
    assert len(specs) == 3 * 2 * 2  # grid x calibrated variants (stdp, dastdp) x seeds
    units = batches(specs)
    assert [[s.variant for s in u] for u in units] == [["stdp"] * 6, ["dastdp"] * 6]
    assert {(s.seed, s.study["brian2"]["rate_scale"]) for s in units[0]} == {
        (seed, scale) for seed in (1000, 1001) for scale in (0.5, 1.0, 2.0)
    }


@pytest.mark.parametrize(
    ("replicas", "n", "workers", "sizes"),
    [
        (1, 5, 1, [1] * 5),
        (3, 8, 1, [3, 3, 2]),
        (4, 8, 1, [4, 4]),
        (6, 7, 1, [4, 3]),  # at most 6, as even as the count of batches allows
        (8, 8, 1, [8]),
        (100, 8, 1, [8]),
        (3, 8, 4, [3, 3, 2]),  # an integer does not depend on the workers
        ("auto", 8, 1, [8]),
        ("auto", 8, 3, [3, 3, 2]),
        ("auto", 8, 8, [1] * 8),
        ("auto", 8, 20, [1] * 8),
        ("auto", 40, 1, [14, 13, 13]),  # at most AUTO_REPLICAS["numpy"] = 16
    ],
)
def test_batch_sizes(replicas, n, workers, sizes):
    specs = _many(n, replicas=replicas)
    units = batches(specs, workers)
    assert [len(u) for u in units] == sizes
    assert [s for u in units for s in u] == specs  # in order, each run once


@pytest.mark.parametrize("target", ["numpy", "cython", "cpp_standalone", "cuda_standalone"])
def test_auto_batches_are_capped_per_target(target):
    cap = AUTO_REPLICAS[target]
    assert [len(u) for u in batches(_many(3 * cap, target=target), workers=1)] == [cap] * 3
    assert [len(u) for u in batches(_many(cap + 1, target=target), workers=1)] == [cap // 2 + 1, cap // 2]
    assert [len(u) for u in batches(_many(cap, target=target), workers=1)] == [cap]
    assert AUTO_REPLICAS["numpy"] <= AUTO_REPLICAS["cpp_standalone"] <= AUTO_REPLICAS["cuda_standalone"]


@pytest.mark.parametrize(("target", "sizes"), [("numpy", [3, 3, 2]), ("cpp_standalone", [8]), ("cuda_standalone", [8])])
def test_auto_compiles_one_project_per_group_on_compiled_targets(target, sizes):
    """With 3 workers, "auto" spreads 8 runs over the workers on numpy, but keeps them in one
    simulation on the targets that compile a project per simulation."""
    assert [len(u) for u in batches(_many(8, target=target), workers=3)] == sizes


def test_pytorch_phase_runs_one_per_unit(monkeypatch, tiny_study, tmp_path):
    """A PyTorch-phase study (``replicas`` set or not) runs every run on its own, by `run_one`."""
    path = tiny_study()
    path.write_text(path.read_text().replace("[tasks]", "[brian2]\nreplicas = 4\n[tasks]", 1))
    study, text = load_study(path)
    runs = prepare_dir(study, text, tmp_path / "out", resume=False)
    specs = [spec for _, _, spec in runs.runs]
    assert batches(specs, 1) == [[s] for s in specs]
    seen = []

    def fake_run_one(spec_data, out, hash_, concurrent=1):
        seen.append(spec_data["seed"])
        raise RuntimeError("not run")

    def no_batch(*args, **kwargs):
        raise AssertionError("run_batch called for the PyTorch phase")

    monkeypatch.setattr(runner, "run_one", fake_run_one)
    monkeypatch.setattr(runner, "run_batch", no_batch)
    failures = run_study(runs, workers=1)
    assert len(failures) == len(specs) == len(seen) == 4


# ------------------------------------------------------------------------------------------
# executing and storing batches
# ------------------------------------------------------------------------------------------


def test_run_study_executes_batches_and_manifests_name_them(fakes, tmp_path):
    study, text = load_study(write(tmp_path / "s.toml", brian2="replicas = 2"))
    runs = prepare_dir(study, text, tmp_path / "out", resume=False)
    done = []
    assert run_study(runs, workers=1, on_done=done.append) == []
    ids = [spec.run_id for _, _, spec in runs.runs]
    assert [c[0] for c in fakes] == ["batch"] * 4 and [len(c[1]) for c in fakes] == [2] * 4
    assert [i for c in fakes for i in c[1]] == ids and {c[2] for c in fakes} == {1}
    assert sorted(m["run_id"] for m in done) == sorted(ids)  # on_done once per run
    manifests = _manifests(tmp_path / "out")
    assert sorted(manifests) == sorted(ids)
    for call in fakes:
        for run_id in call[1]:
            m = manifests[run_id]
            assert m["status"] == "done" and m["replicas"] == 2 and m["batch"] == call[1]
            timings = m["timings"]
            assert timings["batch_seconds"] >= 0 and timings["seconds"] == pytest.approx(timings["batch_seconds"] / 2)
    # a resumed study executes nothing and reports every run again
    again = []
    assert run_study(load_dir(tmp_path / "out")[0], on_done=again.append) == [] and len(fakes) == 4
    assert sorted(m["run_id"] for m in again) == sorted(ids)


def test_replicas_change_nothing_in_the_results(fakes, tmp_path):
    """Studies with replicas 1, 3 and "auto" give the same run ids, hash and aggregated tables."""
    outs = {}
    for value in ("1", "3", '"auto"'):
        out = tmp_path / f"out{value.strip(chr(34))}"
        path = write(tmp_path / f"{value.strip(chr(34))}.toml", brian2=f"replicas = {value}")
        assert main(["run", str(path), "--out", str(out), "--quiet"]) == 0
        outs[value] = out
    sizes = {value: sorted({m["replicas"] for m in _manifests(out).values()}) for value, out in outs.items()}
    assert sizes == {"1": [1], "3": [2], '"auto"': [4]}  # 4 seeds per variant: 3 -> 2 + 2
    ids = {value: sorted(_manifests(out)) for value, out in outs.items()}
    assert ids["1"] == ids["3"] == ids['"auto"']
    hashes = {value: load_dir(out)[0].hash for value, out in outs.items()}
    assert len(set(hashes.values())) == 1
    for name in ("evaluations", "training", "metrics", "summary"):
        tables = [pd.read_parquet(out / f"{name}.parquet") for out in outs.values()]
        for table in tables[1:]:
            pd.testing.assert_frame_equal(tables[0], table, check_exact=True, obj=name)


def test_a_failed_batch_runs_each_run_alone_so_only_the_faulty_one_fails(fakes, tmp_path):
    """Seed 1 cannot run (its simulation raises, in a batch or alone): its batch fails, each of
    the batch's runs then runs alone, and only seed 1 fails and stays pending; resume redoes it
    alone."""
    study, text = load_study(write(tmp_path / "s.toml", variants=("stdp",), brian2="replicas = 2"))
    runs = prepare_dir(study, text, tmp_path / "out", resume=False)
    fakes.fail = lambda specs: any(s.seed == 1 for s in specs)
    failures = run_study(runs, workers=1)
    ids = [spec.run_id for _, _, spec in runs.runs]
    assert [run_id for run_id, _ in failures] == [ids[1]] and "run failed" in str(failures[0][1])
    assert fakes == [("batch", ids[:2], 1), ("one", [ids[0]], 1), ("one", [ids[1]], 1), ("batch", ids[2:], 1)]
    states = {spec.run_id: store.run_state(runs.run_dir(spec)) for _, _, spec in runs.runs}
    assert [states[i] for i in ids] == ["done", "pending", "done", "done"]
    assert not runs.run_dir(runs.runs[1][2]).exists()  # nothing written for the failed run
    fakes.fail = lambda specs: False
    fakes.clear()
    assert run_study(load_dir(tmp_path / "out")[0]) == []
    assert fakes == [("one", [ids[1]], 1)]
    assert sorted(_manifests(tmp_path / "out")) == sorted(ids)


def test_all_tables_are_written_before_any_manifest(fakes, monkeypatch, tmp_path):
    """A batch killed while it stores leaves every run without a manifest pending."""
    specs = _specs(tmp_path, variants=("stdp",), seeds=(0, 1, 2))
    order = []
    parquet, json_ = store.write_parquet_atomic, store.write_json_atomic
    monkeypatch.setattr(store, "write_parquet_atomic", lambda f, p: (order.append(("table", p)), parquet(f, p))[1])
    monkeypatch.setattr(store, "write_json_atomic", lambda v, p: (order.append(("manifest", p)), json_(v, p))[1])
    out = tmp_path / "out"
    run_batch([s.model_dump(mode="json") for s in specs], str(out), "hash")
    kinds = [kind for kind, _ in order]
    assert kinds == ["table"] * (3 * len(runner.RUN_TABLES)) + ["manifest"] * 3

    # killed after the first manifest: the first run is done, the others pending (and redone)
    killed = tmp_path / "killed"

    def die_after_first(value, path):
        if list(killed.rglob(store.MANIFEST)):
            raise KeyboardInterrupt
        json_(value, path)

    monkeypatch.setattr(store, "write_json_atomic", die_after_first)
    with pytest.raises(KeyboardInterrupt):
        run_batch([s.model_dump(mode="json") for s in specs], str(killed), "hash")
    states = [store.run_state(killed / store.RUNS / s.run_id) for s in specs]
    assert states == ["done", "pending", "pending"]
    monkeypatch.setattr(store, "write_json_atomic", json_)
    fakes.clear()
    run_batch([s.model_dump(mode="json") for s in specs], str(killed), "hash")
    assert fakes == [("batch", [s.run_id for s in specs[1:]], 1)]
    assert [store.run_state(killed / store.RUNS / s.run_id) for s in specs] == ["done"] * 3


def test_a_batch_executes_only_its_pending_runs(fakes, tmp_path):
    specs = _specs(tmp_path, variants=("stdp",), seeds=(0, 1, 2))
    datas = [s.model_dump(mode="json") for s in specs]
    out = str(tmp_path / "out")
    first = runner.run_one(datas[1], out, "hash")  # done before the batch
    assert first["replicas"] == 1 and first["batch"] == [specs[1].run_id]
    before = (tmp_path / "out" / store.RUNS / specs[1].run_id / store.MANIFEST).stat().st_mtime_ns
    fakes.clear()
    manifests = run_batch(datas, out, "hash", concurrent=3)
    assert fakes == [("batch", [specs[0].run_id, specs[2].run_id], 3)]
    assert [m["run_id"] for m in manifests] == [s.run_id for s in specs]
    assert manifests[1] == first
    assert (tmp_path / "out" / store.RUNS / specs[1].run_id / store.MANIFEST).stat().st_mtime_ns == before
    assert manifests[0]["batch"] == manifests[2]["batch"] == [specs[0].run_id, specs[2].run_id]
    assert manifests[0]["replicas"] == 2
    # a damaged run is redone; one pending run left executes alone (no replicas)
    damaged = tmp_path / "out" / store.RUNS / specs[2].run_id / "gate.parquet"
    store.write_parquet_atomic(pd.DataFrame({"x": [1]}), damaged)
    assert store.run_state(damaged.parent) == "damaged"
    fakes.clear()
    manifests = run_batch(datas, out, "hash")
    assert fakes == [("one", [specs[2].run_id], 1)]
    assert manifests[2]["replicas"] == 1 and manifests[2]["batch"] == [specs[2].run_id]
    assert store.run_state(tmp_path / "out" / store.RUNS / specs[2].run_id) == "done"
    fakes.clear()
    assert run_batch(datas, out, "hash") == manifests and fakes == []  # all done: nothing executes


def test_a_batch_of_one_is_run_one(monkeypatch, tmp_path):
    spec = _specs(tmp_path, variants=("stdp",), seeds=(0,))[0]
    monkeypatch.setattr(
        runner, "run_one", lambda data, out, hash_, concurrent=1: {"one": data["seed"], "c": concurrent}
    )
    assert run_batch([spec.model_dump(mode="json")], str(tmp_path), "hash", 5) == [{"one": 0, "c": 5}]


def test_local_workers_run_batches_and_report_failures_per_run(fakes, tmp_path):
    """With 2 worker processes, "auto" cuts each variant's 4 runs into 2 batches of 2, each told
    that 2 batches execute at once; every stdp run fails (in its batch and alone), each reported
    as its own failure from the worker that ran it."""
    study, text = load_study(write(tmp_path / "s.toml"))
    runs = prepare_dir(study, text, tmp_path / "out", resume=False)
    fakes.fail = lambda specs: specs[0].variant == "stdp"  # inherited by the forked workers
    failures = run_study(runs, workers=2, start_method="fork")
    stdp = [spec.run_id for _, _, spec in runs.runs if spec.variant == "stdp"]
    assert sorted(run_id for run_id, _ in failures) == sorted(stdp)
    assert {str(err) for _, err in failures} == {"run failed, concurrent=2"}
    manifests = _manifests(tmp_path / "out")
    assert sorted(manifests) == sorted(spec.run_id for _, _, spec in runs.runs if spec.variant == "none")
    assert sorted(len(m["batch"]) for m in manifests.values()) == [2] * 4


def test_cluster_threads_counts_every_worker_thread():
    class Client:
        def scheduler_info(self):
            return {"workers": {"a": {"host": "h1", "nthreads": 2}, "b": {"host": "h2", "nthreads": 3}}}

    assert runner._cluster_threads(Client()) == 5 and runner._runs_per_host(Client()) == 3


def test_dask_batches_fit_the_workers_memory_not_the_clients():
    """On Dask the memory of a batch is the smallest worker memory limit per thread."""

    class Client:
        def __init__(self, limits):
            self.limits = limits

        def scheduler_info(self):
            workers = {f"w{k}": {"nthreads": 2, "memory_limit": limit} for k, limit in enumerate(self.limits)}
            return {"workers": workers}

    assert runner._memory_per_task(Client([8 * 2**30, 4 * 2**30])) == 2 * 2**30
    assert runner._memory_per_task(Client([8 * 2**30, 0])) is None  # a worker without a limit
    specs = _many(16, target="cpp_standalone")
    per_replica = runner.replica_bytes(specs[0].resolved())
    assert [len(u) for u in batches(specs, workers=8, memory=3 * per_replica)] == [3] * 4 + [2] * 2


# ------------------------------------------------------------------------------------------
# the study field
# ------------------------------------------------------------------------------------------


def _with_replicas(tmp_path, value: str) -> Path:
    return write(tmp_path / "s.toml", brian2=f"replicas = {value}")


@pytest.mark.parametrize(
    "value", ["0", "-1", str(MAX_REPLICAS + 1), "1.5", "2.0", '"x"', '"4"', "true", '"AUTO"', "[2]", "{ n = 2 }"]
)
def test_invalid_replicas_exit_2_naming_the_field(tmp_path, capsys, value):
    out = tmp_path / "out"
    assert main(["run", str(_with_replicas(tmp_path, value)), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "`brian2.replicas`" in err and f"[1, {MAX_REPLICAS}]" in err and '"auto"' in err, err
    assert "more error" not in err, err
    assert not out.exists()
    with pytest.raises(StudyError) as info:
        load_study(tmp_path / "s.toml")
    assert info.value.field == "brian2.replicas"


@pytest.mark.parametrize(
    ("value", "expected"), [(None, "auto"), ('"auto"', "auto"), ("1", 1), ("4", 4), (str(MAX_REPLICAS), MAX_REPLICAS)]
)
def test_valid_replicas(tmp_path, value, expected):
    path = _with_replicas(tmp_path, value) if value else write(tmp_path / "s.toml")
    assert load_study(path)[0].brian2.replicas == expected


def test_run_ids_and_study_hash_do_not_depend_on_replicas(tmp_path):
    one = load_study(write(tmp_path / "one.toml", brian2="replicas = 1"))[0]
    four = load_study(write(tmp_path / "four.toml", brian2="replicas = 4\nthreads = 2"))[0]
    auto = load_study(write(tmp_path / "auto.toml"))[0]
    assert study_hash(one) == study_hash(four) == study_hash(auto)
    ids = [[spec.run_id for _, _, spec in expand_runs(s)] for s in (one, four, auto)]
    assert ids[0] == ids[1] == ids[2]
    assert {spec.study["brian2"]["replicas"] for _, _, spec in expand_runs(four)} == {4}  # the runs still see it
    other = load_study(write(tmp_path / "other.toml", brian2="replicas = 4\nrate_scale = 2.0"))[0]
    assert study_hash(other) != study_hash(four)


def test_a_sweep_over_replicas_is_refused():
    base = {"tasks": {"classes": {"A": [0, 1]}}, "sequence": ["A"], "phase": "brian2", "variants": ["none"]}
    with pytest.raises(StudyError) as info:
        parse_study({**base, "sweep": {"brian2.replicas": [1, 2]}})
    assert info.value.field == "sweep.brian2.replicas" and "give the same runs" in str(info.value)


def test_auto_batches_fit_into_the_memory(monkeypatch):
    """ "auto" never puts more replicas into a simulation than the memory holds for the batches
    running at once; the estimate grows with the run's steps and neurons."""
    specs = _many(16, target="cpp_standalone")
    per_replica = runner.replica_bytes(specs[0].resolved())
    monkeypatch.setattr(runner, "available_memory", lambda: 2 * 5 * per_replica)  # 5 each for 2 workers
    assert [len(u) for u in batches(specs, workers=2)] == [4, 4, 4, 4]
    monkeypatch.setattr(runner, "available_memory", lambda: 0)
    assert [len(u) for u in batches(specs, workers=2)] == [1] * 16  # at least one run per simulation
    bigger = copy.deepcopy(specs[0].study)
    bigger["brian2"]["train_samples"] *= 10
    assert runner.replica_bytes(RunSpec(study=bigger, variant="stdp", seed=0).resolved()) > 2 * per_replica
