"""What a study must be able to show in the Brian2 phase: the plastic variants learn a new task
while `none` stays at chance, every variant is held to the same weight bounds, and calibration
picks the best grid point on validation data without reading the test data."""

from __future__ import annotations

import json
import tomllib

import numpy as np
import pandas as pd
import pytest

from dassdp.cli import main
from dassdp.runs.study import parse_study

from .conftest import assert_best_within_rounding, pytorch_predictions

STUDY = """
name = "b_learning"
phase = "brian2"
variants = {variants}
seeds = {seeds}
sequence = {sequence}

[tasks]
kind = "classes"
scenario = "task"
[tasks.classes]
A = [0, 1, 2, 3, 4]
B = [5, 6, 7, 8, 9]

[network]
hidden = [32, 32]
n_steps = 8

[training]
lr = 3e-3

[brian2]
pretrain = ["A"]
pretrain_epochs = 3
train_samples = {train_samples}
eval_samples = 60
teacher = 1.0
{brian2}
[brian2.dassdp]
warmup = 20
"""


def write(path, variants, seeds=(0, 1), train_samples=80, brian2="", extra="", sequence=("A", "B")):
    text = STUDY.format(
        variants=list(variants), seeds=list(seeds), train_samples=train_samples, brian2=brian2, sequence=list(sequence)
    )
    path.write_text(text.replace("'", '"') + extra)
    return path


def test_teacher_driven_variants_learn_the_new_task_and_none_stays_at_chance(tmp_path):
    """After block B, STDP and SSDP score B (five classes, chance 0.2) well above chance; `none`,
    whose B label neurons start with zero weights, predicts the first B class for every sample."""
    study = write(
        tmp_path / "s.toml",
        ["none", "stdp", "ssdp"],
        brian2='inhibition = 0.25\nnormalization = "divisive"\nrate_scale = 10.0',
    )
    assert main(["run", str(study), "--out", str(tmp_path / "out"), "--quiet", "--workers", "2"]) == 0
    metrics = pd.read_parquet(tmp_path / "out" / "metrics.parquet")
    learned = metrics[metrics.metric == "learned_B"].pivot(index="seed", columns="variant", values="value")
    ev = pd.read_parquet(tmp_path / "out" / "evaluations.parquet")
    before = ev[(ev.block == -1) & (ev.eval_task == "B")].groupby("variant").accuracy.mean()
    assert before.max() < 0.35  # nobody knows B before training on it
    # none: a constant prediction (ties at zero input go to the first B class), about 1/5
    assert learned["none"].between(0.1, 0.3).all()
    for variant in ("stdp", "ssdp"):
        assert (learned[variant] >= 0.35).all() and learned[variant].mean() >= 0.4, learned
        assert (learned[variant] - learned["none"] >= 0.15).all(), learned
    # the learning curve: the label neurons' own prediction in training windows, without the teacher
    # and the lateral inhibition, is exactly the pretrained model's for `none`
    from dassdp.runs.study import expand_runs, load_study
    from dassdp.runs.tasks import task_mask

    study_spec, _ = load_study(study)
    training = pd.read_parquet(tmp_path / "out" / "training.parquet")
    spec = next(s for _, _, s in expand_runs(study_spec) if s.variant == "none" and s.seed == 0)
    logits, lay, tasks, n_classes = pytorch_predictions(study_spec, spec)
    train = np.flatnonzero(lay.learn)
    masks = np.stack([task_mask(study_spec, tasks[lay.task[w]], n_classes, "cpu").numpy() for w in train])
    own = training[training.run == spec.run_id].sort_values("trial").free_prediction.to_numpy()
    assert_best_within_rounding(own, np.where(masks, logits[train], -np.inf))


BOUND = 0.6  # above every initial weight


@pytest.fixture(scope="module")
def every_variant(tmp_path_factory):
    """Every variant at a learning rate far too large, with one weight bound (one seed)."""
    root = tmp_path_factory.mktemp("every_variant")
    study = write(
        root / "s.toml",
        ["none", "stdp", "dastdp", "ssdp", "dassdp"],
        seeds=[0],
        train_samples=40,
        brian2=f"w_bound = {BOUND}\nrate_scale = 1000.0",
    )
    assert main(["run", str(study), "--out", str(root / "out"), "--quiet", "--workers", "2"]) == 0
    return root / "out"


def test_every_variant_is_clipped_to_the_same_bounds(every_variant):
    """Every plastic variant's readout weights run into the study's one bound, and none passes it."""
    weights = pd.read_parquet(every_variant / "weights.parquet")
    readout = weights[(weights.layer == "readout") & weights.stat.isin(["min", "max"])]
    extremes = readout.groupby(["variant", "stat"]).value.agg(["min", "max"]).unstack("stat")
    for variant in ("stdp", "dastdp", "ssdp", "dassdp"):
        low, high = extremes.loc[variant, ("min", "min")], extremes.loc[variant, ("max", "max")]
        assert -BOUND <= low and high <= BOUND, (variant, low, high)
        assert max(-low, high) == pytest.approx(BOUND), (variant, low, high)  # the bound binds
    none = extremes.loc["none"]
    assert max(-none[("min", "min")], none[("max", "max")]) < BOUND


def test_in_network_gate_is_the_reference_fit_of_the_recorded_windows(every_variant):
    """DA-SSDP's gate, fitted inside the network after its warm-up, equals `fit_gate` of the
    training table's warm-up rows (S from the spike rasters, L from the label spike counts): the
    network's synchrony counts every spike, those of a window's first step included."""
    from dassdp.analysis.gate_diagnostics import gate_diagnostics

    diagnostics = gate_diagnostics(
        pd.read_parquet(every_variant / "training.parquet"), pd.read_parquet(every_variant / "gate.parquet")
    ).drop_duplicates("run")
    assert len(diagnostics) == 1 and diagnostics.n_warmup.iloc[0] == 20
    np.testing.assert_allclose(diagnostics.k, diagnostics.k_published, rtol=1e-9)


def test_calibration_picks_the_best_validation_score_and_never_reads_the_test_data(tmp_path, monkeypatch):
    """The chosen scale is, per variant, the grid value whose mean validation criterion over the
    calibration seeds is highest; calibration runs even when the test split cannot be read at all,
    and the study's runs then use the chosen scales."""
    import dassdp.runs.tasks as tasks
    from dassdp.runs.runner import calibrate, calibration_table, prepare_dir, run_calibration

    study_path = write(  # A -> B -> A, calibrated by ACC: its runs stop after the first pass
        tmp_path / "s.toml",
        ["none", "ssdp", "stdp"],
        sequence=("A", "B", "A"),
        seeds=[0],
        train_samples=40,
        brian2='inhibition = 0.25\nnormalization = "divisive"',
        extra="[calibration]\ngrid = [0.01, 10.0, 300.0]\nseeds = [7, 8]\nvalidation_fraction = 0.2\n",
    )
    text = study_path.read_text()
    study = parse_study(tomllib.loads(text))
    runs = prepare_dir(study, text, tmp_path / "out", resume=False)
    assert len(runs.calibration) == 3 * 2 * 2 and runs.runs == []

    class Unreadable:
        def __getattr__(self, name):
            raise AssertionError("calibration read the test split")

        def __getitem__(self, key):
            raise AssertionError("calibration read the test split")

    stored = tasks._stored_dataset

    def without_test(*args):
        data = stored(*args)
        return type(
            "Data",
            (),
            {
                "name": data.name,
                "x_train": data.x_train,
                "y_train": data.y_train,
                "x_test": Unreadable(),
                "y_test": Unreadable(),
                "n_classes": data.n_classes,
            },
        )()

    monkeypatch.setattr(tasks, "_stored_dataset", without_test)
    assert run_calibration(runs, workers=1) == []
    monkeypatch.setattr(tasks, "_stored_dataset", stored)

    chosen = dict(runs.scales)
    calibrate(runs)  # again, from the stored runs: the same choice
    assert runs.scales == chosen
    table = calibration_table(runs)
    means = table.groupby(["variant", "rate_scale"]).value.mean()
    for variant in ("ssdp", "stdp"):
        best = means.loc[variant].idxmax()
        assert runs.scales[variant] == best
        assert table[(table.variant == variant) & table.chosen].rate_scale.unique().tolist() == [best]
    assert means.groupby("variant").agg(np.ptp).min() > 0  # the grid points differ
    recorded = json.loads((runs.out / "calibration.json").read_text())
    assert recorded["at_edge"] == sorted(v for v, s in runs.scales.items() if s in (0.01, 300.0))
    scales = {spec.variant: spec.study["brian2"]["rate_scale"] for _, _, spec in runs.runs}
    assert scales == {"none": 1.0, "ssdp": runs.scales["ssdp"], "stdp": runs.scales["stdp"]}
    assert all(spec.study["dataset"]["validation_fraction"] == 0 for _, _, spec in runs.runs)
    assert all(spec.study["dataset"]["validation_fraction"] == 0.2 for _, _, spec in runs.calibration)
    assert {len(spec.study["sequence"]) for _, _, spec in runs.calibration} == {2}
    assert {len(spec.study["sequence"]) for _, _, spec in runs.runs} == {3}
