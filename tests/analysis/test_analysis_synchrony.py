"""Window statistics: S, fired fraction, latencies, co-firing, count correlation, Fano factor."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dassdp.analysis.spikes import assign_windows, from_arrays
from dassdp.analysis.synchrony import (
    coincidence_matrix,
    count_correlation,
    fano_factor,
    fired_fraction,
    fired_matrix,
    first_spike_latencies,
    latency_matrix,
    matrix_to_tidy,
    mean_coincidence,
    sample_synchrony,
    spike_counts,
    synchrony_series,
)

WINDOW = 0.05


@pytest.fixture
def two_layers():
    """Window 0: pre {0}, post {0, 1}; window 1: pre {0, 1}, post none (window length 50 ms)."""
    pre = from_arrays([0, 0, 0, 1], [0.01, 0.03, 0.06, 0.07], population="pre")
    post = from_arrays([1, 0], [0.02, 0.04], population="post")
    return assign_windows(pd.concat([pre, post], ignore_index=True), WINDOW, n_windows=2)


def naive_synchrony(pre, post, mask):
    """S by explicit loops over synapses (the definition, written out); ``mask[j, i]`` marks the
    synapse from pre i to post j."""
    values = []
    for w in range(pre.shape[0]):
        pairs = [pre[w, i] * post[w, j] for i in range(pre.shape[1]) for j in range(post.shape[1]) if mask[j, i]]
        values.append(np.mean(pairs) if pairs else np.nan)
    return np.array(values)


def test_synchrony_hand_values(two_layers):
    series = synchrony_series(two_layers, [("pre", "post")], {"pre": 2, "post": 3})
    np.testing.assert_allclose(series["synchrony"], [1 / 2 * 2 / 3, 0.0])
    mask = np.zeros((3, 2), bool)  # (post, pre): synapses pre 0 -> post 0, 0 -> 2, 1 -> 1
    mask[0, 0] = mask[2, 0] = mask[1, 1] = True
    masked = synchrony_series(two_layers, [("pre", "post")], {"pre": 2, "post": 3}, masks={("pre", "post"): mask})
    np.testing.assert_allclose(masked["synchrony"], [1 / 3, 0.0])


@settings(max_examples=60, deadline=None)
@given(
    pre=arrays(bool, st.tuples(st.integers(1, 4), st.integers(1, 5))),
    data=st.data(),
)
def test_synchrony_matches_definition_and_lies_in_unit_interval(pre, data):
    post = data.draw(arrays(bool, (pre.shape[0], data.draw(st.integers(1, 5)))))
    mask = data.draw(arrays(bool, (post.shape[1], pre.shape[1])))
    s = sample_synchrony(pre, post, mask)
    np.testing.assert_allclose(s, naive_synchrony(pre, post, mask), rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        sample_synchrony(pre, post),
        naive_synchrony(pre, post, np.ones(mask.shape, bool)),
        atol=1e-12,
    )
    finite = s[np.isfinite(s)]
    assert ((finite >= 0) & (finite <= 1)).all()


def test_synchrony_rejects_bad_shapes():
    with pytest.raises(ValueError, match="windows"):
        sample_synchrony(np.ones((2, 3)), np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"mask must have shape \(n_post, n_pre\) = \(4, 3\)"):
        sample_synchrony(np.ones((2, 3)), np.ones((2, 4)), np.ones((3, 4)))


def test_fired_fraction_and_counts(two_layers):
    table = fired_fraction(two_layers, {"pre": 2, "post": 4})
    got = table.set_index(["population", "window"])["fired_fraction"]
    assert got[("pre", 0)] == 0.5 and got[("pre", 1)] == 1.0
    assert got[("post", 0)] == 0.5 and got[("post", 1)] == 0.0
    counts = spike_counts(two_layers[two_layers.population == "pre"], 2)
    np.testing.assert_array_equal(counts, [[2, 0], [1, 1]])
    with pytest.raises(ValueError, match="n_neurons=1"):
        fired_matrix(two_layers[two_layers.population == "pre"], 1)


def test_latencies_first_last_and_silent(two_layers):
    pre = two_layers[two_layers.population == "pre"]
    np.testing.assert_allclose(latency_matrix(pre, 3), [[0.01, WINDOW, WINDOW], [0.01, 0.02, WINDOW]])
    np.testing.assert_allclose(latency_matrix(pre, 2, which="last"), [[0.03, WINDOW], [0.01, 0.02]])
    dist = first_spike_latencies(two_layers)
    assert len(dist) == 5  # (pre, w0, n0), (pre, w1, n0), (pre, w1, n1), (post, w0, n0), (post, w0, n1)
    np.testing.assert_allclose(dist.set_index(["population", "window", "neuron"]).loc[("pre", 0, 0), "latency"], 0.01)
    with pytest.raises(ValueError, match="which"):
        latency_matrix(pre, 2, which="middle")


def test_latency_distribution_last_and_empty(two_layers):
    last = first_spike_latencies(two_layers, which="last").set_index(["population", "window", "neuron"])
    assert last.loc[("pre", 0, 0), "latency"] == pytest.approx(0.03)  # spikes at 10 and 30 ms
    assert last.loc[("post", 0, 1), "latency"] == pytest.approx(0.02)
    empty = first_spike_latencies(two_layers.iloc[:0])
    assert len(empty) == 0 and list(empty.columns) == ["population", "window", "neuron", "latency"]
    with pytest.raises(ValueError, match="window length"):
        first_spike_latencies(from_arrays([0], [0.01]).assign(window=0, latency=0.01))


def test_coincidence_identical_and_disjoint_neurons():
    fired = np.array([[1, 1, 0], [0, 0, 1], [1, 1, 0], [0, 0, 0]], bool)
    c = coincidence_matrix(fired)
    assert c[0, 1] == 0.5 and c[0, 2] == 0.0 and c[2, 2] == 0.25
    assert mean_coincidence(fired) == pytest.approx((0.5 * 2) / 6)
    assert np.isnan(mean_coincidence(fired[:, :1]))


def test_count_correlation_against_pandas_and_known_cases():
    rng = np.random.default_rng(1)
    counts = rng.poisson(3.0, size=(200, 5))
    counts[:, 1] = counts[:, 0]  # identical neurons
    counts[:, 4] = 2  # constant count
    rho = count_correlation(counts)
    expected = pd.DataFrame(counts).corr().to_numpy()
    np.testing.assert_allclose(rho[:4, :4], expected[:4, :4], atol=1e-12)
    assert rho[0, 1] == pytest.approx(1.0)
    assert np.isnan(rho[4, 0]) and np.isnan(rho[4, 4])
    with pytest.raises(ValueError, match="2 windows"):
        count_correlation(counts[:1])


def test_fano_factor_poisson_regular_and_silent():
    rng = np.random.default_rng(2)
    counts = np.column_stack([rng.poisson(4.0, 20_000), np.full(20_000, 3), np.zeros(20_000)])
    fano = fano_factor(counts)
    assert fano[0] == pytest.approx(1.0, abs=0.05)
    assert fano[1] == 0.0
    assert np.isnan(fano[2])


def test_poisson_windows_end_to_end():
    """Independent Poisson neurons: fired fraction = 1 - exp(-rate * window), S = its square."""
    rng = np.random.default_rng(3)
    n, windows, rate = 200, 400, 20.0
    times = rng.uniform(0, windows * WINDOW, rng.poisson(rate * n * windows * WINDOW))
    table = assign_windows(from_arrays(rng.integers(0, n, times.size), times), WINDOW, n_windows=windows)
    p = 1 - np.exp(-rate * WINDOW)
    fired = fired_matrix(table, n)
    assert fired.mean() == pytest.approx(p, abs=0.01)
    assert sample_synchrony(fired, fired).mean() == pytest.approx(p**2, abs=0.01)
    assert abs(np.nanmean(matrix_to_tidy(count_correlation(spike_counts(table, n)), "rho")["rho"])) < 0.01


def test_matrix_to_tidy():
    m = np.arange(9.0).reshape(3, 3)
    tidy = matrix_to_tidy(m, "v")
    assert tidy.values.tolist() == [[0, 1, 1], [0, 2, 2], [1, 2, 5]]
    assert len(matrix_to_tidy(m, "v", diagonal=True)) == 6
