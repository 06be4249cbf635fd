"""Bad parameters of the Brian2 rule builders raise a ValueError naming the parameter."""

import numpy as np
import pytest
from brian2 import NeuronGroup, ms, defaultclock

from dassdp.models import current_lif
from dassdp.models.targets import use_target
from dassdp.rules.brian2 import DASSDP, SSDP, ExternalLoss, SpikeCountLoss, neuron_variables


@pytest.fixture
def groups():
    with use_target("numpy"):
        defaultclock.dt = 1 * ms
        pre = current_lif().group(4, extra=neuron_variables("pre"))
        post = current_lif().group(3, extra=neuron_variables("post") + neuron_variables("readout"))
        yield pre, post


LOSS = ExternalLoss(np.zeros(20))


@pytest.mark.parametrize("kwargs, name", [
    ({"sigma": -1 * ms}, "sigma"),
    ({"window": -5 * ms}, "window"),
    ({"window": 2.5 * ms}, "window"),
    ({"gate": "sigmoid"}, "gate"),
    ({"latency": "middle"}, "latency"),
    ({"batch": 0}, "batch"),
    ({"warmup": 1}, "warmup"),
    ({"clip": -1.0}, "clip"),
    ({"w0": np.zeros((4, 3))}, "w0"),
    ({"loss": None}, "loss"),
])
def test_dassdp_bad_parameters(groups, kwargs, name):
    pre, post = groups
    args = {"window": 5 * ms, "warmup": 4, "loss": LOSS, **kwargs}
    with pytest.raises(ValueError, match=name):
        DASSDP(pre, post, **args)


def test_warmup_longer_than_run(groups):
    pre, post = groups
    rule = DASSDP(pre, post, 5 * ms, warmup=10, loss=LOSS)
    with pytest.raises(ValueError, match="warmup"):
        rule.duration(8)


def test_groups_without_rule_variables_are_named(groups):
    pre, post = groups
    plain = NeuronGroup(3, "v : 1", threshold="v > 1", reset="v = 0")
    with pytest.raises(ValueError, match="post .*lacks the DA-SSDP variables"):
        SSDP(pre, plain, 5 * ms)
    with pytest.raises(ValueError, match="pre .*lacks"):
        SSDP(plain, post, 5 * ms)


def test_labels_must_fit_the_readout(groups):
    _, post = groups
    with pytest.raises(ValueError, match="labels"):
        SpikeCountLoss(post, np.array([0, 3, 1]))  # readout has 3 neurons: labels 0..2


def test_ssdp_rejects_a_gate(groups):
    pre, post = groups
    with pytest.raises(ValueError, match="gate"):
        SSDP(pre, post, 5 * ms, gate="continuous")


def test_mismatched_dt(groups):
    pre, _ = groups
    other = current_lif().group(3, extra=neuron_variables("post"), dt=0.5 * ms)
    with pytest.raises(ValueError, match="dt"):
        SSDP(pre, other, 5 * ms)


def test_one_projection_per_post_group(groups):
    pre, post = groups
    first = SSDP(pre, post, 5 * ms)
    with pytest.raises(ValueError, match=f"post .*already receives the DA-SSDP projection '{first.synapses.name}'"):
        SSDP(pre, post, 5 * ms)
