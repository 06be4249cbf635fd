"""Bad parameters of the Brian2 rule builders raise a ValueError naming the parameter."""

import numpy as np
import pytest
from brian2 import NeuronGroup, defaultclock, ms

from dassdp.models import current_lif
from dassdp.models.targets import use_target
from dassdp.rules.brian2 import DASSDPSynapses, ExternalLoss, SpikeCountLoss, SSDPSynapses, neuron_variables
from dassdp.rules.reference import DASSDPParams


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
        ({"params": {"gate": "sign"}}, "params"),  # not a DASSDPParams
        ({"batch": 0}, "batch"),
        ({"warmup": 1}, "warmup"),
        ({"w0": np.zeros((4, 3))}, "w0"),
        ({"loss": None}, "loss"),
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
    _, post = groups
    with pytest.raises(ValueError, match="labels"):
        SpikeCountLoss(post, np.array([0, 3, 1]))  # readout has 3 neurons: labels 0..2


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
