"""Population synchrony: Golomb's chi from membrane potentials and the Kuramoto order parameter
from spike phases. Non-numeric arguments raise TypeError, NaN or infinite ones ValueError, naming them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dassdp.analysis.spikes import SpikeTrains

__all__ = ["golomb_chi", "kuramoto_order"]


def golomb_chi(potentials: np.ndarray) -> np.ndarray:
    """Golomb's synchrony measure ``chi`` from membrane potentials of shape [..., T, N].

    ``chi^2 = sigma_V^2 / ((1/N) sum_i sigma_{V_i}^2)`` with ``V(t) = (1/N) sum_i V_i(t)`` and
    ``sigma^2`` the variance over time (Golomb 2007, Scholarpedia 2(1):1347; Golomb & Rinzel 1993).
    ``chi`` is 1 for identical traces and about ``1/sqrt(N)`` for independent ones. Leading axes
    (trials, windows) are kept; NaN where every trace is constant.
    """
    try:
        v = np.asarray(potentials, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"golomb_chi: potentials must be a numeric array, got {type(potentials).__name__}") from None
    if v.ndim < 2 or v.shape[-2] < 2 or v.shape[-1] < 1:
        raise ValueError(f"golomb_chi: expected [..., T >= 2, N >= 1] potentials, got {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError("golomb_chi: potentials contain NaN or infinite values")
    population = v.mean(axis=-1).var(axis=-1)
    single = v.var(axis=-2).mean(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(np.where(single > 0, population / single, np.nan))


def kuramoto_order(spikes: pd.DataFrame, n_neurons: int, times: np.ndarray) -> pd.DataFrame:
    """Kuramoto order parameter ``R(t) = |(1/N_t) sum_n exp(i phi_n(t))|`` at the given times.

    The phase grows linearly by 2 pi between consecutive spikes of a neuron,
    ``phi_n(t) = 2 pi (t - t_{n,k}) / (t_{n,k+1} - t_{n,k})`` for ``t_{n,k} <= t < t_{n,k+1}``
    (Pikovsky, Rosenblum & Kurths 2001, *Synchronization*, sec. 3; Kuramoto 1984). Only the
    ``N_t`` neurons whose phase is defined at t (between their first and last spike) count.
    Returns columns ``time, order_parameter, n_defined``; R is NaN where no phase is defined.
    """
    try:
        times = np.asarray(times, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"kuramoto_order: times must be numbers (seconds), got {type(times).__name__}") from None
    if times.ndim > 1:
        raise ValueError(f"kuramoto_order: times must be a 1-d array, got shape {times.shape}")
    if not np.isfinite(times).all():
        raise ValueError("kuramoto_order: times contain NaN or infinite values")
    times = np.atleast_1d(times)
    trains = SpikeTrains.from_table(spikes, n_neurons)
    total = np.zeros(times.size, dtype=complex)
    defined = np.zeros(times.size, dtype=np.int64)
    for n in range(n_neurons):
        train = trains.train(n)
        k = np.searchsorted(train, times, side="right") - 1
        ok = (k >= 0) & (k < train.size - 1)
        k = k[ok]
        phase = 2 * np.pi * (times[ok] - train[k]) / (train[k + 1] - train[k])
        total[ok] += np.exp(1j * phase)
        defined += ok
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.abs(total) / defined
    return pd.DataFrame({"time": times, "order_parameter": r, "n_defined": defined})
