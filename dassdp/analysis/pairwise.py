"""All-pairs spike-train synchrony in continuous time: STTC, SPIKE-synchronization, ISI-distance.

Each function takes a spike table of one population (columns ``neuron``, ``time`` in seconds), the
population size N and the recording interval ``[t_start, t_stop]``, and returns an [N, N] matrix
(:func:`dassdp.analysis.synchrony.matrix_to_tidy` makes it tidy). The spike trains are kept as one
array sorted by (neuron, time); the work is vectorised over all spikes with ``np.searchsorted``
against one train at a time, so the Python loop runs over neurons, never over pairs or spikes.
``n_neurons`` must be an integer ``>= 0``, ``t_start < t_stop`` finite and ``dt`` finite and > 0
(TypeError or ValueError naming the argument).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dassdp.analysis.spikes import SpikeTrains
from dassdp.checks import check_positive

__all__ = ["isi_distance_matrix", "spike_sync_matrix", "sttc_matrix"]


def sttc_matrix(spikes: pd.DataFrame, n_neurons: int, dt: float, t_start: float, t_stop: float) -> np.ndarray:
    """Spike time tiling coefficient of all pairs (Cutts & Eglen 2014, J Neurosci 34:14288).

    ``STTC_ab = 1/2 [(P_a - T_b) / (1 - P_a T_b) + (P_b - T_a) / (1 - P_b T_a)]``, where ``P_a`` is
    the fraction of a's spikes within ``|t - s| <= dt`` of a spike of b, and ``T_a`` the fraction of
    ``[t_start, t_stop]`` covered by the union of ``[s - dt, s + dt]`` over a's spikes. A term whose
    ``P T`` is 1 is 0/0 and set to 1, as in the authors' C code and Elephant. NaN where a train is
    empty. Symmetric, in [-1, 1]; the diagonal is 1 for non-empty trains.
    """
    check_positive("dt", dt)
    trains = SpikeTrains.from_table(spikes, n_neurons)
    duration = trains.check_interval(t_start, t_stop)
    counts = trains.counts
    tiled = _tiled_fraction(trains, dt, t_start, t_stop) / duration
    near = np.empty((n_neurons, n_neurons))  # near[a, b]: a's spikes within dt of a spike of b
    for b in range(n_neurons):
        near[:, b] = trains.per_neuron(_nearest_distance(trains.times, trains.train(b)) <= dt)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = near / counts[:, None]
        pt = p * tiled[None, :]
        term = np.where(pt == 1.0, 1.0, (p - tiled[None, :]) / (1.0 - pt))
    result = 0.5 * (term + term.T)
    empty = counts == 0
    result[empty, :] = np.nan
    result[:, empty] = np.nan
    return result


def _nearest_distance(times: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Distance from each of ``times`` to the nearest spike of the sorted ``train`` (inf: none)."""
    if train.size == 0:
        return np.full(times.size, np.inf)
    right = np.searchsorted(train, times)
    after = train[np.minimum(right, train.size - 1)] - times
    before = times - train[np.maximum(right - 1, 0)]
    after[right == train.size] = np.inf
    before[right == 0] = np.inf
    return np.minimum(np.abs(after), np.abs(before))


def _tiled_fraction(trains: SpikeTrains, dt: float, t_start: float, t_stop: float) -> np.ndarray:
    """Time of ``[t_start, t_stop]`` within ``dt`` of a spike of n (0 for an empty train).

    The union of the intervals is ``sum of min(ISI, 2 dt)`` plus ``min(first - t_start, dt)`` and
    ``min(t_stop - last, dt)``.
    """
    _, after = trains.isi_before_after()
    inner = trains.per_neuron(np.where(np.isfinite(after), np.minimum(after, 2 * dt), 0.0))
    has = trains.counts > 0
    first = trains.times[trains.starts[:-1][has]]
    last = trains.times[trains.starts[1:][has] - 1]
    edges = np.zeros(trains.n)
    edges[has] = np.minimum(first - t_start, dt) + np.minimum(t_stop - last, dt)
    return inner + edges


def spike_sync_matrix(spikes: pd.DataFrame, n_neurons: int, t_start: float, t_stop: float) -> np.ndarray:
    """SPIKE-synchronization of all pairs (Kreuz, Mulansky, Bozanic 2015, J Neurophysiol 113:3432).

    A spike x of train a and its nearest preceding (or following) spike y of train b are
    coincident if ``|x - y| < tau``, with ``tau = 1/2 min(ISIs before and after x in a, ISIs before
    and after y in b)``; a missing ISI (first or last spike) counts as ``t_stop - t_start``, as in
    PySpike (no ``max_tau``, no MRTS). ``SYNC_ab = (C_ab + C_ba) / (n_a + n_b)`` with ``C_ab`` the
    number of coincident spikes of a. Two empty trains give 1 (PySpike's convention); the diagonal
    is 1. Symmetric, in [0, 1].
    """
    trains = SpikeTrains.from_table(spikes, n_neurons)
    cap = trains.check_interval(t_start, t_stop)
    before, after = trains.isi_before_after()
    half_isi = 0.5 * np.minimum(np.minimum(before, after), cap)  # own half-ISI bound of each spike
    coincident = np.empty((n_neurons, n_neurons))  # coincident[a, b] = C_ab
    for b in range(n_neurons):
        lo, hi = trains.starts[b], trains.starts[b + 1]
        hit = np.zeros(trains.times.size, dtype=bool)
        if hi > lo:
            train, bound = trains.times[lo:hi], half_isi[lo:hi]
            right = np.searchsorted(train, trains.times, side="right")
            for candidate, valid in ((right - 1, right > 0), (right, right < train.size)):
                k = np.clip(candidate, 0, train.size - 1)
                tau = np.minimum(half_isi, bound[k])
                hit |= valid & (np.abs(trains.times - train[k]) < tau)
        coincident[:, b] = trains.per_neuron(hit)
    total = trains.counts[:, None] + trains.counts[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        result = np.where(total > 0, (coincident + coincident.T) / total, 1.0)
    np.fill_diagonal(result, 1.0)
    return result


def isi_distance_matrix(spikes: pd.DataFrame, n_neurons: int, t_start: float, t_stop: float) -> np.ndarray:
    """ISI-distance of all pairs (Kreuz, Haas, Morelli, Abarbanel, Politi 2007, J Neurosci Methods
    165:151): ``D_ab = 1/(t_stop - t_start) int |nu_a(t) - nu_b(t)| / max(nu_a(t), nu_b(t)) dt``.

    ``nu_n(t)`` is the inter-spike interval of n containing t, with PySpike's edge corrections:
    before the first spike ``max(first - t_start, ISI_1)``, after the last ``max(t_stop - last,
    ISI_last)``; a single spike gives ``first - t_start`` and ``t_stop - first``; an empty train
    ``t_stop - t_start``. Symmetric, in [0, 1], zero diagonal. Cost O(N^2 K) for K distinct spike
    times (the profiles are evaluated on the common grid of all spike times).
    """
    trains = SpikeTrains.from_table(spikes, n_neurons)
    duration = trains.check_interval(t_start, t_stop)
    grid = np.unique(np.concatenate(([t_start, t_stop], trains.times)))
    length = np.diff(grid)
    profiles = np.stack([_isi_profile(trains.train(n), t_start, t_stop, grid[:-1]) for n in range(n_neurons)])
    result = np.empty((n_neurons, n_neurons))
    for a in range(n_neurons):
        result[a] = (np.abs(profiles - profiles[a]) / np.maximum(profiles, profiles[a])) @ length
    return result / duration


def _isi_profile(train: np.ndarray, t0: float, t1: float, left: np.ndarray) -> np.ndarray:
    """``nu`` of one sorted train on the grid intervals starting at ``left`` (PySpike's edges)."""
    if train.size == 0:
        return np.full(left.size, t1 - t0)
    # interval k of the train: [t0, s_0), [s_0, s_1), ..., [s_{n-1}, t1]
    edges = np.concatenate(([t0], train, [t1]))
    isi = np.diff(edges)
    if train.size > 1:
        isi[0] = max(isi[0], isi[1])
        isi[-1] = max(isi[-1], isi[-2])
    return isi[np.searchsorted(edges, left, side="right") - 1]
