"""Study files are validated strictly: no type conversion, finite numbers, ranges (seeds within
numpy's range, bounded epochs and sizes), distinct sweep points, UTF-8 text, and hints for common
TOML mistakes. Each is exit status 2 with the field named and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from dassdp.cli import main
from dassdp.runs.study import MAX_EPOCHS, MAX_SEED, StudyError, expand_runs, load_study, parse_study

ROOT = Path(__file__).resolve().parents[2]


def _run_invalid(path: Path, tmp_path: Path, capsys) -> str:
    """`dassdp run` on an invalid study: exit 2, one line on stderr, nothing written."""
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert not out.exists()
    return err


def _changed(tiny_study, old: str, new: str) -> Path:
    path = tiny_study()
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return path


SWEEP = ("warmup_epochs = 1", "warmup_epochs = 1\n[sweep]\n")

INVALID = [
    # wrong types are rejected, not converted
    (("n_steps = 4", 'n_steps = "4"'), "network.n_steps", "valid integer"),
    (("lr = 5e-3", 'lr = "3e-3"'), "training.lr", "valid number"),
    (("seeds = [0, 1]", "seeds = [true]"), "seeds.0", "valid integer"),
    (("seeds = [0, 1]", "seeds = [0, 1.0]"), "seeds.1", "valid integer"),
    (("[tasks]", '[tasks]\nidentity_first = "yes"'), "tasks.identity_first", "valid boolean"),
    (("hidden = [16, 16]", "hidden = [32.0]"), "network.hidden.0", "valid integer"),
    (("epochs = 1", "epochs = true"), "sequence.0.epochs", "valid integer"),
    (("lr = 5e-3", "lr = true"), "training.lr", "valid number"),
    (("name = ", "name = 3 #"), "name", "valid string"),
    (("lr = 5e-3", "lr = 1979-05-27"), "training.lr", "valid number"),
    (("B = [2, 3]", "B = [2, 3.0]"), "tasks.classes.B.1", "valid integer"),
    # finite numbers
    (("lr = 5e-3", "lr = inf"), "training.lr", "finite"),
    (("lr = 5e-3", "lr = nan"), "training.lr", "finite"),
    (("n_steps = 4", "n_steps = 4\nthreshold = inf"), "network.threshold", "finite"),
    (("n_steps = 4", "n_steps = 4\nbeta = nan"), "network.beta", "finite"),
    (("warmup_epochs = 1", "warmup_epochs = 1\na_plus = nan"), "plasticity.a_plus", "finite"),
    (("warmup_epochs = 1", "warmup_epochs = 1\nsigma = inf"), "plasticity.sigma", "finite"),
    (("[tasks]", "[brian2]\nteacher = inf\n[tasks]"), "brian2.teacher", "finite"),
    (("[tasks]", "[brian2]\ndt_ms = nan\n[tasks]"), "brian2.dt_ms", "finite"),
    (("[tasks]", "[brian2]\nw_bound = inf\n[tasks]"), "brian2.w_bound", "finite"),
    (("[tasks]", "[brian2.dastdp]\nb = -inf\n[tasks]"), "brian2.dastdp.b", "finite"),
    (("[tasks]", "[brian2.stdp]\na_minus = -inf\n[tasks]"), "brian2.stdp.a_minus", "finite"),
    # ranges
    (("lr = 5e-3", "lr = 0.0"), "training.lr", "greater than 0"),
    (("lr = 5e-3", "lr = -1e-3"), "training.lr", "greater than 0"),
    (("lr = 5e-3", "lr = 1e300"), "training.lr", "less than or equal to 1"),  # float32 overflow in Adam
    (("warmup_epochs = 1", "warmup_epochs = 1\nsigma = 1e300"), "plasticity.sigma", "less than or equal"),
    (("seeds = [0, 1]", "seeds = [-1]"), "seeds.0", "greater than or equal to 0"),
    (("seeds = [0, 1]", f"seeds = [{2**64 - 1}]"), "seeds.0", f"less than or equal to {MAX_SEED}"),
    (("seeds = [0, 1]", f"seeds = [{2**32}]"), "seeds.0", f"less than or equal to {MAX_SEED}"),
    (("[tasks]", "[dataset]\nseed = -1\n[tasks]"), "dataset.seed", "greater than or equal to 0"),
    (("[tasks]", f"[dataset]\nseed = {2**32}\n[tasks]"), "dataset.seed", "less than or equal"),
    (("[tasks]", "[tasks]\nseed = -1"), "tasks.seed", "greater than or equal to 0"),
    (("epochs = 1", "epochs = 9223372036854775807"), "sequence.0.epochs", f"less than or equal to {MAX_EPOCHS}"),
    (("epochs = 1", "epochs = 0"), "sequence.0.epochs", "greater than 0"),
    (("hidden = [16, 16]", "hidden = [16, 0]"), "network.hidden.1", "greater than 0"),
    (("hidden = [16, 16]", "hidden = [16, 1000000]"), "network.hidden.1", "less than or equal"),
    (("hidden = [16, 16]", f"hidden = {[4] * 40}"), "network.hidden", "at most 32"),
    (("n_steps = 4", "n_steps = 1000000"), "network.n_steps", "less than or equal"),
    (("batch_size = 32", "batch_size = -32"), "training.batch_size", "greater than 0"),
    (("batch_size = 32", f"batch_size = {2**62}"), "training.batch_size", "less than or equal"),
    (("[tasks]", "[brian2]\ntrain_samples = 0\n[tasks]"), "brian2.train_samples", "greater than 0"),
    (("[tasks]", f"[brian2]\neval_samples = {2**40}\n[tasks]"), "brian2.eval_samples", "less than or equal"),
    (("[tasks]", "[brian2]\npretrain_epochs = 100000\n[tasks]"), "brian2.pretrain_epochs", "less than or equal"),
    (("n_steps = 4", "n_steps = 4\nbeta = 1.5"), "network.beta", "less than or equal to 1"),
    (("[tasks]", "[brian2.dastdp]\nrpe_rate = 0\n[tasks]"), "brian2.dastdp.rpe_rate", "greater than 0"),
    # found by running extreme values: a time constant that underflows in seconds, a threshold that overflows
    (("[tasks]", "[brian2.stdp]\ntau_plus_ms = 5e-324\n[tasks]"), "brian2.stdp.tau_plus_ms", "greater than or equal"),
    (("[tasks]", "[brian2.dastdp]\ntau_c_ms = 1e-9\n[tasks]"), "brian2.dastdp.tau_c_ms", "greater than or equal"),
    (("[tasks]", "[brian2]\nreadout_spikes = 5e-324\n[tasks]"), "brian2.readout_spikes", "greater than or equal"),
    (("[tasks]", "[brian2]\nreadout_spikes = 1e300\n[tasks]"), "brian2.readout_spikes", "less than or equal"),
    # entries listed twice: the list is printed once
    (("seeds = [0, 1]", "seeds = [0, 0]"), "seeds", "0 is listed twice (got [0, 0])"),
    # sweep values are validated the same strict way, the error names the sweep key
    ((SWEEP[0], SWEEP[1] + '"training.lr" = ["3e-3"]'), "sweep.training.lr", "valid number"),
    ((SWEEP[0], SWEEP[1] + '"training.lr" = [nan]'), "sweep.training.lr", "finite"),
    ((SWEEP[0], SWEEP[1] + '"training.lr" = [1e-3, inf]'), "sweep.training.lr", "finite"),
    ((SWEEP[0], SWEEP[1] + '"network.n_steps" = [4.0]'), "sweep.network.n_steps", "valid integer"),
    ((SWEEP[0], SWEEP[1] + '"network.hidden.0" = [32.0]'), "sweep.network.hidden.0", "valid integer"),
    # sweep values are plain: a list or table would not fit the results' one column per key
    ((SWEEP[0], SWEEP[1] + '"network.hidden" = [[8], [16]]'), "sweep.network.hidden", "plain values"),
    ((SWEEP[0], SWEEP[1] + '"training" = [{ lr = 1e-3 }, { lr = 2e-3 }]'), "sweep.training", "plain values"),
    ((SWEEP[0], SWEEP[1] + '"tasks.identity_first" = ["yes"]'), "sweep.tasks.identity_first", "valid boolean"),
    ((SWEEP[0], SWEEP[1] + '"dataset.seed" = [-1]'), "sweep.dataset.seed", "greater than or equal to 0"),
    ((SWEEP[0], SWEEP[1] + '"sequence.0.epochs" = [1, 10000]'), "sweep.sequence.0.epochs", "less than or equal"),
    # grid points must give different runs
    ((SWEEP[0], SWEEP[1] + '"training.lr" = [1e-3, 1e-3]'), "sweep.training.lr", "0.001 is listed twice"),
    ((SWEEP[0], SWEEP[1] + '"training.lr" = [1, 1.0]'), "sweep.training.lr", "listed twice"),
    ((SWEEP[0], SWEEP[1] + '"description" = ["a", "b"]'), "sweep.description", "give the same runs"),
    (
        (SWEEP[0], SWEEP[1] + '"training.lr" = [1e-3, 2e-3]\n"network.n_steps" = [4, 4]'),
        "sweep.network.n_steps",
        "4 is listed twice",
    ),
]


@pytest.mark.parametrize(("change", "field", "says"), INVALID, ids=[f"{f}:{s}" for _, f, s in INVALID])
def test_invalid_value_exits_2_names_field(tiny_study, tmp_path, capsys, change, field, says):
    err = _run_invalid(_changed(tiny_study, *change), tmp_path, capsys)
    assert f"`{field}`" in err, err
    assert says in err, err
    assert "(got [0, 0]) (got" not in err


def test_study_error_names_field_for_wrong_types(tiny_study):
    with pytest.raises(StudyError) as info:
        load_study(_changed(tiny_study, "n_steps = 4", 'n_steps = "4"'))
    assert info.value.field == "network.n_steps"
    with pytest.raises(StudyError) as info:
        load_study(_changed(tiny_study, SWEEP[0], SWEEP[1] + '"training.lr" = [1e-3, 1e-3]'))
    assert info.value.field == "sweep.training.lr"


def test_an_integer_is_a_valid_real_number(tiny_study):
    """TOML integers are accepted where real numbers are expected (``lr = 1``), in a sweep too,
    and become floats (the run ids do not depend on how a number was written)."""
    study, _ = load_study(_changed(tiny_study, "lr = 5e-3", "lr = 1"))
    assert study.training.lr == 1.0 and isinstance(study.training.lr, float)
    written_as_float, _ = load_study(_changed(tiny_study, "lr = 5e-3", "lr = 1.0"))
    assert [s.run_id for _, _, s in expand_runs(study)] == [s.run_id for _, _, s in expand_runs(written_as_float)]
    swept, _ = load_study(_changed(tiny_study, SWEEP[0], SWEEP[1] + '"network.beta" = [0, 1]'))
    assert [spec.study["network"]["beta"] for _, _, spec in expand_runs(swept)][:: 2 * 2] == [0.0, 1.0]


def test_seed_range_limits_are_accepted(tiny_study):
    study, _ = load_study(_changed(tiny_study, "seeds = [0, 1]", f"seeds = [0, {MAX_SEED}]"))
    assert study.seeds == [0, MAX_SEED]


def test_expanded_runs_are_distinct(tiny_study):
    study, _ = load_study(
        _changed(tiny_study, SWEEP[0], SWEEP[1] + '"training.lr" = [1e-3, 2e-3]\n"network.n_steps" = [2, 4]')
    )
    ids = [spec.run_id for _, _, spec in expand_runs(study)]
    assert len(ids) == len(set(ids)) == 2 * 2 * 2 * 2


def test_non_utf8_file_exits_2_naming_the_file(tiny_study, tmp_path, capsys):
    path = tiny_study()
    path.write_bytes(path.read_bytes().replace(b'"tiny"', b'"t\xe9st"'))  # Latin-1
    err = _run_invalid(path, tmp_path, capsys)
    assert "`(file)`" in err and str(path) in err and "UTF-8" in err


def test_byte_order_mark_is_ignored(tiny_study):
    path = tiny_study()
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    study, text = load_study(path)
    assert study.name == "tiny" and not text.startswith("\ufeff")


def test_unquoted_dotted_sweep_key_gets_a_hint(tiny_study, tmp_path, capsys):
    err = _run_invalid(_changed(tiny_study, SWEEP[0], SWEEP[1] + "training.lr = [1e-3, 2e-3]"), tmp_path, capsys)
    assert "`sweep.training.lr`" in err and '"training.lr" = [...]' in err and "quote" in err
    # two unquoted keys under one table
    err = _run_invalid(
        _changed(tiny_study, SWEEP[0], SWEEP[1] + "training.lr = [1e-3]\ntraining.batch_size = [8]"), tmp_path, capsys
    )
    assert "`sweep.training`" in err and "quote" in err


def test_top_level_key_after_a_table_gets_a_hint(tiny_study, tmp_path, capsys):
    err = _run_invalid(_changed(tiny_study, "warmup_epochs = 1", 'warmup_epochs = 1\ndevice = "cpu"'), tmp_path, capsys)
    assert "`plasticity.device`" in err and "top-level" in err


def test_sequence_table_instead_of_array_gets_a_hint(tiny_study, tmp_path, capsys):
    path = tiny_study()
    text = path.read_text()
    start, end = text.index("[[sequence]]"), text.index("[network]")
    path.write_text(text[:start] + '[sequence]\ntask = "A"\n' + text[end:])
    err = _run_invalid(path, tmp_path, capsys)
    assert "`sequence`" in err and "[[sequence]]" in err


def test_union_member_is_not_counted_as_another_error(tiny_study, tmp_path, capsys):
    err = _run_invalid(_changed(tiny_study, "epochs = 1", "epochs = 0"), tmp_path, capsys)
    assert "more error" not in err


def test_npz_path_that_is_not_a_file_name(tmp_path):
    base = {"tasks": {"classes": {"A": [0]}}, "sequence": ["A"], "dataset": {"name": "npz"}}
    for bad in ("x" * 5000, "a\0b"):
        with pytest.raises(StudyError) as info:
            parse_study({**base, "dataset": {"name": "npz", "path": bad}})
        assert info.value.field == "dataset"


def test_npz_path_to_a_text_file_says_so(tmp_path):
    """numpy calls any file that is not a zip archive "pickled data"; the message says what it is."""
    text = tmp_path / "data.npz"
    text.write_text("x_train,y_train\n1,0\n")
    base = {"tasks": {"classes": {"A": [0]}}, "sequence": ["A"]}
    with pytest.raises(StudyError) as info:
        parse_study({**base, "dataset": {"name": "npz", "path": str(text)}})
    assert info.value.field == "dataset.path"
    assert "is not an .npz archive" in str(info.value) and "pickled" not in str(info.value)


def test_shipped_studies_still_load():
    paths = sorted((ROOT / "studies").glob("*.toml")) + sorted((ROOT / "dassdp/runs/studies").glob("*.toml"))
    assert len(paths) >= 7
    for path in paths:
        study, _ = load_study(path)
        runs = expand_runs(study) if study.calibration is None else [1]
        assert runs, path


def test_largest_seeds_run(tmp_path):
    """Seeds at the top of the range reach every generator the PyTorch phase seeds (weights,
    batch order, spikes, evaluation draws, the data split, the task permutations) and run."""
    path = tmp_path / "seeds.toml"
    path.write_text(
        f"""
variants = ["dassdp"]
seeds = [{MAX_SEED}]
sequence = ["P0", "P1"]
[dataset]
seed = {MAX_SEED}
[tasks]
kind = "permuted"
n_tasks = 2
seed = {MAX_SEED}
[network]
hidden = [8, 8]
n_steps = 2
encoding = "rate"
[training]
batch_size = 128
"""
    )
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 0


def test_numpy_scalars_in_a_dict_built_in_python_are_numbers():
    """`parse_study` also takes dicts built in Python: numpy scalars are their Python values."""
    import numpy as np

    base = {"tasks": {"classes": {"A": [0, 1]}}, "sequence": ["A"]}
    study = parse_study({**base, "seeds": [np.int64(1), 2], "network": {"n_steps": np.int32(4)}})
    assert study.seeds == [1, 2] and type(study.seeds[0]) is int and study.network.n_steps == 4
    assert parse_study({**base, "training": {"lr": np.float32(0.5)}}).training.lr == 0.5


def test_a_sweep_over_an_execution_setting_is_refused():
    """brian2.threads does not change a run's numbers, so its values would give runs of one id."""
    base = {"tasks": {"classes": {"A": [0, 1]}}, "sequence": ["A"], "phase": "brian2"}
    with pytest.raises(StudyError) as info:
        parse_study({**base, "sweep": {"brian2.threads": [1, 2]}})
    assert info.value.field == "sweep.brian2.threads" and "give the same runs" in str(info.value)
