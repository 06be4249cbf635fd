"""The Brian2 phase of a study: PyTorch pretraining, exact conversion with label neurons, the task
sequence in Brian2 with each rule, and its validation.

Oracles: the pretrained PyTorch model (float64) on the same evaluation samples, and NumPy
recomputations of the reward-prediction-error dopamine from the label spikes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dassdp.cli import main
from dassdp.runs.study import expand_runs, load_study

from .conftest import assert_best_within_rounding, pytorch_predictions

STUDY = """
name = "tiny_brian2"
phase = "brian2"
variants = {variants}
seeds = [0, 1]
sequence = [{{ task = "A", epochs = 1 }}, {{ task = "B", epochs = 1 }}]

[tasks]
kind = "classes"
scenario = "task"
[tasks.classes]
A = [0, 1]
B = [2, 3]

[network]
hidden = [16, 16]
n_steps = 4

[brian2]
pretrain = ["A", "B"]
pretrain_epochs = 2
train_samples = 24
eval_samples = 20
{brian2}
[brian2.dassdp]
warmup = 10
"""


def write(path: Path, variants=("none", "dassdp"), brian2="", extra="") -> Path:
    path.write_text(STUDY.format(variants=list(variants), brian2=brian2).replace("'", '"') + extra)
    return path


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    root = tmp_path_factory.mktemp("brian2_phase")
    study = write(root / "tiny.toml")
    assert main(["run", str(study), "--out", str(root / "out"), "--quiet", "--workers", "2"]) == 0
    return root


def test_tables_schema_and_values(finished):
    out = finished / "out"
    ev, tr = pd.read_parquet(out / "evaluations.parquet"), pd.read_parquet(out / "training.parquet")
    metrics, gate = pd.read_parquet(out / "metrics.parquet"), pd.read_parquet(out / "gate.parquet")
    assert len(ev) == 4 * 3 * 2  # 4 runs x (before, after A, after B) x 2 tasks
    assert ev.accuracy.between(0, 1).all() and ev.synchrony.between(0, 1).all()
    assert len(tr) == 4 * 2 * 24  # 2 blocks of 24 training windows per run
    for run, rows in tr.groupby("run"):
        assert (rows.trial.to_numpy() == np.arange(48)).all()
    assert np.isfinite(tr.loss).all() and (tr.loss >= 0).all()
    plastic = tr[tr.variant == "dassdp"]
    assert plastic.warmup.sum() == 2 * 10 and plastic.gate[plastic.warmup].isna().all()
    assert plastic.gate[~plastic.warmup].between(0, 2).all()
    assert tr[tr.variant == "none"].gate.isna().all() and tr[tr.variant == "none"].dopamine.isna().all()
    assert tr.accuracy.isin([0.0, 1.0]).all() and tr.prediction.between(0, 9).all()
    assert (tr.accuracy == (tr.prediction == tr.label)).all() and set(tr.label) == {0, 1, 2, 3}
    learnt = plastic[~plastic.warmup]
    assert (learnt.dopamine == learnt.gate).all()  # DA-SSDP's dopamine carries the gate
    assert len(gate) == 2 and np.isfinite(gate[["k", "mu", "s"]].to_numpy()).all() and (gate.s > 0).all()
    assert np.isfinite(metrics[metrics.metric.isin(["ACC", "BWT", "forgetting"])].value).all()
    weights = pd.read_parquet(out / "weights.parquet")
    change = weights[(weights.layer == "readout") & (weights.stat == "change_from_initial")]
    assert (change[change.variant == "none"].value == 0).all()
    assert (change[change.variant == "dassdp"].value > 0).all()
    fixed = weights[(weights.layer == "fc.0") & (weights.stat == "change_from_initial")]
    assert (fixed.value == 0).all()  # the hidden layers do not learn in this phase


def test_none_variant_predicts_like_the_pretrained_pytorch_model(finished):
    """The label neurons' ``n theta + v`` is T times the PyTorch logit: without plasticity every
    evaluation must score exactly what the pretrained float64 PyTorch model scores, and so must
    the label neurons' own prediction in training windows (the teacher's input removed)."""
    from dassdp.runs.tasks import task_mask

    study, _ = load_study(finished / "tiny.toml")
    ev = pd.read_parquet(finished / "out" / "evaluations.parquet")
    tr = pd.read_parquet(finished / "out" / "training.parquet")
    for _, _, spec in expand_runs(study):
        if spec.variant != "none":
            continue
        logits, lay, tasks, n_classes = pytorch_predictions(study, spec)
        train = np.flatnonzero(lay.learn)
        masks = np.stack([task_mask(study, tasks[lay.task[w]], n_classes, "cpu").numpy() for w in train])
        own = tr[tr.run == spec.run_id].sort_values("trial").free_prediction.to_numpy()
        assert_best_within_rounding(own, np.where(masks, logits[train], -np.inf))
        assert (tr[tr.run == spec.run_id].prediction.to_numpy() != own).any()  # the teacher did change some
        rows = ev[ev.run == spec.run_id]
        segments = [f"{kind}:{block}" for kind, block in lay.segment]
        for _, row in rows.iterrows():
            where = (np.array(segments) == f"eval:{row.block}") & (np.array(lay.task) == row.eval_task)
            mask = task_mask(study, tasks[row.eval_task], n_classes, "cpu").numpy()
            expected = (np.where(mask, logits[where], -np.inf).argmax(1) == lay.labels[where]).mean()
            assert row.accuracy == expected
        assert rows.accuracy.nunique() <= 2 and rows.groupby("eval_task").accuracy.nunique().eq(1).all()


def test_pretraining_is_shared_through_the_cache_and_changes_nothing(tmp_path, monkeypatch):
    """Two variants of a seed pretrain once with a cache, and give the tables they give without it."""
    import dassdp.runs.brian2_phase as phase

    study, _ = load_study(write(tmp_path / "s.toml", variants=("none", "ssdp")))
    specs = [spec for _, _, spec in expand_runs(study) if spec.seed == 0]
    fresh = {spec.variant: phase.execute_brian2(spec) for spec in specs}
    calls = []
    original = phase.pretrain
    monkeypatch.setattr(phase, "pretrain", lambda *args: calls.append(args[-1]) or original(*args))
    cached = {spec.variant: phase.execute_brian2(spec, pretrained_root=tmp_path / "cache") for spec in specs}
    assert calls == [0] and len(list((tmp_path / "cache").glob("*.pt"))) == 1
    for variant, tables in cached.items():
        for name, table in tables.items():
            pd.testing.assert_frame_equal(table, fresh[variant][name], obj=f"{variant} {name}")


def test_reward_prediction_error_dopamine_matches_numpy():
    """``reward_prediction_error``: after each learning window the dopamine jumps by
    ``(r - rbar) / tau_n`` with ``r`` the label neuron's share of the spikes, ``rbar`` follows ``r``
    at ``rate``, and between releases the dopamine relaxes to its tonic level."""
    from brian2 import Network, SpikeGeneratorGroup, StateMonitor, defaultclock, ms, second

    from dassdp.models.relay import relay
    from dassdp.models.targets import use_target
    from dassdp.rules.brian2 import neuron_variables
    from dassdp.rules.brian2.reward import reward_prediction_error
    from dassdp.rules.reference import Schedule

    steps, n_windows, n, tau_n, rate, tonic = 5, 12, 3, 0.01, 0.3, 40.0
    rng = np.random.default_rng(5)
    raster = rng.random((n_windows * steps, n)) < 0.3
    raster[2 * steps : 3 * steps] = False  # a window without any spike: r = 0
    labels = rng.integers(0, n, n_windows)
    learn = np.ones(n_windows)
    learn[[4, 8]] = 0
    step, idx = np.nonzero(raster)
    with use_target("numpy"):
        defaultclock.dt = 1 * ms
        window = steps * ms
        source = SpikeGeneratorGroup(n, idx, step * ms)
        group, objects = relay(source, extra="DA : 1\n" + neuron_variables("readout"))
        volume = reward_prediction_error(
            group, labels, Schedule(learn, float(window / second)), float(window / second), tau_n, rate, tonic=tonic
        )
        before = StateMonitor(volume.group, ["DA", "rbar"], record=0, dt=window, when="before_groups")
        after = StateMonitor(volume.group, ["DA", "rbar"], record=0, dt=window, when="after_groups")
        Network(source, *objects, *volume.objects, before, after).run(n_windows * window + 1 * ms)
        jumps = (after.DA[0] - before.DA[0])[1:]
        rbar = after.rbar[0][1:]
        level = np.asarray(before.DA[0])
    counts = raster.reshape(n_windows, steps, n).sum(1)
    r = counts[np.arange(n_windows), labels] / np.maximum(counts.sum(1), 1)
    expected_jump, expected_rbar, mean = [], [], 0.0
    for m in range(n_windows):
        expected_jump.append(learn[m] * (r[m] - mean) / tau_n)
        mean += learn[m] * rate * (r[m] - mean)
        expected_rbar.append(mean)
    np.testing.assert_allclose(jumps, expected_jump, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(rbar, expected_rbar, rtol=1e-12, atol=1e-12)
    assert np.ptp(expected_jump) > 1  # positive and negative prediction errors occur
    # before any release the level is tonic; each window decays the phasic part by exp(-T / tau_n)
    assert level[0] == pytest.approx(tonic)
    decay = np.exp(-float(window / second) / tau_n)
    np.testing.assert_allclose(level[1:] - tonic, (np.asarray(after.DA[0])[:-1] - tonic) * decay, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(
    ("brian2", "variants", "field"),
    [
        ("", ("frozen", "dassdp"), "variants.0"),
        ('signal = "reward"', ("dastdp", "stdp"), "brian2.signal"),
        ("teacher = 0.0", ("none",), "brian2.teacher"),
        ('target = "cuda_standalone"', ("none",), "brian2.target"),
        ('pretrain = ["C"]', ("none",), "brian2.pretrain.0"),
        ("train_samples = 2", ("dassdp",), "brian2.dassdp.warmup"),
        ('signal = "dopamine"', ("none",), "brian2.signal"),
    ],
)
def test_invalid_brian2_phase_exits_2_names_field(tmp_path, capsys, brian2, variants, field):
    if field == "brian2.target":
        from dassdp.runs.doctor import target_problem

        if target_problem("cuda_standalone") is None:
            pytest.skip("cuda_standalone is available on this machine")
    text = STUDY.format(variants=list(variants), brian2="").replace("'", '"')
    key = brian2.split(" = ")[0] if brian2 else None
    if key:  # replace the field if the study sets it already, else add it
        lines = [line for line in text.splitlines() if not line.startswith(f"{key} = ")]
        text = "\n".join(lines).replace("[brian2]\n", f"[brian2]\n{brian2}\n")
    path = tmp_path / "bad.toml"
    path.write_text(text)
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    message = capsys.readouterr().err
    assert f"`{field}`" in message and len(message.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.standalone
@pytest.mark.slow  # two C++ builds: about 1-2 minutes, kept out of the default run (make test-slow)
def test_cpp_standalone_gives_the_numpy_tables_and_compiles_once_per_variant(tmp_path):
    """Changing ``brian2.target`` changes nothing in the numbers (DA-SSDP with its in-network
    gate; DA-STDP with reward-prediction-error dopamine and the teacher; both with the divisive
    normalisation), and a second seed of a
    variant reuses the compiled project: almost no object file is rebuilt."""
    import tomllib

    from dassdp.runs.brian2_phase import execute_brian2
    from dassdp.runs.study import parse_study

    text = STUDY.format(variants=["dassdp", "dastdp"], brian2='normalization = "divisive"').replace("'", '"')
    builds = tmp_path / "builds"
    tables, rebuilt = {}, {}
    for target in ("numpy", "cpp_standalone"):
        data = tomllib.loads(text)
        data["brian2"]["target"] = target
        for _, _, spec in expand_runs(parse_study(data)):
            if spec.variant == "dastdp" and spec.seed == 1:
                continue
            before = {path: path.stat().st_mtime_ns for path in builds.rglob("*.o")}
            tables[target, spec.variant, spec.seed] = execute_brian2(spec, build_root=builds)
            after = {path: path.stat().st_mtime_ns for path in builds.rglob("*.o")}
            rebuilt[target, spec.variant, spec.seed] = sum(after[p] != before.get(p) for p in after), len(after)
    for key in [k for k in tables if k[0] == "numpy"]:
        for name in ("training", "evaluations", "weights", "gate"):
            numpy_table = tables[key][name].drop(columns="run")
            cpp_table = tables[("cpp_standalone", *key[1:])][name].drop(columns="run")
            pd.testing.assert_frame_equal(numpy_table, cpp_table, check_exact=False, rtol=1e-9, obj=f"{key} {name}")
    assert not tables["numpy", "dassdp", 0]["evaluations"].equals(tables["numpy", "dassdp", 1]["evaluations"])
    change = tables["numpy", "dastdp", 0]["weights"].query("layer == 'readout' and stat == 'change_from_initial'")
    assert (change.value > 0).all()
    slots = sorted(p.relative_to(builds).as_posix() for p in builds.glob("*/slot*") if p.is_dir())
    assert len(slots) == 2 and all(s.startswith("cpp_standalone-") for s in slots)  # one project per variant
    changed, total = rebuilt["cpp_standalone", "dassdp", 1]
    first, _ = rebuilt["cpp_standalone", "dassdp", 0]
    assert first == total > 20 and changed <= 2, sorted(rebuilt.items())


def test_shipped_studies_are_valid_and_switch_to_cuda_by_one_field():
    """Every study in studies/ and the demo's embedded one validates; in the Brian2 ones the
    target is the single field ``brian2.target``."""
    import re
    import tomllib

    from dassdp.cli.demo import study_text
    from dassdp.runs.study import parse_study

    root = Path(__file__).resolve().parents[2] / "studies"
    texts = {path.name: path.read_text() for path in sorted(root.glob("*.toml"))}
    texts["demo"] = study_text()
    assert len(texts) >= 6
    for name, text in texts.items():
        study = parse_study(tomllib.loads(text), source=name)
        assert expand_runs(study), name
        if study.phase == "brian2":
            assert len(re.findall(r'(?m)^target = "numpy"$', text)) == 1, name
            cuda = tomllib.loads(text.replace('target = "numpy"', 'target = "cuda_standalone"'))
            assert cuda["brian2"]["target"] == "cuda_standalone"
    assert parse_study(tomllib.loads(study_text("cython"))).brian2.target == "cython"


def test_quiet_brian2_drops_the_openmp_warning_only():
    """Brian2's console handler, after `quiet_brian2`, filters the OpenMP warning's record (as
    ``logger.warn(..., "openmp")`` in Brian2's cpp_standalone device names it) and lets its
    neighbours through."""
    import logging

    from brian2 import BrianLogger

    from dassdp.runs.brian2_phase import quiet_brian2

    quiet_brian2()

    def shown(name: str) -> bool:
        record = logging.LogRecord(name, logging.WARNING, __file__, 0, "message", None, None)
        return bool(BrianLogger.console_handler.filter(record))

    assert not shown("brian2.devices.cpp_standalone.device.openmp")
    assert shown("brian2.devices.cpp_standalone.device.other") and shown("brian2.codegen.openmp_other")
