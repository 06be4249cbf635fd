"""Study files: validation (exit status 2, the field named, nothing written) and sweep expansion."""

from __future__ import annotations

import pytest

from dassdp.cli import main
from dassdp.runs.study import StudyError, expand_runs, load_study

INVALID = [
    # (what is changed in the tiny study, field the message must name)
    (("variants = [", "bogus = 1\nvariants = ["), "bogus"),
    (("hidden = [16, 16]", 'hidden = [16, "x"]'), "network.hidden.1"),
    (("n_steps = 4", 'n_steps = "four"'), "network.n_steps"),
    (("B = [2, 3]", "B = [2, 13]"), "tasks.classes.B"),
    (('task = "B"', 'task = "C"'), "sequence.1.task"),
    (("variants = [", 'device = "cuda:7"\nvariants = ['), "device"),
    (("variants = [", 'device = "tpu"\nvariants = ['), "device"),
    (("warmup_epochs = 1", 'warmup_epochs = 1\nlayer = "lif.5"'), "plasticity.layer"),
    (("variants = [", 'variants = ["stdp", '), "variants.0"),
]


@pytest.mark.parametrize(("change", "field"), INVALID, ids=[f for _, f in INVALID])
def test_invalid_study_exits_2_names_field_writes_nothing(tiny_study, tmp_path, capsys, change, field):
    path = tiny_study()
    text = path.read_text()
    assert change[0] in text
    path.write_text(text.replace(change[0], change[1], 1))
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 2
    message = capsys.readouterr().err
    assert f"`{field}`" in message
    assert len(message.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize(
    ("sweep", "field"),
    [
        ('"training.lrx" = [1e-3]', "sweep.training.lrx"),
        ('"training.lr" = [-1.0]', "sweep.training.lr"),
        ('"seeds" = [[1]]', "sweep.seeds"),
        ('"network.hidden.0" = ["x"]', "sweep.network.hidden.0"),
    ],
)
def test_invalid_sweep_names_the_dotted_parameter(tiny_study, tmp_path, capsys, sweep, field):
    path = tiny_study(extra=f"\n[sweep]\n{sweep}\n")
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert f"`{field}`" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_bad_toml_and_missing_file_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    assert main(["run", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert main(["run", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "o")]) == 2
    assert "(file)" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_sweep_expands_grid_with_stable_distinct_run_ids(tiny_study):
    extra = '\n[sweep]\n"training.lr" = [1e-3, 2e-3, 4e-3]\n"network.hidden.0" = [8, 16]\n'
    study, _ = load_study(tiny_study(extra=extra))
    runs = expand_runs(study)
    assert len(runs) == 3 * 2 * len(study.variants) * len(study.seeds)
    ids = [spec.run_id for _, _, spec in runs]
    assert len(set(ids)) == len(ids)
    lrs = {(point, spec.study["training"]["lr"], spec.study["network"]["hidden"][0]) for point, _, spec in runs}
    assert len(lrs) == 6
    # the same file gives the same ids; a name or description change does not change them
    again, _ = load_study(tiny_study("again.toml", extra=extra))
    assert [spec.run_id for _, _, spec in expand_runs(again)] == ids
    renamed = study.model_copy(update={"name": "other", "description": "changed"})
    assert [spec.run_id for _, _, spec in expand_runs(renamed)] == ids


def test_run_id_depends_on_every_parameter_that_matters(tiny_study):
    base = {spec.run_id for _, _, spec in expand_runs(load_study(tiny_study())[0])}
    changed = tiny_study("lr.toml")
    changed.write_text(changed.read_text().replace("lr = 5e-3", "lr = 4e-3"))
    other = {spec.run_id for _, _, spec in expand_runs(load_study(changed)[0])}
    assert base.isdisjoint(other)


def test_sequence_accepts_plain_task_names(tiny_study):
    path = tiny_study()
    text = path.read_text()
    start = text.index("[[sequence]]")
    end = text.index("[network]")
    path.write_text('sequence = ["A", "B", "A"]\n' + text[:start] + text[end:])
    study, _ = load_study(path)
    assert [(b.task, b.epochs) for b in study.blocks] == [("A", 1), ("B", 1), ("A", 1)]


def test_study_error_carries_field(tiny_study):
    path = tiny_study()
    path.write_text(path.read_text().replace("B = [2, 3]", "B = []"))
    with pytest.raises(StudyError) as info:
        load_study(path)
    assert info.value.field == "tasks.classes.B"
