"""Bad parameters of the Brian2 rule builders and models raise a TypeError (wrong kind) or
ValueError (wrong value) naming the parameter, before Brian2 sees them."""

import dataclasses

import numpy as np
import pytest
from brian2 import Network, NeuronGroup, SpikeGeneratorGroup, SpikeMonitor, defaultclock, ms, mV, second

from dassdp.models import conductance_lif, current_lif
from dassdp.models.competition import lateral_inhibition
from dassdp.models.dopamine import DopamineVolume
from dassdp.models.relay import relay
from dassdp.models.standalone import StandaloneNetwork
from dassdp.models.targets import use_target
from dassdp.rules import reference as ref
from dassdp.rules.brian2 import (
    DASSDPSynapses,
    DASTDPSynapses,
    ExternalLoss,
    ReadoutLoss,
    SpikeCountLoss,
    SSDPSynapses,
    STDPSynapses,
    neuron_variables,
)
from dassdp.rules.brian2.normalization import RowNormalization
from dassdp.rules.brian2.reward import reward_prediction_error
from dassdp.rules.reference import DASSDPParams, Schedule


@pytest.fixture
def groups():
    with use_target("numpy"):
        defaultclock.dt = 1 * ms
        pre = current_lif().group(4, extra=neuron_variables("pre"))
        post = current_lif().group(3, extra=neuron_variables("post") + neuron_variables("readout"))
        yield pre, post


LOSS = ExternalLoss(np.zeros(20))


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"window": -5 * ms}, "window"),
        ({"window": 2.5 * ms}, "window"),
        ({"window": np.inf * ms}, "window must be finite"),  # was an OverflowError
        ({"window": np.nan * ms}, "window must be finite"),  # was "cannot convert float NaN to integer"
        ({"batch": 0}, "batch"),
        ({"warmup": 1}, "warmup"),
        ({"w0": np.zeros((4, 3))}, "w0"),
        ({"w0": np.nan}, "w0 must be finite"),
        ({"loss": None}, "loss"),
        ({"delay": -1 * ms}, "delay"),
    ],
)
def test_dassdp_bad_arguments(groups, kwargs, name):
    pre, post = groups
    args = {"window": 5 * ms, "warmup": 4, "loss": LOSS, **kwargs}
    with pytest.raises(ValueError, match=name):
        DASSDPSynapses(pre, post, **args)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"window": 5}, r"window must be a time in Brian2 units \(e.g. 5\*ms\)"),  # was a DimensionMismatchError on dt
        ({"window": 5 * mV}, "window must be a time"),
        ({"params": {"gate": "sign"}}, "params must be a DASSDPParams"),
        ({"warmup": np.nan}, "warmup must be an integer"),  # was "cannot convert float NaN to integer"
        ({"warmup": "4"}, "warmup"),
        ({"batch": 2.5}, "batch"),
        ({"w0": "0.5"}, "w0"),
        ({"w0": 0.5 * mV}, "w0 must be dimensionless"),
        ({"loss": np.zeros(20)}, "loss must be a WindowLoss"),
        ({"schedule": [1, 0, 1]}, "schedule must be a dassdp.rules.reference.Schedule"),
        ({"normalization": "subtractive"}, "normalization"),
        ({"connect": "i != j"}, "connect must be a dict"),
        ({"name": 3}, "name"),
    ],
)
def test_dassdp_arguments_of_the_wrong_kind(groups, kwargs, name):
    pre, post = groups
    args = {"window": 5 * ms, "warmup": 4, "loss": LOSS, **kwargs}
    with pytest.raises(TypeError, match=name):
        DASSDPSynapses(pre, post, **args)


def test_groups_must_be_neuron_groups(groups):
    pre, post = groups
    with pytest.raises(TypeError, match="pre must be a Brian2 NeuronGroup, got str"):  # was an AttributeError
        DASSDPSynapses("pre", post, 5 * ms, warmup=4, loss=LOSS)
    with pytest.raises(TypeError, match="post must be a Brian2 NeuronGroup, got str"):
        SSDPSynapses(pre, "post", 5 * ms)
    with pytest.raises(TypeError, match="params must be a DASSDPParams"):
        SSDPSynapses(pre, post, 5 * ms, {"gate": "off"})


def test_rule_methods_check_their_arguments(groups):
    pre, post = groups
    rule = DASSDPSynapses(pre, post, 5 * ms, warmup=4, loss=LOSS)
    with pytest.raises(TypeError, match="n_windows must be an integer"):
        rule.duration(np.nan)
    with pytest.raises(ValueError, match="n_windows must be >= 1"):
        rule.duration(0)
    with pytest.raises(TypeError, match="warmup must be an integer"):
        rule.run_args(warmup=np.nan)
    with pytest.raises(TypeError, match="w0"):
        rule.run_args(w0="1")
    with pytest.raises(TypeError, match=r"dt must be a time in Brian2 units"):
        rule.monitor_weights(5)
    with pytest.raises(ValueError, match=r"variables: the gate volume has no variable\(s\) \['gate'\]"):
        rule.monitor(("gate",))


def test_normalization_needs_its_post_variables(groups):
    pre, post = groups
    norm = RowNormalization("subtractive", np.zeros(3))
    with pytest.raises(ValueError, match="post .*lacks the normalisation variables"):
        DASSDPSynapses(pre, post, 5 * ms, warmup=4, loss=LOSS, normalization=norm)
    with pytest.raises(TypeError, match="normalization: mean must be real numbers"):
        RowNormalization("subtractive", np.array(["a", "b", "c"]))


def test_external_loss_values_are_checked_when_built():
    with pytest.raises(ValueError, match="loss values must be a non-empty"):
        ExternalLoss([])
    with pytest.raises(ValueError, match="loss values"):
        ExternalLoss([0.0, np.nan])
    with pytest.raises(TypeError, match="loss values must be real numbers"):
        ExternalLoss("abc")


def test_a_loss_shorter_than_the_run_stops_the_run(groups):
    """An ExternalLoss shorter than the run repeated its last value; now the run refuses to start."""
    pre, post = groups
    rule = DASSDPSynapses(pre, post, 5 * ms, warmup=4, loss=ExternalLoss(np.zeros(8)))
    net = Network(*rule.objects)
    with pytest.raises(ValueError, match=r"loss \(ExternalLoss\) has 8 values, .*needs 9 values"):
        net.run(rule.duration(9))
    assert float(net.t) == 0.0  # nothing ran


def test_labels_shorter_than_the_run_stop_the_run(groups):
    pre, post = groups
    rule = DASSDPSynapses(pre, post, 5 * ms, warmup=2, loss=SpikeCountLoss(post, np.array([0, 1, 2])))
    with pytest.raises(ValueError, match=r"labels \(SpikeCountLoss\) has 3 values, .*needs 4 values"):
        Network(*rule.objects).run(rule.duration(4))


def test_a_loss_as_long_as_the_run_runs():
    with use_target("numpy"):
        defaultclock.dt = 1 * ms
        pre = NeuronGroup(2, neuron_variables("pre"), threshold="False", reset="")
        post = NeuronGroup(2, neuron_variables("post"), threshold="False", reset="")
        rule = DASSDPSynapses(pre, post, 2 * ms, warmup=2, loss=ExternalLoss(np.arange(3.0)))
        net = Network(pre, post, *rule.objects)
        net.run(rule.duration(3))
        assert float(net.t / ms) == 7.0


def test_recurrent_projection_matches_the_reference():
    """The same group as pre and post (it used to fail with Brian2's EquationError on the
    duplicated variables of neuron_variables("pre") + neuron_variables("post")): the weights
    follow the NumPy reference with pre = post."""
    n, steps, n_windows = 4, 4, 6
    rng = np.random.default_rng(2)
    idx, step = np.nonzero(rng.random((n, steps * n_windows)) < 0.3)
    loss = rng.normal(size=n_windows)
    w0 = rng.normal(size=(n, n))
    with use_target("numpy"):
        defaultclock.dt = 1 * ms
        source = SpikeGeneratorGroup(n, idx, step * ms)
        group, objects = relay(source, extra=neuron_variables("pre") + neuron_variables("post"))
        rule = DASSDPSynapses(group, group, steps * ms, warmup=3, loss=ExternalLoss(loss), w0=w0)
        spikes = SpikeMonitor(group)
        Network(source, *objects, *rule.objects, spikes).run(rule.duration(n_windows))
        measured = rule.weight_matrix()
    activity = ref.activity_from_spike_times(
        np.asarray(spikes.i[:]), np.asarray(spikes.t[:] / second), n, steps * 1e-3, n_windows, dt=1e-3
    )
    params = dataclasses.replace(DASSDPParams(), sigma=1e-3)  # latencies in seconds
    expected = ref.simulate_dassdp(activity, activity, loss, w0, params, warmup=3).weights
    assert np.abs(expected - w0).max() > 1e-3  # the rule did change the weights
    np.testing.assert_allclose(measured, expected, rtol=1e-9, atol=1e-15)


def test_neuron_variables_of_several_roles():
    both = neuron_variables("pre", "post")
    assert both == neuron_variables("post") and neuron_variables("post", "readout").count("ssdp_count :") == 1
    with pytest.raises(ValueError, match="role must be one of"):
        neuron_variables("hidden")
    with pytest.raises(TypeError, match="role"):
        neuron_variables(["pre"])


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"sigma": -1.0}, "sigma"),
        ({"gate": "sigmoid"}, "gate"),
        ({"latency": "middle"}, "latency"),
        ({"clip": -1.0}, "clip"),
    ],
)
def test_dassdp_bad_constants(kwargs, name):
    with pytest.raises(ValueError, match=name):
        DASSDPParams(**kwargs)


def test_warmup_longer_than_run(groups):
    pre, post = groups
    rule = DASSDPSynapses(pre, post, 5 * ms, warmup=10, loss=LOSS)
    with pytest.raises(ValueError, match="warmup"):
        rule.duration(8)


def test_groups_without_rule_variables_are_named(groups):
    pre, post = groups
    plain = NeuronGroup(3, "v : 1", threshold="v > 1", reset="v = 0")
    with pytest.raises(ValueError, match="post .*lacks the DA-SSDP variables"):
        SSDPSynapses(pre, plain, 5 * ms)
    with pytest.raises(ValueError, match="pre .*lacks"):
        SSDPSynapses(plain, post, 5 * ms)


def test_labels_must_fit_the_readout(groups):
    pre, post = groups
    with pytest.raises(ValueError, match="labels"):
        SpikeCountLoss(post, np.array([0, 3, 1]))  # readout has 3 neurons: labels 0..2
    with pytest.raises(ValueError, match="labels must be a non-empty"):
        SpikeCountLoss(post, [])
    with pytest.raises(TypeError, match="labels must be integers"):
        SpikeCountLoss(post, [0.0, 1.5])
    with pytest.raises(TypeError, match="readout must be a Brian2 NeuronGroup"):
        SpikeCountLoss("readout", [0, 1])
    with pytest.raises(TypeError, match="n_steps must be an integer"):
        ReadoutLoss(post, post, [0, 1], np.nan, bias=None)


def test_reward_prediction_error_checks_its_arguments(groups):
    _, post = groups
    schedule = Schedule([1, 1], 5e-3)
    with pytest.raises(ValueError, match="labels must be a non-empty"):
        reward_prediction_error(post, [], schedule, 5e-3, 0.2, 0.5)
    with pytest.raises(TypeError, match="labels_group must be a Brian2 NeuronGroup"):
        reward_prediction_error("labels", [0, 1], schedule, 5e-3, 0.2, 0.5)
    with pytest.raises(TypeError, match="schedule must be a dassdp.rules.reference.Schedule"):
        reward_prediction_error(post, [0, 1], None, 5e-3, 0.2, 0.5)
    with pytest.raises(ValueError, match="window_s"):
        reward_prediction_error(post, [0, 1], schedule, np.nan, 0.2, 0.5)
    with pytest.raises(TypeError, match="rate"):
        reward_prediction_error(post, [0, 1], schedule, 5e-3, 0.2, "fast")


def test_ssdp_rejects_a_gate(groups):
    pre, post = groups
    with pytest.raises(ValueError, match="gate"):
        SSDPSynapses(pre, post, 5 * ms, DASSDPParams(gate="continuous"))


def test_mismatched_dt(groups):
    pre, _ = groups
    other = current_lif().group(3, extra=neuron_variables("post"), dt=0.5 * ms)
    with pytest.raises(ValueError, match="dt"):
        SSDPSynapses(pre, other, 5 * ms)


def test_one_projection_per_post_group(groups):
    pre, post = groups
    first = SSDPSynapses(pre, post, 5 * ms)
    with pytest.raises(ValueError, match=f"post .*already receives the DA-SSDP projection '{first.synapses.name}'"):
        SSDPSynapses(pre, post, 5 * ms)


def test_explicit_full_connectivity_counts_synchrony_like_all_to_all(groups):
    """A dense layer connected pair by pair (as the bridge does) needs no count of inputs per spike;
    a partial connectivity does."""
    pre, post = groups
    j, i = np.meshgrid(np.arange(3), np.arange(4), indexing="ij")
    full = SSDPSynapses(pre, post, 5 * ms, connect={"i": i.ravel(), "j": j.ravel()})
    assert full.all_to_all and not hasattr(full.synapses, "ssdp_count_inputs")
    other = current_lif().group(3, extra=neuron_variables("post"))
    partial = SSDPSynapses(pre, other, 5 * ms, connect={"i": i.ravel()[:-1], "j": j.ravel()[:-1]})
    assert not partial.all_to_all and hasattr(partial.synapses, "ssdp_count_inputs")


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"pre": "pre"}, TypeError, "pre must be a Brian2 spike source"),
        ({"params": {}}, TypeError, "params must be a STDPParams"),
        ({"window": 5}, TypeError, "window must be a time"),
        ({"w0": np.nan}, ValueError, "w0 must be finite"),
        ({"w0": np.zeros(5)}, ValueError, r"w0 must be .* one value per synapse \(12,\)"),
        ({"schedule": [1]}, TypeError, "schedule"),
        ({"delay": 1}, TypeError, "delay must be a time"),
    ],
)
def test_stdp_bad_arguments(groups, kwargs, error, name):
    pre, post = groups
    with pytest.raises(error, match=name):
        STDPSynapses(**{"pre": pre, "post": post, **kwargs})


def test_dastdp_needs_a_volume_and_dopamine(groups):
    pre, post = groups
    volume = DopamineVolume()
    with pytest.raises(TypeError, match="volume must be a DopamineVolume"):
        DASTDPSynapses(pre, post, volume.group)
    plain = NeuronGroup(2, "v : 1", threshold="v > 1", reset="v = 0")
    with pytest.raises(ValueError, match="post .*has no variable DA"):
        DASTDPSynapses(pre, plain, volume)


@pytest.mark.parametrize(
    "factory, kwargs, error, name",
    [
        (current_lif, {"tau_m": 5}, TypeError, r"tau_m must be a time in Brian2 units \(e.g. 5\*ms\)"),
        (current_lif, {"tau_syn": np.nan * ms}, ValueError, "tau_syn must be finite"),
        (current_lif, {"v_rest": -70}, TypeError, "v_rest must be a voltage"),
        (current_lif, {"v_threshold": np.inf * mV}, ValueError, "v_threshold must be finite"),
        (current_lif, {"refractory": 2}, TypeError, "refractory must be a time"),
        (current_lif, {"refractory": -1 * ms}, ValueError, "refractory must be >= 0"),
        (conductance_lif, {"C_m": 200 * mV}, TypeError, "C_m must be a capacitance"),
        (conductance_lif, {"g_L": 10}, TypeError, "g_L must be a conductance"),
        (conductance_lif, {"E_e": np.nan * mV}, ValueError, "E_e must be finite"),
        (DopamineVolume, {"tau_DA": 5}, TypeError, "tau_DA must be a time"),
        (DopamineVolume, {"DA_tonic": np.nan}, ValueError, "DA_tonic must be finite"),
        (DopamineVolume, {"DA_phasic": "1"}, TypeError, "DA_phasic"),
    ],
)
def test_bad_model_parameters(factory, kwargs, error, name):
    with use_target("numpy"), pytest.raises(error, match=name):
        factory(**kwargs)


def test_models_check_groups_sizes_and_paths(groups):
    pre, _ = groups
    with pytest.raises(TypeError, match="n must be an integer"):
        current_lif().group(np.nan)
    with pytest.raises(TypeError, match="n must be an integer"):
        current_lif().group(True)
    with pytest.raises(TypeError, match="source must be a Brian2 spike source"):
        relay("source")
    with pytest.raises(TypeError, match="group must be a Brian2 NeuronGroup"):
        lateral_inhibition("group", 1.0)
    with pytest.raises(TypeError, match="target must be a Brian2 NeuronGroup"):
        DopamineVolume().deliver_to("post")
    with pytest.raises(TypeError, match="variables must be a tuple"):
        DopamineVolume().deliver_to(pre, "DA")
    with pytest.raises(TypeError, match="directory must be a path"):
        StandaloneNetwork("cpp_standalone", 3)
    with pytest.raises(TypeError, match="directory must be a path"), use_target("cpp_standalone", 3):
        pass


def test_models_take_subgroups():
    """A Subgroup (``G[2:]``) works where a group's variables suffice, as before the checks."""
    with use_target("numpy"):
        group = NeuronGroup(6, "v : 1\nI : 1\nvth : 1\nDA : 1", threshold="v > vth")
        inhibition = lateral_inhibition(group[2:], 0.5)
        assert len(inhibition.source) == 4
        delivery = DopamineVolume().deliver_to(group[:3])
        assert len(delivery.target) == 3
