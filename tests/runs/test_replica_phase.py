"""The Brian2 phase with replicas: R runs in one simulation give every table each run gives alone.

Oracle: the same runs executed one by one (`execute_brian2`, no replicas), whose tables earlier
tests check against PyTorch and NumPy. The batch holds four seeds and two learning-rate scales,
so replicas differ in pretrained network, samples, teacher, label threshold, weight bounds,
normalisation set points, rule amplitudes, labels, loss and dopamine.
"""

from __future__ import annotations

import copy
import tomllib

import pandas as pd
import pytest

from dassdp.runs.study import RunSpec, expand_runs, parse_study

from .test_brian2_phase import STUDY

CIRCUIT = 'normalization = "divisive"\ninhibition = 0.25\nteacher = 1.0'
SCALES = (1.0, 30.0, 1.0, 30.0)  # one per replica: calibration points share a batch


def _specs(variant: str, target: str = "numpy", **brian2):
    data = tomllib.loads(STUDY.format(variants=[variant], brian2=CIRCUIT).replace("'", '"'))
    data["seeds"] = [0, 1, 2, 3]
    data["brian2"]["target"] = target
    for key, value in brian2.items():  # a dict updates a table (e.g. dassdp)
        data["brian2"][key] = {**data["brian2"][key], **value} if isinstance(value, dict) else value
    return [_changed(spec, rate_scale=scale) for (_, _, spec), scale in zip(expand_runs(parse_study(data)), SCALES)]


def _changed(spec: RunSpec, **brian2) -> RunSpec:
    """``spec`` with ``brian2`` fields changed (a copy: the runs of a study share their body)."""
    study = copy.deepcopy(spec.study)
    study["brian2"].update(brian2)
    return RunSpec(study=study, variant=spec.variant, seed=spec.seed)


def _assert_same_tables(alone: list[dict], together: list[dict], specs) -> None:
    for a, b, spec in zip(alone, together, specs, strict=True):
        assert set(a) == set(b)
        for name in a:
            pd.testing.assert_frame_equal(b[name], a[name], check_exact=True, obj=f"{spec.run_id} {name}")


@pytest.mark.parametrize("variant", ["none", "stdp", "dastdp", "ssdp", "dassdp"])
def test_replicas_give_each_runs_tables_on_numpy(variant):
    from dassdp.runs.brian2_phase import execute_brian2, execute_brian2_batch

    specs = _specs(variant)
    alone = [execute_brian2(spec) for spec in specs]
    together = execute_brian2_batch(specs)
    _assert_same_tables(alone, together, specs)
    if variant != "none":  # the rule learnt, differently in every replica
        changes = [
            t["weights"].query("layer == 'readout' and stat == 'change_from_initial'").value.sum() for t in together
        ]
        assert min(changes) > 0 and len(set(changes)) == len(changes)


@pytest.mark.parametrize(
    ("variant", "brian2"),
    [
        ("dastdp", {"signal": "reward", "w_bound": 5.0}),  # dopamine only; one bound for all
        ("dassdp", {"head": "full", "normalization": "subtractive", "dassdp": {"loss": "spike_count"}}),
    ],
)
def test_replicas_give_each_runs_tables_in_other_circuits(variant, brian2):
    from dassdp.runs.brian2_phase import execute_brian2, execute_brian2_batch

    specs = _specs(variant, **brian2)
    _assert_same_tables([execute_brian2(spec) for spec in specs], execute_brian2_batch(specs), specs)


def test_a_batch_refuses_runs_that_differ_in_more_than_seed_and_rate():
    from dassdp.runs.brian2_phase import execute_brian2_batch

    specs = _specs("stdp")
    specs[1] = _changed(specs[1], teacher=0.5)
    with pytest.raises(ValueError, match="except for the seed and brian2.rate_scale"):
        execute_brian2_batch(specs)
    with pytest.raises(ValueError, match="except for the seed"):
        execute_brian2_batch([*_specs("stdp")[:1], *_specs("ssdp")[:1]])


@pytest.mark.standalone
@pytest.mark.slow  # two C++ builds
def test_replicas_give_each_runs_tables_on_cpp_standalone(tmp_path):
    from dassdp.runs.brian2_phase import execute_brian2, execute_brian2_batch

    for variant in ("dassdp", "dastdp"):
        specs = _specs(variant, "cpp_standalone")
        alone = [execute_brian2(spec, build_root=tmp_path) for spec in specs]
        together = execute_brian2_batch(specs, build_root=tmp_path)
        _assert_same_tables(alone, together, specs)
