"""STTC, SPIKE-synchronization and ISI-distance: hand-computed cases, Elephant and PySpike."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dassdp.analysis.pairwise import isi_distance_matrix, spike_sync_matrix, sttc_matrix
from dassdp.analysis.spikes import from_arrays


def table(*trains):
    """Spike table of neurons 0..len(trains)-1 with the given spike times."""
    indices = np.concatenate([np.full(len(t), k) for k, t in enumerate(trains)]) if trains else []
    return from_arrays(indices, np.concatenate([np.asarray(t, float) for t in trains]))


def random_trains(seed, n=6, duration=2.0):
    rng = np.random.default_rng(seed)
    rates = rng.uniform(2, 30, n)
    trains = [np.sort(rng.uniform(0, duration, rng.poisson(r * duration))) for r in rates]
    # a partner of train 0 jittered by < 5 ms, so that coincidences occur
    trains[1] = np.sort(np.clip(trains[0] + rng.uniform(-0.004, 0.004, trains[0].size), 0, duration))
    return trains


# ---------------------------------------------------------------- STTC


def test_sttc_known_answers():
    a = [0.1, 0.3, 0.5]
    dt = 0.01
    m = sttc_matrix(table(a, a, np.add(a, 0.005), np.add(a, 0.03), [], [0.005]), 6, dt, 0.0, 1.0)
    assert m[0, 1] == pytest.approx(1.0)  # identical trains
    assert m[0, 2] == pytest.approx(1.0)  # shifted within dt: P = 1 on both sides
    assert m[0, 3] == pytest.approx(-0.06)  # shifted beyond dt: P = 0, T_a = T_b = 3 * 2 dt
    assert np.isnan(m[0, 4]) and np.isnan(m[4, 4])  # empty train
    # single spike 5 ms after t_start: T = (0.005 + 0.01) / 1; no coincidence with a
    assert m[0, 5] == pytest.approx(-0.5 * (0.06 + 0.015))
    np.testing.assert_allclose(np.diag(m)[[0, 1, 2, 3, 5]], 1.0)


def test_sttc_independent_poisson_is_near_zero():
    rng = np.random.default_rng(7)
    trains = [np.sort(rng.uniform(0, 50, rng.poisson(20 * 50))) for _ in range(20)]
    m = sttc_matrix(table(*trains), 20, 0.005, 0, 50)
    assert abs(m[np.triu_indices(20, 1)].mean()) < 0.01


def test_sttc_rejects_bad_input():
    with pytest.raises(ValueError, match="dt"):
        sttc_matrix(table([0.1]), 1, 0.0, 0, 1)
    with pytest.raises(ValueError, match="outside"):
        sttc_matrix(table([1.5]), 1, 0.01, 0, 1)
    with pytest.raises(ValueError, match="t_stop"):
        sttc_matrix(table([0.5]), 1, 0.01, 1, 1)


@pytest.mark.parametrize("seed", range(4))
def test_sttc_matches_elephant(seed):
    neo = pytest.importorskip("neo", reason="Elephant needs neo")
    pq = pytest.importorskip("quantities")
    sttc_elephant = pytest.importorskip("elephant.spike_train_correlation").spike_time_tiling_coefficient
    # Elephant compares with np.isclose(atol=dt) and its default rtol=1e-5, i.e. within
    # dt + 1e-5 |t| (<= dt + 0.02 ms here). Times on a 0.1 ms grid and dt = 5.05 ms keep every
    # distance 0.05 ms away from dt, so both definitions count the same spikes.
    trains = [np.unique(np.round(t, 4)) for t in random_trains(seed)] + [np.array([])]
    dt = 0.00505
    ours = sttc_matrix(table(*trains), len(trains), dt, 0.0, 2.0)
    neo_trains = [neo.SpikeTrain(t * pq.s, t_start=0 * pq.s, t_stop=2.0 * pq.s) for t in trains]
    for i in range(len(trains)):
        for j in range(len(trains)):
            expected = sttc_elephant(neo_trains[i], neo_trains[j], dt=dt * pq.s)
            np.testing.assert_allclose(ours[i, j], expected, rtol=0, atol=1e-9, err_msg=f"pair {i}, {j}")


trains_strategy = st.lists(st.lists(st.floats(0, 1, allow_nan=False), max_size=12, unique=True), min_size=2, max_size=5)


@settings(max_examples=60, deadline=None)
@given(trains=trains_strategy, dt=st.floats(1e-3, 0.2))
def test_sttc_symmetric_and_bounded(trains, dt):
    m = sttc_matrix(table(*trains), len(trains), dt, 0.0, 1.0)
    np.testing.assert_allclose(m, m.T, equal_nan=True)
    finite = m[np.isfinite(m)]
    assert ((finite >= -1 - 1e-12) & (finite <= 1 + 1e-12)).all()


# ---------------------------------------------------------------- SPIKE-synchronization


def test_spike_sync_known_answers():
    m = spike_sync_matrix(table([0.1, 0.5], [0.12, 0.9], [0.1, 0.5], [], [], [0.3]), 6, 0.0, 1.0)
    # 0.1 ~ 0.12 coincide (tau = 0.2); 0.5 and 0.9 have no partner within tau = 0.2
    assert m[0, 1] == pytest.approx(0.5)
    assert m[0, 2] == 1.0  # identical trains
    assert m[0, 3] == 0.0  # against an empty train
    assert m[3, 4] == 1.0  # two empty trains (PySpike's convention)
    # lone 0.3 vs 0.12: tau = min((t_stop - t_start) / 2, 0.78 / 2) = 0.39 > 0.18, so 2 of 3 spikes
    assert m[5, 1] == pytest.approx(2 / 3)
    np.testing.assert_allclose(np.diag(m), 1.0)


def test_spike_sync_needs_distance_strictly_below_tau():
    # tau = min(ISI 0.5 / 2, lone spike (t_stop - t_start) / 2) = 0.25 = |0.5 - 0.25|: not below
    assert spike_sync_matrix(table([0.25, 0.75], [0.5]), 2, 0.0, 1.0)[0, 1] == 0.0


def test_spike_sync_single_spikes():
    m = spike_sync_matrix(table([0.3], [0.32], [0.9]), 3, 0.0, 1.0)
    assert m[0, 1] == 1.0  # tau = (t_stop - t_start) / 2 for lone spikes
    assert m[0, 2] == 0.0  # 0.6 apart > 0.5


@settings(max_examples=60, deadline=None)
@given(trains=trains_strategy)
def test_spike_sync_symmetric_and_bounded(trains):
    m = spike_sync_matrix(table(*trains), len(trains), 0.0, 1.0)
    np.testing.assert_array_equal(m, m.T)
    assert ((m >= 0) & (m <= 1)).all()


# ---------------------------------------------------------------- ISI-distance


def test_isi_distance_known_answers():
    m = isi_distance_matrix(table([0.3], [0.2, 0.6], [], [0.2, 0.6]), 4, 0.0, 1.0)
    # [0, 0.3): nu = 0.3 vs 0.4 -> 0.25; [0.3, 1]: 0.7 vs 0.4 -> 3/7
    assert m[0, 1] == pytest.approx(0.3 * 0.25 + 0.7 * 3 / 7)
    # empty train: nu = 1 everywhere; single spike at 0.3: nu = 0.3 then 0.7
    assert m[0, 2] == pytest.approx(0.3 * 0.7 + 0.7 * 0.3)
    assert m[1, 3] == 0.0
    np.testing.assert_allclose(np.diag(m), 0.0)


@settings(max_examples=60, deadline=None)
@given(trains=trains_strategy)
def test_isi_distance_symmetric_and_bounded(trains):
    m = isi_distance_matrix(table(*trains), len(trains), 0.0, 1.0)
    np.testing.assert_allclose(m, m.T, atol=1e-12)
    assert ((m >= 0) & (m <= 1 + 1e-12)).all()


# ---------------------------------------------------------------- PySpike


@pytest.mark.parametrize("seed", range(4))
def test_spike_sync_and_isi_distance_match_pyspike(seed):
    spk = pytest.importorskip("pyspike", reason="PySpike is not installed")
    trains = random_trains(seed) + [np.array([]), np.array([0.7])]
    n = len(trains)
    spikes = table(*trains)
    sync = spike_sync_matrix(spikes, n, 0.0, 2.0)
    isi = isi_distance_matrix(spikes, n, 0.0, 2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sp_trains = [spk.SpikeTrain(t, edges=(0.0, 2.0)) for t in trains]
        for i in range(n):
            for j in range(i + 1, n):
                a, b = sp_trains[i], sp_trains[j]
                np.testing.assert_allclose(sync[i, j], spk.spike_sync(a, b), atol=1e-9, err_msg=f"sync {i},{j}")
                np.testing.assert_allclose(isi[i, j], spk.isi_distance(a, b), atol=1e-9, err_msg=f"isi {i},{j}")
