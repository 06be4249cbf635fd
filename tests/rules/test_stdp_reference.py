"""Pair-based STDP and NEST-style DA-STDP references against hand computations and quadrature."""

import math

import numpy as np
import pytest
from scipy import integrate

from dassdp.rules import reference as ref


def test_dastdp_matches_quadrature_of_nest_closed_form():
    """One causal pair then one dopamine spike: w(T) = w0 + int c(t) (n(t) - b) dt, by quad."""
    p = ref.DASTDPParams(tau_c=0.1, tau_n=0.05, tau_plus=0.02, a_plus=1.0, b=2.0)
    t_pre, t_post, t_da, t_end = 0.010, 0.015, 0.030, 0.200
    c_jump = p.a_plus * math.exp(-(t_post - t_pre) / p.tau_plus)

    def c(t):
        return c_jump * math.exp(-(t - t_post) / p.tau_c) if t >= t_post else 0.0

    def n(t):
        return math.exp(-(t - t_da) / p.tau_n) / p.tau_n if t >= t_da else 0.0

    integral = sum(
        integrate.quad(lambda t: c(t) * (n(t) - p.b), a, b_, epsabs=1e-14, epsrel=1e-13)[0]
        for a, b_ in [(t_post, t_da), (t_da, t_end)]
    )
    out = ref.dastdp_weight([t_pre], [t_post], [t_da], w0=50.0, t_end=t_end, params=p)
    assert out["w"] == pytest.approx(50.0 + integral, rel=1e-10)
    assert out["c"] == pytest.approx(c(t_end), rel=1e-12)
    assert out["n"] == pytest.approx(n(t_end), rel=1e-12)


def test_dastdp_interval_is_nest_update_weight():
    """NEST: w -= c0 * (n0 / taus * expm1(taus * minus_dt) - b * tau_c * expm1(minus_dt / tau_c))."""
    p = ref.DASTDPParams(tau_c=0.2, tau_n=0.1, b=0.3)
    c0, n0, d = 0.7, 4.0, 0.037
    taus = (p.tau_c + p.tau_n) / (p.tau_c * p.tau_n)
    nest = -c0 * (n0 / taus * math.expm1(taus * -d) - p.b * p.tau_c * math.expm1(-d / p.tau_c))
    assert ref.dastdp_interval(c0, n0, d, p) == pytest.approx(nest, rel=1e-14)


def test_dastdp_depression_and_clipping():
    p = ref.DASTDPParams(tau_minus=0.01, a_minus=2.0, w_min=0.0, w_max=1.0)
    # post before pre: c = -a_minus exp(-5ms / 10ms); with dopamine the weight falls to w_min
    out = ref.dastdp_weight([0.005], [0.0], [0.006] * 50, w0=0.5, t_end=1.0, params=p)
    assert out["w"] == 0.0
    assert out["c"] == pytest.approx(-2.0 * math.exp(-0.5) * math.exp(-(1.0 - 0.005) / p.tau_c))


def test_stdp_all_to_all_hand_computed():
    p = ref.STDPParams(tau_plus=0.02, tau_minus=0.02, a_plus=0.01, a_minus=-0.012, w_max=10.0)
    pre, post = [0.0, 0.010], [0.005, 0.030]
    dw = 0.0
    for tp in pre:
        for tq in post:
            d = tq - tp
            dw += p.a_plus * math.exp(-d / p.tau_plus) if d >= 0 else p.a_minus * math.exp(d / p.tau_minus)
    assert ref.stdp_weight(pre, post, 1.0, p) == pytest.approx(1.0 + dw, rel=1e-12)


def test_stdp_nearest_spike_pairs_only_with_the_latest_spike():
    p = ref.STDPParams(tau_plus=0.02, a_plus=0.01, a_minus=-0.012, w_max=10.0, pairing="nearest")
    # two pre spikes then one post: only the later pre (5 ms before) potentiates
    w = ref.stdp_weight([0.0, 0.010], [0.015], 1.0, p)
    assert w == pytest.approx(1.0 + 0.01 * math.exp(-0.005 / 0.02), rel=1e-12)


def test_simultaneous_pair_counts_by_same_step():
    """A pair at equal times: the mean of the two branches at zero delay (balanced), or A_plus
    (causal, Brian2's example order); pairs at different times are unaffected."""
    balanced = ref.STDPParams(a_plus=0.01, a_minus=-0.012, w_max=10.0)
    causal = ref.STDPParams(a_plus=0.01, a_minus=-0.012, w_max=10.0, same_step="causal")
    assert ref.stdp_weight([0.01], [0.01], 1.0, balanced) == pytest.approx(1.0 - 0.001, rel=1e-12)
    assert ref.stdp_weight([0.01], [0.01], 1.0, causal) == pytest.approx(1.01, rel=1e-12)
    for p in (balanced, causal):
        assert ref.stdp_weight([0.01], [0.011], 1.0, p) == pytest.approx(
            1.0 + 0.01 * math.exp(-0.001 / 0.02), rel=1e-12
        )


def test_balanced_same_step_cancels_for_regular_firing():
    """Pre and post both firing every step of a grid with a symmetric window: the causal order
    gains about one A_plus per pre spike, the balanced one nothing (away from the edges)."""
    steps = np.arange(200) * 1e-3
    kw = dict(tau_plus=2e-3, tau_minus=2e-3, a_plus=1e-3, a_minus=-1e-3, w_min=-10.0, w_max=10.0)
    balanced = ref.stdp_weight(steps, steps, 0.0, ref.STDPParams(**kw))
    causal = ref.stdp_weight(steps, steps, 0.0, ref.STDPParams(**kw, same_step="causal"))
    assert abs(balanced) < 1e-12
    assert causal == pytest.approx(200 * 1e-3, rel=1e-9)


def test_dastdp_same_step_pair_sets_eligibility():
    kw = dict(tau_plus=0.02, tau_minus=0.02, a_plus=1.0, a_minus=1.5)
    for same_step, expected in (("balanced", (1.0 - 1.5) / 2), ("causal", 1.0)):
        out = ref.dastdp_weight([0.01], [0.01], [], 0.0, 0.01, ref.DASTDPParams(**kw, same_step=same_step))
        assert out["c"] == pytest.approx(expected, rel=1e-12)


def test_stdp_weight_is_clipped():
    p = ref.STDPParams(a_plus=0.5, w_max=1.0)
    assert ref.stdp_weight(np.arange(5) * 0.01, np.arange(5) * 0.01 + 0.001, 0.9, p) == 1.0


@pytest.mark.parametrize(
    "cls, kwargs, name",
    [
        (ref.STDPParams, {"tau_plus": 0.0}, "tau_plus"),
        (ref.STDPParams, {"pairing": "triplet"}, "pairing"),
        (ref.STDPParams, {"same_step": "first"}, "same_step"),
        (ref.DASTDPParams, {"same_step": "post"}, "same_step"),
        (ref.DASTDPParams, {"tau_n": -1.0}, "tau_n"),
        (ref.DASTDPParams, {"w_min": 2.0, "w_max": 1.0}, "w_min"),
    ],
)
def test_bad_parameters(cls, kwargs, name):
    with pytest.raises(ValueError, match=name):
        cls(**kwargs)
