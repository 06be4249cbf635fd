"""A plain DA-SSDP network (split and whole weights) and a DA-STDP network run on numpy without
a single Brian2 WARNING, while Brian2's other warnings stay visible."""

import logging

import numpy as np
import pytest


@pytest.fixture
def brian2_warnings():
    """The WARNING records of Brian2's loggers during the test."""
    records = []
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = records.append
    logger = logging.getLogger("brian2")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def _network(rule_kind):
    from brian2 import Network, NeuronGroup, TimedArray, defaultclock, ms

    from dassdp.models.dopamine import DopamineVolume
    from dassdp.rules.brian2 import DASSDPSynapses, DASTDPSynapses, SpikeCountLoss, neuron_variables
    from dassdp.rules.reference import DASSDPParams, DASTDPParams

    defaultclock.dt = 1 * ms
    rng = np.random.default_rng(0)
    pattern = TimedArray((rng.random((200, 5)) < 0.3).astype(float), dt=1 * ms)
    pre = NeuronGroup(
        5, neuron_variables("pre"), threshold="pattern(t, i) > 0.5", reset="", namespace={"pattern": pattern}
    )
    post = NeuronGroup(
        3, "v : 1\n" + neuron_variables("post") + neuron_variables("readout"), threshold="v > 1", reset="v = 0"
    )
    if rule_kind == "dastdp":
        volume = DopamineVolume(tau_DA=5 * ms)
        volume.phasic_input(pre)
        rule = DASTDPSynapses(pre, post, volume, DASTDPParams(), on_pre="v_post += w", w0=0.5)
        objects = [*rule.objects, *volume.objects]
        duration = 150 * ms
    else:
        params = DASSDPParams(w_min=-1.0, w_max=1.0) if rule_kind == "whole" else DASSDPParams()
        rule = DASSDPSynapses(
            pre,
            post,
            10 * ms,
            params,
            warmup=3,
            loss=SpikeCountLoss(post, rng.integers(0, 3, 20)),
            on_pre="v_post += w",
            w0=0.5,
        )
        objects, duration = rule.objects, rule.duration(15)
    return Network(pre, post, *objects), duration


@pytest.mark.parametrize("rule_kind", ["split", "whole", "dastdp"])
def test_plain_networks_print_no_warning(brian2_warnings, rule_kind):
    from dassdp.models.targets import use_target

    with use_target("numpy"):
        network, duration = _network(rule_kind)
        network.run(duration)
    assert [r.getMessage()[:120] for r in brian2_warnings] == []


def test_other_warnings_stay_visible(brian2_warnings):
    from brian2 import Network, NeuronGroup, ms

    import dassdp.rules.brian2  # noqa: F401 - installs the filter
    from dassdp.models.targets import use_target

    with use_target("numpy"):
        group = NeuronGroup(3, "x : 1", threshold="x > 1")  # a threshold without reset: Brian2 warns
        Network(group).run(1 * ms)
    assert any("reset" in r.getMessage() for r in brian2_warnings)
