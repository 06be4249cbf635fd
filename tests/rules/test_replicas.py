"""Replicas: R copies of a network in one Brian2 simulation equal R separate runs.

For each rule, one Network holds a build with ``replicas=4`` (each replica its own input spikes,
drive, initial weights and loss values, labels or dopamine) and the same four networks built with
``replicas=1``; the replicas must give the separate runs' post spikes exactly and their weights
and gates to a relative 1e-12. A second replicated build, in which one replica's loss or dopamine
differs, shows that only that replica changes.
"""

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


def _groups(replicas: list[dict]):
    """Pre relay and post LIF group of ``len(replicas)`` replicas, and their objects."""
    from brian2 import SpikeGeneratorGroup, ms, mV

    from dassdp.models.neurons import current_lif
    from dassdp.models.relay import relay
    from dassdp.rules.brian2 import neuron_variables

    i = np.concatenate([x["pre_i"] + r * N_PRE for r, x in enumerate(replicas)])
    steps = np.concatenate([x["pre_step"] for x in replicas])
    source = SpikeGeneratorGroup(len(replicas) * N_PRE, i, steps * DT_MS * ms)
    pre, relay_objects = relay(source, extra=neuron_variables("pre", "readout"))
    post = current_lif(tau_m=4 * ms).group(len(replicas) * N_POST, extra=neuron_variables("post", "readout"))
    post.I_ext = np.concatenate([x["drive"] for x in replicas]) * mV
    return source, pre, post, [source, *relay_objects, post]


def _rule(kind: str, replicas: list[dict], da_replicas: list[dict] | None = None):
    """The rule ``kind`` on fresh groups for ``replicas`` (``replicas=len(replicas)``); returns the
    rule, the post group and the objects to run."""
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
    from dassdp.rules.brian2.reward import reward_prediction_error

    n = len(replicas)
    source, pre, post, objects = _groups(replicas)
    window = STEPS * DT_MS * ms
    common = {"on_pre": "I_syn_post += 4 * w * mV", "replicas": n}
    w0 = _rows([x["w0"] for x in replicas])
    per_synapse = _rows([x["w0"].T.ravel() for x in replicas])  # STDP: synapse order i-major
    if kind == "dassdp_split":
        loss = ExternalLoss(_rows([x["loss"] for x in replicas]))
        rule = DASSDPSynapses(
            pre, post, window, ref.DASSDPParams(a_plus=0.3, a_base=0.1), warmup=WARMUP, loss=loss, w0=w0, **common
        )
    elif kind == "dassdp_readout":
        labels, classes = _rows([x["labels"] for x in replicas]), _rows([x["classes"] for x in replicas])
        loss = ReadoutLoss(pre, post, labels, n_steps=STEPS, classes=classes, bias=None)
        params = ref.DASSDPParams(a_plus=0.3, a_base=0.1, sigma=2.0)
        rule = DASSDPSynapses(pre, post, window, params, warmup=WARMUP, loss=loss, w0=w0, **common)
    elif kind == "dassdp_whole":
        j, i = np.nonzero(MASK)
        loss = SpikeCountLoss(post, _rows([x["labels"] for x in replicas]))
        params = ref.DASSDPParams(a_plus=0.3, a_base=0.1, w_min=-1.5, w_max=2.5)
        rule = DASSDPSynapses(
            pre, post, window, params, warmup=WARMUP, batch=2, loss=loss, w0=w0, connect={"i": i, "j": j}, **common
        )
    elif kind == "ssdp":
        rule = SSDPSynapses(pre, post, window, ref.DASSDPParams(gate="off", a_plus=0.4), w0=w0, **common)
    elif kind == "stdp":
        params = ref.STDPParams(a_plus=0.05, a_minus=-0.06, w_min=-3.0, w_max=3.0)
        rule = STDPSynapses(source, post, params=params, w0=per_synapse, **common)
    else:  # dastdp: reward-prediction-error dopamine, or phasic dopamine spikes
        params = ref.DASTDPParams(tau_c=0.03, tau_n=0.01, tau_plus=0.01, tau_minus=0.01, w_min=-50.0)
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
    """Run every variant (name: replicas' inputs and dopamine inputs) of rule ``kind`` in one
    Network on ``target``; per variant and replica: post spikes, weights, gate."""
    from brian2 import Network, SpikeMonitor, defaultclock, ms, start_scope

    from dassdp.models.targets import use_target

    start_scope()
    with use_target(target, directory):
        defaultclock.dt = DT_MS * ms
        built, objects = {}, []
        for name, (inputs, da_inputs) in variants.items():
            rule, post, objs = _rule(kind, inputs, da_inputs)
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
