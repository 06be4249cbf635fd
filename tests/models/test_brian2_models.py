"""Brian2 templates against closed-form solutions, and the relay against its spike source."""

import numpy as np
import pytest
from brian2 import (
    Network,
    SpikeGeneratorGroup,
    SpikeMonitor,
    StateMonitor,
    defaultclock,
    ms,
    mV,
    nS,
    second,
)

from dassdp.models import conductance_lif, current_lif
from dassdp.models.dopamine import DopamineVolume
from dassdp.models.relay import relay
from dassdp.models.targets import use_target


@pytest.fixture(autouse=True)
def _numpy_target():
    with use_target("numpy"):
        defaultclock.dt = 0.1 * ms
        yield


def test_current_lif_matches_closed_form_below_threshold():
    model = current_lif(tau_m=20 * ms, v_threshold=100 * mV)
    group = model.group(1)
    group.I_ext = 15 * mV
    mon = StateMonitor(group, "v", record=0)
    Network(group, mon).run(50 * ms)
    t = mon.t / second
    expected = -0.070 + 0.015 * (1 - np.exp(-t / 0.020))  # recorded at the start of each step
    np.testing.assert_allclose(mon.v[0] / mV, expected * 1e3, rtol=1e-10)


def test_current_lif_fires_at_predicted_time():
    # v(t) = -70 + 25 (1 - exp(-t/20ms)) mV crosses -50 mV at t = 20 ms * ln(5)
    group = current_lif(tau_m=20 * ms, refractory=0 * ms).group(1)
    group.I_ext = 25 * mV
    spikes = SpikeMonitor(group)
    Network(group, spikes).run(40 * ms)
    t_cross = 0.020 * np.log(5.0)
    assert spikes.t[0] / second == pytest.approx(t_cross, abs=0.1e-3)


def test_conductance_lif_relaxes_to_conductance_weighted_reversal():
    model = conductance_lif(v_threshold=100 * mV, tau_e=1e6 * ms)
    group = model.group(1)
    group.g_e = 10 * nS  # effectively constant conductance
    mon = StateMonitor(group, "v", record=0)
    Network(group, mon).run(300 * ms)
    # quasi-steady state (membrane tau 10 ms): (g_L E_L + g_e E_e) / (g_L + g_e), g_e barely decayed
    g_e = 10 * np.exp(-0.3 / 1000.0)
    assert mon.v[0][-1] / mV == pytest.approx(10 * -60 / (10 + g_e), abs=5e-4)  # v lags g_e by ~10 ms


def test_dopamine_volume_tonic_decay_and_phasic_jumps():
    volume = DopamineVolume(tau_DA=50 * ms, DA_tonic=0.2, DA_phasic=1.0)
    volume.group.DA = 0.2
    source = SpikeGeneratorGroup(1, [0, 0], [10, 30] * ms)
    volume.phasic_input(source)
    mon = StateMonitor(volume.group, "DA", record=0, when="end", order=20)
    Network(source, *volume.objects, mon).run(60 * ms)
    t = mon.t / second + 1e-4  # after the end-slot decay the value belongs to t + dt

    def expected(t):
        out = 0.2
        for ts in (0.010, 0.030):
            out = out + np.where(t > ts + 1e-9, np.exp(-(t - ts) / 0.050), 0.0)
        return out

    np.testing.assert_allclose(mon.DA[0], expected(t), rtol=1e-10)


def test_relay_reproduces_spike_generator_times_exactly():
    rng = np.random.default_rng(3)
    idx = rng.integers(0, 7, size=80)
    times = np.sort(rng.choice(2000, size=80, replace=False)) * 0.1 * ms
    source = SpikeGeneratorGroup(7, idx, times)
    group, objects = relay(source)
    mon_src, mon_rel = SpikeMonitor(source), SpikeMonitor(group)
    Network(source, *objects, mon_src, mon_rel).run(200 * ms)
    np.testing.assert_array_equal(mon_rel.i[:], mon_src.i[:])
    np.testing.assert_array_equal(mon_rel.t[:], mon_src.t[:])


@pytest.mark.parametrize(
    "factory, kwargs, name",
    [
        (current_lif, {"tau_m": -1 * ms}, "tau_m"),
        (conductance_lif, {"tau_e": 0 * ms}, "tau_e"),
    ],
)
def test_bad_template_parameters(factory, kwargs, name):
    with pytest.raises(ValueError, match=name):
        factory(**kwargs)


def test_bad_volume_and_group_size():
    with pytest.raises(ValueError, match="tau_DA"):
        DopamineVolume(tau_DA=-1 * ms)
    with pytest.raises(ValueError, match="n must be"):
        current_lif().group(0)
    volume = DopamineVolume()
    with pytest.raises(ValueError, match="DA"):
        volume.deliver_to(current_lif().group(2))
