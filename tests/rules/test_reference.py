"""Properties of the NumPy DA-SSDP reference (the oracle) against hand computations and SciPy."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from dassdp.rules import reference as ref

rasters = st.tuples(st.integers(1, 6), st.integers(1, 4), st.integers(1, 5)).flatmap(
    lambda shape: arrays(np.int8, shape, elements=st.integers(0, 1))
)


@given(rasters)
def test_raster_latency_first_last_and_silent(spikes):
    n_steps = spikes.shape[0]
    first = ref.activity_from_raster(spikes, "first")
    last = ref.activity_from_raster(spikes, "last")
    for b in range(spikes.shape[1]):
        for n in range(spikes.shape[2]):
            steps = [t for t in range(n_steps) if spikes[t, b, n]]
            assert first.fired[b, n] == (1.0 if steps else 0.0)
            assert first.latency[b, n] == (steps[0] if steps else n_steps)
            assert last.latency[b, n] == (steps[-1] if steps else n_steps)


@given(rasters, st.sampled_from(["first", "last"]))
def test_spike_times_agree_with_raster_form(spikes, latency):
    """The continuous-time path (windows of T steps, dt = 1 ms) equals the discrete one."""
    n_steps, n_windows, n = spikes.shape
    window_idx, step, neuron = np.nonzero(np.transpose(spikes, (1, 0, 2)))
    times = (window_idx * n_steps + step) * 1e-3
    timed = ref.activity_from_spike_times(neuron, times, n, n_steps * 1e-3, n_windows, dt=1e-3, latency=latency)
    raster = ref.activity_from_raster(spikes, latency)
    np.testing.assert_array_equal(timed.fired, raster.fired)
    np.testing.assert_allclose(timed.latency, raster.latency * 1e-3, rtol=0, atol=1e-15)


def test_spike_on_window_edge_opens_the_next_window():
    act = ref.activity_from_spike_times([0, 0, 1], [0.0, 0.005, 0.009], 2, 0.005, 2, dt=0.001)
    np.testing.assert_array_equal(act.fired, [[1, 0], [1, 1]])
    np.testing.assert_allclose(act.latency, [[0.0, 0.005], [0.0, 0.004]])


def test_eligibility_hand_computed():
    # one sample: pre 0 fired at step 1, pre 1 silent; post 0 fired at step 2, T = 4, sigma = 1
    pre = ref.WindowActivity(np.array([[1.0, 0.0]]), np.array([[1.0, 4.0]]), 4.0)
    post = ref.WindowActivity(np.array([[1.0]]), np.array([[2.0]]), 4.0)
    e = ref.eligibility(pre, post, sigma=1.0, a_plus=2.0, a_base=0.5)
    assert e[0, 0, 0] == pytest.approx(2.0 * math.exp(-0.5))  # synchronous: +A_plus K(1)
    assert e[0, 0, 1] == pytest.approx(-0.5 * math.exp(-2.0))  # post fired, pre silent: -A_base K(2)
    assert ref.sample_synchrony(pre, post)[0] == pytest.approx(0.5)


def _loop_eligibility_mean(pre, post, sigma, a_plus, a_base):
    """Independent triple loop over samples and synapses with math.exp."""
    n_b, n_post, n_pre = pre.fired.shape[0], post.fired.shape[1], pre.fired.shape[1]
    out = np.zeros((n_post, n_pre))
    for b in range(n_b):
        for j in range(n_post):
            for i in range(n_pre):
                k = math.exp(-((post.latency[b, j] - pre.latency[b, i]) ** 2) / (2 * sigma**2))
                sync = pre.fired[b, i] * post.fired[b, j]
                out[j, i] += (a_plus * k if sync else -a_base * k) / n_b
    return out


@settings(max_examples=30, deadline=None)
@given(rasters, st.sampled_from(["first", "last"]), st.floats(0.3, 3.0))
def test_gate_off_reduces_to_two_factor_rule(spikes, latency, sigma):
    pre = ref.activity_from_raster(spikes, latency)
    post = ref.activity_from_raster(spikes[:, :, ::-1], latency)
    e = ref.eligibility(pre, post, sigma)
    g = ref.gate_values(ref.sample_synchrony(pre, post), None, "off")
    np.testing.assert_array_equal(g, 1.0)
    expected = _loop_eligibility_mean(pre, post, sigma, ref.A_PLUS, ref.A_BASE)
    np.testing.assert_allclose(ref.weight_update(e, g), expected, rtol=1e-12, atol=1e-18)


@given(arrays(np.float64, st.integers(3, 40), elements=st.floats(0, 1)), st.integers(0, 2**31))
def test_k_is_minus_pearson_correlation(s_values, seed):
    loss = np.random.default_rng(seed).normal(size=s_values.size) + 3 * s_values
    assume(s_values.std() > 1e-3 and loss.std() > 1e-3)
    gate = ref.fit_gate(s_values, loss)
    assert gate.k == pytest.approx(-stats.pearsonr(s_values, loss)[0], rel=1e-5, abs=1e-6)
    assert gate.mu == pytest.approx(s_values.mean())
    assert gate.s == pytest.approx(s_values.std(ddof=0) + 1e-8)


@given(arrays(np.float64, 8, elements=st.floats(0, 1)), st.floats(-3, 3), st.floats(0, 1), st.floats(1e-3, 1))
def test_gate_modes(s_values, k, mu, s):
    gate = ref.Gate(k=k, mu=mu, s=s)
    g = ref.gate_values(s_values, gate, "continuous")
    expected = [min(2.0, max(0.0, 1 + k * (x - mu) / s)) for x in s_values]
    np.testing.assert_allclose(g, expected, rtol=1e-12)
    sign = ref.gate_values(s_values, gate, "sign", tol=1e-6)
    assert set(np.unique(sign)) <= {-1.0, 1.0}
    np.testing.assert_array_equal(sign, 1.0 if abs(k) < 1e-6 else math.copysign(1.0, k))


def test_sign_gate_is_one_below_tolerance():
    gate = ref.Gate(k=-1e-9, mu=0.0, s=1.0)
    np.testing.assert_array_equal(ref.gate_values(np.array([0.3]), gate, "sign", tol=1e-6), [1.0])
    np.testing.assert_array_equal(ref.gate_values(np.array([0.3]), gate, "sign", tol=1e-12), [-1.0])


@given(arrays(np.float64, (3, 2, 4), elements=st.floats(-5, 5)), st.floats(0.01, 2))
def test_update_clipping(e, clip):
    g = np.array([0.5, 1.0, 2.0])
    dw = ref.weight_update(e, g, clip)
    raw = (0.5 * e[0] + e[1] + 2.0 * e[2]) / 3
    np.testing.assert_allclose(dw, np.minimum(clip, np.maximum(-clip, raw)), rtol=1e-12)
    assert np.all(np.abs(dw) <= clip)


def test_masked_synchrony_counts_existing_synapses_only():
    pre = ref.WindowActivity(np.array([[1.0, 0.0, 1.0]]), np.zeros((1, 3)), 1.0)
    post = ref.WindowActivity(np.array([[1.0, 1.0]]), np.zeros((1, 2)), 1.0)
    mask = np.array([[1, 1, 0], [0, 0, 1]])
    # synapses (0,0) sync, (0,1) not, (1,2) sync -> 2 / 3
    assert ref.sample_synchrony(pre, post, mask)[0] == pytest.approx(2 / 3)
    assert ref.sample_synchrony(pre, post, np.ones((2, 3)))[0] == pytest.approx(ref.sample_synchrony(pre, post)[0])


def test_simulate_applies_nothing_during_warmup_and_drops_incomplete_batch():
    rng = np.random.default_rng(1)
    spikes = rng.integers(0, 2, size=(4, 9, 3))
    pre = ref.activity_from_raster(spikes)
    post = ref.activity_from_raster(spikes[:, :, :2])
    res = ref.simulate_dassdp(pre, post, rng.normal(size=9), np.zeros((2, 3)), ref.DASSDPParams(), warmup=4, batch=2)
    assert len(res.updates) == 2  # windows 4-5 and 6-7; window 8 is an incomplete batch
    assert np.all(np.isnan(res.gate_values[:4]))
    e = ref.eligibility(pre, post, 1.0)
    g = res.gate_values
    expected = sum(ref.weight_update(e[a : a + 2], g[a : a + 2]) for a in (4, 6))
    np.testing.assert_allclose(res.weights, expected, rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"sigma": -1.0}, "sigma"),
        ({"gate": "sigmoid"}, "gate"),
        ({"latency": "middle"}, "latency"),
        ({"clip": 0.0}, "clip"),
        ({"gate_fit": "robust"}, "gate_fit"),
        ({"w_min": 1.0, "w_max": -1.0}, "w_min"),
    ],
)
def test_bad_parameters_name_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ref.DASSDPParams(**kwargs)


@pytest.mark.parametrize("warmup, batch, name", [(3, 0, "batch"), (1, 1, "warmup"), (-1, 1, "warmup")])
def test_bad_window_settings_name_the_setting(warmup, batch, name):
    act = ref.activity_from_raster(np.ones((2, 3, 2)))
    with pytest.raises(ValueError, match=name):
        ref.simulate_dassdp(act, act, np.zeros(3), np.zeros((2, 2)), ref.DASSDPParams(), warmup=warmup, batch=batch)


def test_warmup_longer_than_run_is_an_error():
    act = ref.activity_from_raster(np.ones((2, 3, 2)))
    with pytest.raises(ValueError, match="warmup"):
        ref.simulate_dassdp(act, act, np.zeros(3), np.zeros((2, 2)), ref.DASSDPParams(), warmup=5)


def test_bad_window_and_indices():
    with pytest.raises(ValueError, match="window"):
        ref.activity_from_spike_times([0], [0.0], 1, -1.0, 1)
    with pytest.raises(ValueError, match="integer multiple"):
        ref.activity_from_spike_times([0], [0.0], 1, 0.0025, 1, dt=0.001)
    with pytest.raises(ValueError, match="indices"):
        ref.activity_from_spike_times([3], [0.0], 2, 0.001, 1)


def test_window_activity_hand_computed():
    # window 0: neuron 0 at 3 and 1, neuron 1 at 2; window 1: neuron 1 at 0; T = 4
    act = ref.window_activity([0, 0, 0, 1], [0, 1, 0, 1], [3.0, 2.0, 1.0, 0.0], 2, 3, 4.0, "first")
    np.testing.assert_array_equal(act.fired, [[1, 1, 0], [0, 1, 0]])
    np.testing.assert_array_equal(act.latency, [[1.0, 2.0, 4.0], [4.0, 0.0, 4.0]])
    last = ref.window_activity([0, 0, 0, 1], [0, 1, 0, 1], [3.0, 2.0, 1.0, 0.0], 2, 3, 4.0, "last")
    np.testing.assert_array_equal(last.latency, [[3.0, 2.0, 4.0], [4.0, 0.0, 4.0]])
    with pytest.raises(ValueError, match="window indices"):
        ref.window_activity([2], [0], [0.0], 2, 3, 4.0)
    with pytest.raises(ValueError, match="neuron indices"):
        ref.window_activity([0], [-1], [0.0], 2, 3, 4.0)


def test_synchrony_takes_fired_flags_and_checks_the_mask_shape():
    pre = ref.WindowActivity(np.array([[1.0, 0.0, 1.0]]), np.zeros((1, 3)), 1.0)
    post = ref.WindowActivity(np.array([[1.0, 1.0]]), np.zeros((1, 2)), 1.0)
    mask = np.array([[1, 1, 0], [0, 0, 1]])
    flags = ref.sample_synchrony(pre.fired.astype(bool), post.fired.astype(bool), mask)
    np.testing.assert_array_equal(flags, ref.sample_synchrony(pre, post, mask))
    with pytest.raises(ValueError, match=r"mask must have shape \(n_post, n_pre\) = \(2, 3\), got \(3, 2\)"):
        ref.sample_synchrony(pre, post, mask.T)
    with pytest.raises(ValueError, match="windows"):
        ref.sample_synchrony(pre, np.ones((2, 2)))
    assert np.isnan(ref.sample_synchrony(pre, post, np.zeros((2, 3)))[0])  # no synapse: S undefined
