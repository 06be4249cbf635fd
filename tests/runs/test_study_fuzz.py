"""Property-based fuzz of study files through ``dassdp run``.

Valid studies (the tiny studies of the runner tests, a Brian2 variant of them with a sweep, and
the package's demo study with calibration) are mutated field by field: a value replaced by one
of another type, NaN or an infinity, a negative, zero or huge number, an int written as a float,
an empty list, an item listed twice, a required field deleted, an unknown field added, a
``[sweep]`` over some parameter (values listed twice, of the wrong type, a table, an unquoted
dotted key, an unsweepable or unknown key), and the file's bytes (a byte-order mark, a byte that
is not UTF-8, truncation). Every mutant must be either accepted, and then expand into distinct
runs that validate again and resume from the results directory, or rejected with exit status 2,
a one-line message naming a field and nothing written; never a traceback.

``test_fuzz_validation`` stops the CLI before runs execute (many examples, fast);
``test_fuzz_accepted_mutants_run`` runs a few valid mutants of the tiny study to exit status 0.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import io
import json
import math
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dassdp.cli.run as cli_run
from dassdp.cli import main
from dassdp.runs.study import MAX_SEED, Study, expand_runs, load_study

from .conftest import TINY

ROOT = Path(__file__).resolve().parents[2]

# ------------------------------------------------------------------------------------------
# TOML writing (tomllib reads only)
# ------------------------------------------------------------------------------------------


def _key(key: str) -> str:
    return _string(key)


def _string(text: str) -> str:
    # JSON escapes are TOML basic-string escapes, except that TOML also forbids a raw DEL
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(type(value))


def to_toml(data: dict, header: tuple[str, ...] = ()) -> str:
    """Plain keys first, then one ``[table]`` per nested dict (lists of tables inline)."""
    lines = [f"[{'.'.join(_key(k) for k in header)}]"] if header else []
    lines += [f"{_key(k)} = {_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    text = "\n".join(lines) + "\n"
    for k, v in data.items():
        if isinstance(v, dict):
            text += "\n" + to_toml(v, (*header, k))
    return text


# ------------------------------------------------------------------------------------------
# base studies
# ------------------------------------------------------------------------------------------


def _tiny(variants=("frozen", "dassdp"), seeds=(0, 1), hidden=(16, 16)) -> dict:
    text = TINY.format(variants=list(variants), seeds=list(seeds), epochs=1, hidden=list(hidden))
    return tomllib.loads(text.replace("'", '"'))


def _bases() -> dict[str, dict]:
    tiny = _tiny()
    swept = copy.deepcopy(tiny)
    swept["sweep"] = {"training.lr": [1e-3, 2e-3], "network.n_steps": [2, 4]}
    permuted = _tiny(variants=("none", "ssdp"), seeds=(3,), hidden=(8,))
    permuted["tasks"] = {"kind": "permuted", "n_tasks": 2, "seed": 5, "identity_first": False, "scenario": "class"}
    permuted["sequence"] = ["P0", "P1", {"task": "P0", "epochs": 2}]
    permuted["network"]["encoding"] = "rate"
    brian2 = _tiny(variants=("none", "stdp", "dastdp", "dassdp"))
    brian2["phase"] = "brian2"
    brian2["brian2"] = {
        "pretrain": ["A"],
        "pretrain_epochs": 1,
        "train_samples": 24,
        "eval_samples": 20,
        "teacher": 1.0,
        "inhibition": 0.25,
        "normalization": "divisive",
        "dastdp": {"tau_c_ms": 8.0, "b": 0.0},
        "dassdp": {"warmup": 10},
    }
    brian2["sweep"] = {"brian2.teacher": [0.5, 1.0]}
    demo = tomllib.loads((ROOT / "dassdp/runs/studies/digits_ab_brian2.toml").read_text())
    return {"tiny": tiny, "swept": swept, "permuted": permuted, "brian2": brian2, "demo": demo}


BASES = _bases()


def _leaves(node: Any, path: tuple = ()) -> list[tuple]:
    """Paths of every value in a study dict (tables and lists too, not the root)."""
    out = [path] if path else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _leaves(v, (*path, k))
    elif isinstance(node, list):
        for k, v in enumerate(node):
            out += _leaves(v, (*path, k))
    return out


def _parameters() -> list[str]:
    """Dotted names of every parameter of the bases (defaults included): what a sweep names."""
    names = set()
    for data in BASES.values():
        dumped = Study.model_validate(data).model_dump(mode="json")
        for key in ("sweep", "calibration"):
            dumped.pop(key, None)
        names |= {".".join(map(str, p)) for p in _leaves(dumped)}
    return sorted(names)


PARAMETERS = _parameters()
# unsweepable, unknown, odd and unquoted-looking keys
ODD_SWEEP_KEYS = ["seeds", "variants", "name", "training.lrx", "network.hidden.9", "", "training.", "network.hidden.x"]

# ------------------------------------------------------------------------------------------
# mutations
# ------------------------------------------------------------------------------------------

OTHER_VALUES = st.one_of(
    st.sampled_from(["4", "", "yes", "3e-3", "lif.0", "lif.7", "rate", "class", "brian2", "torch", "numpy"]),
    st.sampled_from(["cuda", "cuda:0", "cpu:0", "tpu", "npz", "permuted", "A", "B", "none", "dassdp", "ACC", "ü"]),
    st.sampled_from([0, 1, -1, 2, 7, 10, 999, 1000, 1001, 2**31, MAX_SEED, 2**32, 2**63 - 1, 2**64 - 1]),
    st.sampled_from([0.0, -0.0, 0.5, 1.0, 2.0, 32.0, -1e-3, 1e-3, 1e308, 5e-324]),
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.booleans(),
    st.just(datetime.date(1979, 5, 27)),
    st.sampled_from([[], [0], [1, 1], ["A"], ["A", "A"], [True], [32.0], [[1]], [1, "A"]]),
    st.sampled_from([{}, {"x": 1}, {"task": "A"}, {"task": "A", "epochs": 2}, {"A": [0]}]),
    st.integers(),
    st.floats(),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=4),
).map(copy.deepcopy)  # mutations change lists in place: never share the sampled objects


def _numeric_variants(value: Any) -> list[Any]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return []
    out = [-value, 0, value + 1, value * 10**6, value * 10**20, float(value), str(value), bool(value)]
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        out.append(int(value))
    return out


def _get(data: Any, path: tuple) -> Any:
    for key in path:
        data = data[key]
    return data


@st.composite
def field_mutation(draw, data: dict) -> str:
    """Mutate one field of ``data`` in place; returns a description."""
    path = draw(st.sampled_from(_leaves(data)))
    parent, key = _get(data, path[:-1]), path[-1]
    value = parent[key]
    kinds = ["replace", "delete", "unknown"]
    if _numeric_variants(value):
        kinds.append("numeric")
    if isinstance(value, list):
        kinds.append("list")
    kind = draw(st.sampled_from(kinds))
    if kind == "replace":
        parent[key] = draw(OTHER_VALUES)
    elif kind == "numeric":
        parent[key] = draw(st.sampled_from(_numeric_variants(value)))
    elif kind == "list":
        op = draw(st.sampled_from(["empty", "duplicate", "append", "drop"]))
        if op == "empty" or not value:
            parent[key] = []
        elif op == "duplicate":
            value.append(copy.deepcopy(draw(st.sampled_from(value))))
        elif op == "append":
            value.append(draw(OTHER_VALUES))
        else:
            value.pop(draw(st.integers(0, len(value) - 1)))
    elif kind == "delete":
        del parent[key]
    else:  # an unknown field, or a known one in the wrong table (a key after a [table] header)
        table = draw(st.sampled_from([p for p in [(), *_leaves(data)] if isinstance(_get(data, p), dict)]))
        name = draw(st.sampled_from(["bogus", "seeds", "lr", "epochs", "device", "Name", "hidden"]))
        _get(data, table)[name] = draw(OTHER_VALUES)
    return f"{kind} {'.'.join(map(str, path))}"


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value if v is not None]
    return value


@st.composite
def sweep_mutation(draw, data: dict) -> str:
    """Add or replace a ``[sweep]`` entry (calibrated studies may not sweep: also a mutant)."""
    current = Study.model_validate(BASES["tiny"]).model_dump(mode="json")
    name = draw(st.one_of(st.sampled_from(PARAMETERS), st.sampled_from(ODD_SWEEP_KEYS)))
    try:
        value = _get(current, tuple(int(k) if k.isdigit() else k for k in name.split(".")))
    except (KeyError, IndexError, TypeError, ValueError):
        value = 1
    if value is None:  # an unset optional parameter (TOML has no null)
        value = "lif.0" if name == "plasticity.layer" else 1.0
    value = _without_none(value)
    candidates = st.one_of(st.just(value), st.sampled_from(_numeric_variants(value) or [value]), OTHER_VALUES)
    values = draw(st.lists(candidates.map(copy.deepcopy), min_size=0, max_size=3))
    shape = draw(st.sampled_from(["list", "list", "list", "scalar", "unquoted"]))
    if not isinstance(data.get("sweep"), dict):
        data["sweep"] = {}
    sweep = data["sweep"]
    if shape == "scalar":
        sweep[name] = values[0] if values else value
    elif shape == "unquoted" and "." in name:  # `training.lr = [...]` under [sweep]: a nested table
        *tables, last = name.split(".")
        node = sweep
        for part in tables:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[last] = values
    else:
        sweep[name] = values
    return f"sweep {name!r} = {values!r} ({shape})"


@st.composite
def mutant(draw) -> tuple[bytes, list[str]]:
    """A base study with one to three mutations, as the bytes of a TOML file."""
    base = draw(st.sampled_from(sorted(BASES)))
    data = copy.deepcopy(BASES[base])
    done = [base]
    for _ in range(draw(st.integers(1, 3))):
        if not _leaves(data):
            break
        kind = draw(st.sampled_from(["field", "field", "field", "sweep"]))
        done.append(draw(field_mutation(data) if kind == "field" else sweep_mutation(data)))
    raw = to_toml(data).encode()
    text_op = draw(st.sampled_from(["none"] * 8 + ["bom", "latin1", "truncate", "byte"]))
    if text_op == "bom":
        raw = b"\xef\xbb\xbf" + raw
    elif text_op == "latin1":
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + b"\xe9" + raw[at:]
    elif text_op == "truncate":
        raw = raw[: draw(st.integers(0, len(raw)))]
    elif text_op == "byte":
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + bytes([draw(st.integers(0, 255))]) + raw[at:]
    done.append(text_op)
    return raw, done


# ------------------------------------------------------------------------------------------
# the checks
# ------------------------------------------------------------------------------------------


def run_cli(tmp: Path, raw: bytes, execute: bool) -> tuple[int, str, Path, Any]:
    """`dassdp run` on a study file with these bytes in ``tmp``; with ``execute=False`` the CLI
    stops after writing the results directory (the runs are returned instead of run)."""
    path, out = tmp / "study.toml", tmp / "out"
    path.write_bytes(raw)
    captured: dict[str, Any] = {}

    def prepared(runs, args, command):
        captured["runs"] = runs
        return 0

    err = io.StringIO()
    with contextlib.ExitStack() as stack:
        stack.enter_context(contextlib.redirect_stderr(err))
        stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
        if not execute:
            patch = stack.enter_context(pytest.MonkeyPatch.context())
            patch.setattr(cli_run, "execute_study", prepared)
        rc = main(["run", str(path), "--out", str(out), "--quiet"])
    return rc, err.getvalue(), out, captured.get("runs")


def check_rejected(rc: int, err: str, out: Path) -> None:
    assert "Traceback" not in err, err
    assert rc == 2, (rc, err)
    assert err.startswith("dassdp run: invalid input.") and "field `" in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert not out.exists(), err


def _same_value(given: Any, kept: Any, where: str) -> None:
    """A value is kept as written (no conversion), except an int where a float is expected."""
    if isinstance(given, float) or (isinstance(kept, float) and not isinstance(given, bool)):
        assert isinstance(kept, float) and math.isfinite(kept) and kept == given, (where, given, kept)
    else:
        assert type(kept) is type(given) and kept == given, (where, given, kept)


def check_kept_as_written(data: dict, study: Study, runs) -> None:
    """Every value of an accepted file, and every swept value, is in the study unconverted."""
    dumped = study.model_dump(mode="python")
    for path in _leaves(data):
        given = _get(data, path)
        if path[0] in ("sweep", "sequence") or isinstance(given, (dict, list)):
            continue
        _same_value(given, _get(dumped, path), ".".join(map(str, path)))
    for k, block in enumerate(data.get("sequence", [])):
        task = block if isinstance(block, str) else block["task"]
        assert study.blocks[k].task == task
        if isinstance(block, dict) and "epochs" in block:
            _same_value(block["epochs"], study.blocks[k].epochs, f"sequence.{k}.epochs")
    for _, point, spec in runs.runs:
        for name, value in point.items():
            keys = tuple(int(k) if k.isdigit() else k for k in name.split("."))
            _same_value(value, _get(spec.study, keys), f"sweep.{name}")


def check_accepted(out: Path, runs) -> None:
    """Accepted: values are kept as written, the runs are distinct, each validates again, and
    resuming sees the same runs."""
    from dassdp.runs.runner import load_dir

    study, text = load_study(out.parent / "study.toml")
    check_kept_as_written(tomllib.loads(text), study, runs)
    specs = [spec for _, _, spec in runs.calibration or runs.runs]
    assert specs
    if not runs.calibration:
        assert [s.run_id for _, _, s in expand_runs(study)] == [s.run_id for s in specs]
    ids = [spec.run_id for spec in specs]
    assert len(set(ids)) == len(ids)
    for spec in specs:
        spec.resolved()
    again, _ = load_dir(out)
    assert [s.run_id for _, _, s in again.calibration or again.runs] == ids


def test_writer_round_trips_the_bases():
    for name, data in BASES.items():
        assert tomllib.loads(to_toml(data)) == data, name
    assert len(PARAMETERS) > 50


@settings(
    max_examples=1000,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutant())
def test_fuzz_validation(case):
    raw, done = case
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        rc, err, out, runs = run_cli(Path(tmp), raw, execute=False)
        if rc == 0:
            check_accepted(out, runs)
        else:
            check_rejected(rc, err, out)


# ------------------------------------------------------------------------------------------
# accepted mutants run
# ------------------------------------------------------------------------------------------

#: valid values of the tiny run study's fields (small, so that a run takes about a second)
VALID = {
    ("training", "lr"): st.one_of(st.floats(1e-4, 1e-2), st.just(1)),
    ("training", "batch_size"): st.integers(16, 64),
    ("training", "eval_batch_size"): st.integers(1, 1000),
    ("network", "n_steps"): st.integers(1, 4),
    ("network", "hidden"): st.lists(st.integers(1, 8), min_size=2, max_size=3),
    ("network", "encoding"): st.sampled_from(["direct", "rate", "latency"]),
    ("network", "beta"): st.floats(0.0, 1.0),
    ("network", "threshold"): st.floats(0.1, 2.0),
    ("tasks", "scenario"): st.sampled_from(["task", "class"]),
    ("tasks", "seed"): st.sampled_from([0, 1, MAX_SEED]),
    ("dataset", "seed"): st.sampled_from([0, 1, MAX_SEED]),
    ("plasticity", "a_plus"): st.floats(0.0, 1e-2),
    ("plasticity", "gate"): st.sampled_from(["continuous", "sign"]),
    ("plasticity", "latency"): st.sampled_from(["first", "last"]),
    ("seeds",): st.sampled_from([[0], [MAX_SEED], [7]]),
    ("sequence", 1, "epochs"): st.integers(1, 2),
    ("sweep",): st.just({"training.lr": [1e-3, 3e-3]}),
}


@st.composite
def valid_mutant(draw) -> tuple[bytes, list]:
    data = _tiny(variants=("none", "dassdp"), seeds=(0,), hidden=(8, 8))
    fields = draw(st.lists(st.sampled_from(sorted(VALID, key=str)), min_size=2, max_size=4, unique=True))
    for path in fields:
        node = data
        for key in path[:-1]:
            node = node.setdefault(key, {}) if isinstance(key, str) else node[key]
        node[path[-1]] = draw(VALID[path])
    return to_toml(data).encode(), fields


@settings(max_examples=8, deadline=None, derandomize=True, database=None)
@given(valid_mutant())
def test_fuzz_accepted_mutants_run(case):
    raw, fields = case
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        rc, err, out, _ = run_cli(Path(tmp), raw, execute=True)
        assert "Traceback" not in err, err
        assert rc == 0, (rc, err, fields)
        assert (out / "summary.parquet").is_file()
