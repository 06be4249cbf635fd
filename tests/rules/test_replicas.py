"""Replicas: R copies of a network in one Brian2 simulation equal R separate runs.

For each rule, one Network holds a build with ``replicas=4`` (each replica its own input spikes,
drive, initial weights and loss values, labels or dopamine) and the same four networks built with
``replicas=1``; the replicas must give the separate runs' post spikes exactly and their weights
and gates to a relative 1e-12. A second replicated build, in which one replica's loss or dopamine
differs, shows that only that replica changes. With params per replica (amplitudes and bounds of
each replica its own), three replicas equal three separate runs with those params.
"""

from dataclasses import replace

import numpy as np
import pytest

from dassdp.rules import reference as ref

DT_MS = 1.0
STEPS = 5  # steps per window
N_WINDOWS = 14
WARMUP = 4
N_PRE, N_POST = 8, 4
R = 4
RTOL = 1e-12
#: a sparse connectivity (one replica's indices) for the whole-weight DA-SSDP case
MASK = np.random.default_rng(7).random((N_POST, N_PRE)) < 0.7


def _inputs(seed: int) -> dict:
    """One replica's inputs: pre spike steps, post drive, initial weights, loss values, labels and
    dopaminergic spike steps."""
    rng = np.random.default_rng(seed)
    spikes = rng.random((N_PRE, N_WINDOWS * STEPS)) < 0.2
    pre_i, pre_step = np.nonzero(spikes)
    labels = rng.integers(0, N_POST, N_WINDOWS)
    classes = rng.random((N_WINDOWS, N_POST)) < 0.6
    classes[np.arange(N_WINDOWS), labels] = True
    return {
        "pre_i": pre_i,
        "pre_step": pre_step,
        "drive": rng.uniform(15.0, 30.0, N_POST),  # mV above rest: the threshold is 20 mV above
        "w0": rng.normal(1.0, 1.0, (N_POST, N_PRE)),
        "loss": rng.normal(size=N_WINDOWS),
        "labels": labels,
        "classes": classes,
        "da_step": np.sort(rng.choice(N_WINDOWS * STEPS, 5, replace=False)),
    }


def _rows(values: list) -> np.ndarray:
    """One replica's values as they are, several as one row each."""
    return np.asarray(values[0]) if len(values) == 1 else np.stack(values)


def _groups(replicas: list[dict], normalization: bool = False):
    """Pre relay and post LIF group of ``len(replicas)`` replicas (with ``normalization``, the post
    group holds the normalisation's variables), and their objects."""
    from brian2 import SpikeGeneratorGroup, ms, mV

    from dassdp.models.neurons import current_lif
    from dassdp.models.relay import relay
    from dassdp.rules.brian2 import neuron_variables
    from dassdp.rules.brian2.normalization import POST_VARIABLES

    i = np.concatenate([x["pre_i"] + r * N_PRE for r, x in enumerate(replicas)])
    steps = np.concatenate([x["pre_step"] for x in replicas])
    source = SpikeGeneratorGroup(len(replicas) * N_PRE, i, steps * DT_MS * ms)
    pre, relay_objects = relay(source, extra=neuron_variables("pre", "readout"))
    extra = neuron_variables("post", "readout") + (POST_VARIABLES if normalization else "")
    post = current_lif(tau_m=4 * ms).group(len(replicas) * N_POST, extra=extra)
    post.I_ext = np.concatenate([x["drive"] for x in replicas]) * mV
    return source, pre, post, [source, *relay_objects, post]


#: each kind's params (DA-SSDP "dassdp_normalized": whole weights, bounds and a divisive normalisation)
PARAMS = {
    "dassdp_split": ref.DASSDPParams(a_plus=0.3, a_base=0.1),
    "dassdp_readout": ref.DASSDPParams(a_plus=0.3, a_base=0.1, sigma=2.0),
    "dassdp_whole": ref.DASSDPParams(a_plus=0.3, a_base=0.1, w_min=-1.5, w_max=2.5),
    "dassdp_normalized": ref.DASSDPParams(a_plus=0.3, a_base=0.1, w_min=-1.5, w_max=2.5),
    "ssdp": ref.DASSDPParams(gate="off", a_plus=0.4),
    "stdp": ref.STDPParams(a_plus=0.05, a_minus=-0.06, w_min=-3.0, w_max=3.0),
    "dastdp": ref.DASTDPParams(tau_c=0.03, tau_n=0.01, tau_plus=0.01, tau_minus=0.01, w_min=-50.0),
}


def _rule(kind: str, replicas: list[dict], da_replicas: list[dict] | None = None, params: list | None = None):
    """The rule ``kind`` on fresh groups for ``replicas`` (``replicas=len(replicas)``) with
    `PARAMS`, or ``params`` (one per replica: a list, or for one replica its params object);
    returns the rule, the post group and the objects to run."""
    from brian2 import SpikeGeneratorGroup, ms

    from dassdp.models.dopamine import DopamineVolume
    from dassdp.rules.brian2 import (
        DASSDPSynapses,
        DASTDPSynapses,
        ExternalLoss,
        ReadoutLoss,
        SpikeCountLoss,
        SSDPSynapses,
        STDPSynapses,
    )
    from dassdp.rules.brian2.normalization import RowNormalization
    from dassdp.rules.brian2.reward import reward_prediction_error

    n = len(replicas)
    source, pre, post, objects = _groups(replicas, normalization=kind == "dassdp_normalized")
    window = STEPS * DT_MS * ms
    common = {"on_pre": "I_syn_post += 4 * w * mV", "replicas": n}
    w0 = _rows([x["w0"] for x in replicas])
    per_synapse = _rows([x["w0"].T.ravel() for x in replicas])  # STDP: synapse order i-major
    params = PARAMS[kind] if params is None else params[0] if len(params) == 1 else params
    if kind == "dassdp_split":
        loss = ExternalLoss(_rows([x["loss"] for x in replicas]))
        rule = DASSDPSynapses(pre, post, window, params, warmup=WARMUP, loss=loss, w0=w0, **common)
    elif kind == "dassdp_readout":
        labels, classes = _rows([x["labels"] for x in replicas]), _rows([x["classes"] for x in replicas])
        loss = ReadoutLoss(pre, post, labels, n_steps=STEPS, classes=classes, bias=None)
        rule = DASSDPSynapses(pre, post, window, params, warmup=WARMUP, loss=loss, w0=w0, **common)
    elif kind == "dassdp_whole":
        j, i = np.nonzero(MASK)
        loss = SpikeCountLoss(post, _rows([x["labels"] for x in replicas]))
        rule = DASSDPSynapses(
            pre, post, window, params, warmup=WARMUP, batch=2, loss=loss, w0=w0, connect={"i": i, "j": j}, **common
        )
    elif kind == "dassdp_normalized":
        loss = ExternalLoss(_rows([x["loss"] for x in replicas]))
        mean, spread = (np.concatenate(points) for points in zip(*(ref.row_set_points(x["w0"]) for x in replicas)))
        normalization = RowNormalization("divisive", mean, spread)
        rule = DASSDPSynapses(
            pre, post, window, params, warmup=WARMUP, loss=loss, w0=w0, normalization=normalization, **common
        )
    elif kind == "ssdp":
        rule = SSDPSynapses(pre, post, window, params, w0=w0, **common)
    elif kind == "stdp":
        rule = STDPSynapses(source, post, params=params, w0=per_synapse, **common)
    else:  # dastdp: reward-prediction-error dopamine, or phasic dopamine spikes
        if da_replicas is None:
            schedule = ref.Schedule(np.ones(N_WINDOWS), STEPS * DT_MS * 1e-3)
            labels = _rows([x["labels"] for x in replicas])
            volume = reward_prediction_error(post, labels, schedule, STEPS * DT_MS * 1e-3, 0.01, 0.5, tonic=30.0)
        else:
            volume = DopamineVolume(tau_DA=10 * ms, DA_phasic=100.0, replicas=n)
            i = np.concatenate([np.full(len(x["da_step"]), r) for r, x in enumerate(da_replicas)])
            steps = np.concatenate([x["da_step"] for x in da_replicas])
            dopamine = SpikeGeneratorGroup(n, i, steps * DT_MS * ms)
            volume.phasic_input(dopamine)
            objects.append(dopamine)
        rule = DASTDPSynapses(source, post, volume, params=params, w0=per_synapse, **common)
        objects += volume.objects
    return rule, post, objects + rule.objects


def _run(kind: str, variants: dict, target: str = "numpy", directory=None) -> dict:
    """Run every variant (name: replicas' inputs, dopamine inputs and optionally params per
    replica) of rule ``kind`` in one Network on ``target``; per variant and replica: post spikes,
    weights, gate."""
    from brian2 import Network, SpikeMonitor, defaultclock, ms, start_scope

    from dassdp.models.targets import use_target

    start_scope()
    with use_target(target, directory):
        defaultclock.dt = DT_MS * ms
        built, objects = {}, []
        for name, (inputs, da_inputs, *params) in variants.items():
            rule, post, objs = _rule(kind, inputs, da_inputs, *params)
            monitor = SpikeMonitor(post)
            built[name] = (rule, monitor, len(inputs))
            objects += objs + [monitor]
        Network(*objects).run((N_WINDOWS * STEPS + 1) * DT_MS * ms)
        return {name: _per_replica(*b) for name, b in built.items()}


def _per_replica(rule, monitor, n: int) -> list[dict]:
    weights = rule.weights().reshape(n, -1)
    gate = rule.fitted_gate()
    gates = gate if isinstance(gate, list) else [gate] * n
    i, t = np.asarray(monitor.i[:]), np.asarray(monitor.t_[:])
    return [
        {"w": weights[r], "gate": gates[r], "spikes": (i[i // N_POST == r] % N_POST, t[i // N_POST == r])}
        for r in range(n)
    ]


def _assert_same(replica: dict, alone: dict) -> None:
    np.testing.assert_array_equal(replica["spikes"][0], alone["spikes"][0])
    np.testing.assert_array_equal(replica["spikes"][1], alone["spikes"][1])
    np.testing.assert_allclose(replica["w"], alone["w"], rtol=RTOL, atol=0)
    if alone["gate"] is not None:
        got, want = replica["gate"], alone["gate"]
        np.testing.assert_allclose([got.k, got.mu, got.s], [want.k, want.mu, want.s], rtol=RTOL, atol=0)


INPUTS = [_inputs(seed) for seed in range(R)]


def _variants(changed: list[dict] | None = None, da=None, changed_da=None) -> dict:
    """The replicated build, the four separate builds and (optionally) a replicated build with
    ``changed`` inputs."""
    variants = {"replicated": (INPUTS, da), **{f"alone{r}": ([x], da and [da[r]]) for r, x in enumerate(INPUTS)}}
    if changed is not None:
        variants["changed"] = (changed, changed_da)
    return variants


def _check_equal(out: dict, kind: str) -> None:
    """Every replica equals its separate run; the runs differ and the rule moved every weight set."""
    for r in range(R):
        _assert_same(out["replicated"][r], out[f"alone{r}"][0])
    assert len({tuple(out[f"alone{r}"][0]["spikes"][1]) for r in range(R)}) == R
    for r in range(R):
        w0 = INPUTS[r]["w0"]
        initial = w0[MASK] if kind == "dassdp_whole" else w0.T.ravel()  # in synapse order
        assert np.abs(out[f"alone{r}"][0]["w"] - initial).max() > 1e-3


@pytest.mark.parametrize("kind", ["dassdp_split", "dassdp_whole", "dassdp_readout", "ssdp", "stdp"])
def test_replicas_equal_separate_runs(kind):
    """Replica r of one replicated network equals a separate run of replica r; with the DA-SSDP
    rules, replica 2 of a second replicated build has another loss: only it changes."""
    changed = [dict(x) for x in INPUTS]
    changed[2]["loss"] = -3.0 * INPUTS[2]["loss"]
    changed[2]["labels"] = (INPUTS[2]["labels"] + 1) % N_POST
    if kind == "dassdp_whole":  # its readout neurons fire alike: the labels hardly change its loss
        changed[2]["w0"] = 0.5 * INPUTS[2]["w0"]
    gated = kind.startswith("dassdp")
    out = _run(kind, _variants(changed if gated else None))
    _check_equal(out, kind)
    if gated:
        for r in (0, 1, 3):
            _assert_same(out["changed"][r], out[f"alone{r}"][0])
        assert np.abs(out["changed"][2]["w"] - out["alone2"][0]["w"]).max() > 1e-6


def test_dastdp_replicas_equal_separate_runs_and_dopamine_stays_in_its_replica():
    """DA-STDP with reward-prediction-error dopamine per replica equals separate runs; with phasic
    dopamine for replica 1 only (and ``b = 0``), the other replicas keep their initial weights."""
    silent = {"da_step": np.array([], int)}
    only_one = [dict(x, **({} if r == 1 else silent)) for r, x in enumerate(INPUTS)]
    out = _run("dastdp", _variants(INPUTS, None, only_one))
    _check_equal(out, "dastdp")
    for r in range(R):
        moved = np.abs(out["changed"][r]["w"] - INPUTS[r]["w0"].T.ravel()).max()
        assert (moved > 1e-3) if r == 1 else (moved == 0), (r, moved)


@pytest.mark.slow  # a cpp_standalone build, about 40 s: `make test-slow`
@pytest.mark.standalone
def test_dassdp_replicas_equal_separate_runs_cpp_standalone(tmp_path):
    """The split-weight DA-SSDP case: the replicated network on cpp_standalone (one C++ build of
    one rule's objects) equals the separate runs on numpy."""
    replicated = _run("dassdp_split", {"replicated": (INPUTS, None)}, "cpp_standalone", tmp_path / "cpp")
    alone = _run("dassdp_split", {k: v for k, v in _variants().items() if k != "replicated"})
    _check_equal({**replicated, **alone}, "dassdp_split")


#: the changes to `PARAMS` of three replicas with params of their own: amplitudes scaled by 1, 3
#: and 10, bounds of their own (DA-SSDP "dassdp_whole": bounded, unbounded, bounded above only;
#: its batch of 2 windows keeps whole weights when run alone without bounds)
REPLICA_CHANGES = {
    "dassdp_split": [{}, {"a_plus": 0.9, "a_base": 0.3}, {"a_plus": 3.0, "a_base": 1.0, "clip": 0.5}],
    "dassdp_whole": [
        {},
        {"a_plus": 0.9, "a_base": 0.3, "w_min": -np.inf, "w_max": np.inf},
        {"a_plus": 3.0, "a_base": 1.0, "w_min": -np.inf, "w_max": 1.5},
    ],
    "dassdp_normalized": [
        {},
        {"a_plus": 0.9, "a_base": 0.3, "w_min": -1.0, "w_max": 2.0},
        {"a_plus": 3.0, "a_base": 1.0, "w_min": -0.5, "w_max": 1.5},
    ],
    "ssdp": [
        {"w_min": -2.0, "w_max": 3.0},
        {"a_plus": 1.2, "a_base": 0.3, "w_min": -1.0, "w_max": 2.0},
        {"a_plus": 4.0, "a_base": 1.0, "w_min": -0.5, "w_max": 1.5},
    ],
    "stdp": [{}, {"a_plus": 0.15, "a_minus": -0.18, "w_min": -2.0}, {"a_plus": 0.5, "a_minus": -0.6, "w_max": 1.5}],
    "dastdp": [
        {},
        {"a_plus": 3.0, "a_minus": 4.5, "w_min": -1.0, "w_max": 1.5},
        {"a_plus": 10.0, "a_minus": 15.0, "w_min": -3.0, "w_max": 3.0},
    ],
}


def _replica_params(kind: str) -> list:
    return [replace(PARAMS[kind], **changes) for changes in REPLICA_CHANGES[kind]]


@pytest.mark.parametrize("kind", list(REPLICA_CHANGES))
def test_params_per_replica_equal_separate_runs(kind):
    """Three replicas with params of their own (amplitudes, update clip and weight bounds) equal
    three separate runs with those params; the bounds clip weights in some replica."""
    params = _replica_params(kind)
    inputs = INPUTS[: len(params)]
    alone = {f"alone{r}": ([x], None, [params[r]]) for r, x in enumerate(inputs)}
    out = _run(kind, {"replicated": (inputs, None, params), **alone})
    for r in range(len(params)):
        _assert_same(out["replicated"][r], out[f"alone{r}"][0])
        initial = INPUTS[r]["w0"][MASK] if kind == "dassdp_whole" else INPUTS[r]["w0"].T.ravel()  # synapse order
        assert np.abs(out["replicated"][r]["w"] - initial).max() > 1e-3
    if kind != "dassdp_split":  # it has no bounds
        at_bound = [np.isin(out["replicated"][r]["w"], (p.w_min, p.w_max)).sum() for r, p in enumerate(params)]
        assert sum(at_bound) > 0, at_bound


@pytest.mark.slow  # a cpp_standalone build, about 40 s: `make test-slow`
@pytest.mark.standalone
@pytest.mark.parametrize("kind", ["dassdp_split", "stdp"])
def test_params_per_replica_cpp_standalone(tmp_path, kind):
    """The per-synapse constants of params per replica are set on cpp_standalone too (where the
    synapses exist only once the network runs): the replicated network equals separate numpy runs."""
    params = _replica_params(kind)
    inputs = INPUTS[: len(params)]
    replicated = _run(kind, {"replicated": (inputs, None, params)}, "cpp_standalone", tmp_path / "cpp")
    alone = _run(kind, {f"alone{r}": ([x], None, [params[r]]) for r, x in enumerate(inputs)})
    for r in range(len(params)):
        _assert_same(replicated["replicated"][r], alone[f"alone{r}"][0])


def test_params_per_replica_keep_the_single_params_code():
    """One params object compiles the constants as shared ones (in the namespace for STDP); a list
    makes them per-synapse variables holding each replica's value, and the normalisation reads
    each synapse's bounds."""
    from brian2 import start_scope

    start_scope()
    params = _replica_params("dassdp_normalized")
    single, _, _ = _rule("dassdp_normalized", INPUTS[:3])
    assert single.synapses.variables["ssdp_a_plus"].scalar
    rule, _, _ = _rule("dassdp_normalized", INPUTS[:3], params=params)
    assert not rule.synapses.variables["ssdp_w_max"].scalar and rule.mode == "whole"
    np.testing.assert_array_equal(rule.synapses.ssdp_w_max[:], np.repeat([p.w_max for p in params], N_PRE * N_POST))
    (runner,) = [obj for obj in rule.synapses.contained_objects if obj.name.endswith("_normalize")]
    assert "clip(norm_mean_post + (w - norm_m) * norm_scale, ssdp_w_min, ssdp_w_max)" in runner.abstract_code
    stdp, _, _ = _rule("stdp", INPUTS[:3])
    assert "stdp_a_plus" in stdp.synapses.namespace and "stdp_a_plus" not in stdp.synapses.variables
    stdp_params = _replica_params("stdp")
    stdp, _, _ = _rule("stdp", INPUTS[:3], params=tuple(stdp_params))
    assert "stdp_a_plus" not in stdp.synapses.namespace
    same_step = [ref.same_step_correction(p.a_plus, p.a_minus, p.same_step) for p in stdp_params]
    np.testing.assert_array_equal(stdp.synapses.stdp_same_step[:], np.repeat(same_step, N_PRE * N_POST))


@pytest.fixture
def small_groups():
    """Pre (4 neurons) and post (6 neurons, readout variables) for two replicas."""
    from brian2 import defaultclock, ms

    from dassdp.models.neurons import current_lif
    from dassdp.models.targets import use_target
    from dassdp.rules.brian2 import neuron_variables

    with use_target("numpy"):
        defaultclock.dt = 1 * ms
        pre = current_lif().group(4, extra=neuron_variables("pre"))
        post = current_lif().group(6, extra=neuron_variables("post", "readout"))
        yield pre, post


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"replicas": 0}, ValueError, "replicas must be >= 1"),
        ({"replicas": 2.0}, TypeError, "replicas must be an integer"),
        ({"replicas": 3}, ValueError, "pre has 4 neurons, not a multiple of replicas=3"),
        ({"connect": {"condition": "i != j"}}, ValueError, "connect: with replicas=2"),
        ({"connect": {"i": [0, 2], "j": [0, 1]}}, ValueError, r"'i' must lie in \[0, 2\)"),
        (
            {"w0": np.zeros((3, 3, 2))},
            ValueError,
            r"w0 must be .* \(2, 3, 2\) \(replicas, n_post, n_pre\), got shape \(3, 3, 2\)",
        ),
        ({"loss_rows": 1}, ValueError, "loss has values for 1 replica"),
    ],
)
def test_replica_arguments_are_checked(small_groups, kwargs, error, match):
    from brian2 import ms

    from dassdp.rules.brian2 import DASSDPSynapses, ExternalLoss

    pre, post = small_groups
    kwargs = {"replicas": 2, **kwargs}
    loss = ExternalLoss(np.zeros(10) if kwargs.pop("loss_rows", 2) == 1 else np.zeros((2, 10)))
    with pytest.raises(error, match=match):
        DASSDPSynapses(pre, post, 5 * ms, warmup=3, loss=loss, **kwargs)


def test_replica_losses_and_volumes_are_checked(small_groups):
    from brian2 import ms

    from dassdp.models.dopamine import DopamineVolume
    from dassdp.rules.brian2 import DASTDPSynapses, SpikeCountLoss, STDPSynapses

    pre, post = small_groups
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\) \(the readout size per replica\)"):
        SpikeCountLoss(post, np.array([[0, 3], [1, 2]]))
    with pytest.raises(ValueError, match="labels has 4 rows .* not a multiple"):
        SpikeCountLoss(post, np.zeros((4, 5), int))
    assert SpikeCountLoss(post, np.zeros((2, 5), int)).replicas == 2
    with pytest.raises(ValueError, match="volume has 1 neuron"):
        DASTDPSynapses(pre, post, DopamineVolume(), replicas=2)
    with pytest.raises(ValueError, match="target has 6 neurons, not a multiple of replicas=4"):
        DopamineVolume(tau_DA=10 * ms, replicas=4).deliver_to(post)
    with pytest.raises(ValueError, match=r"w0 must be .* per replica \(6,\) or \(2, 6\)"):
        STDPSynapses(pre, post, w0=np.zeros((3, 6)), replicas=2)


def test_replicated_synapses_are_block_diagonal(small_groups):
    """Synapses stay within their replica, listed replica by replica; readers give one matrix
    (and weight row) per replica."""
    from brian2 import Network, ms

    from dassdp.rules.brian2 import SSDPSynapses, STDPSynapses

    pre, post = small_groups
    w0 = np.arange(12.0).reshape(2, 3, 2)
    rule = SSDPSynapses(
        pre, post, 5 * ms, w0=w0, replicas=2, connect={"i": np.array([0, 1, 1]), "j": np.array([2, 0, 1])}
    )
    i, j = np.asarray(rule.synapses.i[:]), np.asarray(rule.synapses.j[:])
    np.testing.assert_array_equal(i, [0, 1, 1, 2, 3, 3])
    np.testing.assert_array_equal(j, [2, 0, 1, 5, 3, 4])
    stdp = STDPSynapses(pre, post, w0=np.arange(12.0).reshape(2, 6), replicas=2)
    np.testing.assert_array_equal(np.asarray(stdp.synapses.i[:]) // 2, np.asarray(stdp.synapses.j[:]) // 3)
    np.testing.assert_array_equal(stdp.weights(), np.arange(12.0).reshape(2, 6))
    Network(pre, post, *rule.objects).run(1 * ms)  # loads w0, no window ends
    expected = np.full((2, 3, 2), np.nan)
    expected[:, [2, 0, 1], [0, 1, 1]] = w0[:, [2, 0, 1], [0, 1, 1]]
    np.testing.assert_array_equal(rule.weight_matrix(), expected)
    np.testing.assert_array_equal(rule.run_args(w0=w0 + 1)[rule.w0_table], rule.w0_table.values + 1)


def test_lateral_inhibition_stays_within_replicas():
    from brian2 import NeuronGroup

    from dassdp.models.competition import lateral_inhibition

    group = NeuronGroup(6, "I : 1\nvth : 1", threshold="False")
    syn = lateral_inhibition(group, 0.5, replicas=2)
    pairs = set(zip(syn.i[:], syn.j[:]))
    assert pairs == {(a, b) for a in range(6) for b in range(6) if a != b and a // 3 == b // 3}


@pytest.mark.parametrize(
    "rule, params, error, match",
    [
        (
            "dassdp",
            [ref.DASSDPParams(), ref.DASSDPParams(sigma=1.5)],
            ValueError,
            r"params: replicas must share 'sigma' .*; replica 1 has 1.5, replica 0 has 1.0",
        ),
        (
            "dassdp",
            [ref.DASSDPParams(), ref.DASSDPParams(gate_fit="detrended")],
            ValueError,
            "replicas must share 'gate_fit'",
        ),
        ("dassdp", [ref.DASSDPParams()] * 3, ValueError, r"params: .* exactly replicas=2 .* got 3"),
        ("dassdp", [ref.DASSDPParams(), ref.STDPParams()], TypeError, r"params\[1\] must be a DASSDPParams"),
        ("dassdp", {"a_plus": 1.0}, TypeError, "params must be a DASSDPParams"),
        ("ssdp", [ref.DASSDPParams(gate="off"), ref.DASSDPParams()], ValueError, r"params\[1\].gate='continuous'"),
        ("stdp", [ref.STDPParams(), ref.STDPParams(pairing="nearest")], ValueError, "replicas must share 'pairing'"),
        ("stdp", [ref.STDPParams(), ref.STDPParams(same_step="causal")], ValueError, "must share 'same_step'"),
        ("stdp", (ref.STDPParams(),), ValueError, r"params: .* exactly replicas=2 .* got 1"),
        ("stdp", [ref.STDPParams(), None], TypeError, r"params\[1\] must be a STDPParams"),
        ("dastdp", [ref.DASTDPParams(), ref.DASTDPParams(tau_c=0.5)], ValueError, "must share 'tau_c'"),
        ("dastdp", [ref.DASTDPParams(), ref.DASTDPParams(b=0.1)], ValueError, "must share 'b'"),
    ],
)
def test_params_per_replica_are_checked(small_groups, rule, params, error, match):
    from brian2 import ms

    from dassdp.models.dopamine import DopamineVolume
    from dassdp.rules.brian2 import DASSDPSynapses, DASTDPSynapses, ExternalLoss, SSDPSynapses, STDPSynapses

    pre, post = small_groups
    with pytest.raises(error, match=match):
        if rule == "dassdp":
            DASSDPSynapses(pre, post, 5 * ms, params, warmup=3, loss=ExternalLoss(np.zeros((2, 10))), replicas=2)
        elif rule == "ssdp":
            SSDPSynapses(pre, post, 5 * ms, params, replicas=2)
        elif rule == "stdp":
            STDPSynapses(pre, post, params, replicas=2)
        else:
            DASTDPSynapses(pre, post, DopamineVolume(tau_DA=10 * ms, replicas=2), params, replicas=2)


def test_run_args_refuse_constants_per_replica(small_groups):
    """With params per replica, run_args cannot change the per-synapse amplitudes or clip; the
    shared settings still change."""
    from brian2 import ms

    from dassdp.rules.brian2 import SSDPSynapses

    pre, post = small_groups
    params = [ref.DASSDPParams(gate="off"), ref.DASSDPParams(gate="off", a_plus=2.0, w_max=3.0)]
    rule = SSDPSynapses(pre, post, 5 * ms, params, replicas=2)
    assert rule.mode == "whole" and rule.replica_params == tuple(params)
    with pytest.raises(ValueError, match=r"run_args: \['a_plus', 'clip'\] cannot change .* params per replica"):
        rule.run_args(a_plus=1.0, clip=0.5, sigma=2.0)
    assert rule.kernel_table in rule.run_args(sigma=2.0)
