"""Window-based synchrony statistics: the paper's sample synchrony S, fired fractions, first-spike
latencies, co-firing, spike-count correlations and Fano factors.

Every function works on a windowed spike table (:func:`dassdp.analysis.spikes.assign_windows` or
:func:`~dassdp.analysis.spikes.from_torch`) of **one** population unless it says otherwise, and is
vectorised over neurons and windows: the table is turned into a [windows, neurons] array once, and
everything else is array arithmetic.

Reference for S: Tian, Tensingh, Eshraghian, Truong, Kavehei, "DA-SSDP", arXiv 2512.07194, and the
contract in `dassdp.rules.reference`. S and the latencies are computed there, by
`dassdp.rules.reference.sample_synchrony` (exported here unchanged) and
`dassdp.rules.reference.window_activity`, which the rules' tests use as their oracle; connectivity
masks are ``(n_post, n_pre)``, like a weight matrix.

Bad arguments raise before any arithmetic: a population size that is not an integer ``>= 0``, a
population missing from ``n_neurons``, a missing ``window``/``latency`` column, NaN or infinite
latencies, fired flags other than 0/1, or counts that are negative, NaN or infinite raise
ValueError (TypeError for the wrong kind of argument) naming what is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from dassdp.analysis.spikes import (
    neuron_indices,
    resolve_windows,
    select_population,
    validate,
    window_definition,
)
from dassdp.analysis.table_checks import numeric_column, require_columns
from dassdp.checks import check_count, check_positive, describe
from dassdp.rules.reference import WindowActivity, sample_synchrony, window_activity

__all__ = [
    "coincidence_matrix",
    "count_correlation",
    "fano_factor",
    "fired_fraction",
    "fired_matrix",
    "first_spike_latencies",
    "latency_matrix",
    "matrix_to_tidy",
    "mean_coincidence",
    "sample_synchrony",
    "spike_counts",
    "synchrony_series",
]


def _cell_index(spikes: pd.DataFrame, n_neurons: int, n_windows: int | None) -> tuple[np.ndarray, int]:
    """Flat index ``window * n_neurons + neuron`` of every spike, and the number of windows."""
    check_count("n_neurons", n_neurons)
    n_windows = resolve_windows(spikes, n_windows)
    neurons = neuron_indices(spikes, n_neurons)
    return spikes["window"].to_numpy(dtype=np.int64) * n_neurons + neurons, n_windows


def spike_counts(spikes: pd.DataFrame, n_neurons: int, n_windows: int | None = None) -> np.ndarray:
    """Spike counts ``c[w, n]``: number of spikes of neuron n in window w, shape [W, N]."""
    cells, n_windows = _cell_index(spikes, n_neurons, n_windows)
    return np.bincount(cells, minlength=n_windows * n_neurons).reshape(n_windows, n_neurons)


def fired_matrix(spikes: pd.DataFrame, n_neurons: int, n_windows: int | None = None) -> np.ndarray:
    """``fired[w, n]`` = 1 if neuron n spiked at least once in window w (bool, shape [W, N])."""
    return spike_counts(spikes, n_neurons, n_windows) > 0


def _check_which(which: str) -> None:
    if which not in ("first", "last"):
        raise ValueError(f"which must be 'first' or 'last', got {which!r}")


def _activity(spikes: pd.DataFrame, n_neurons: int, n_windows: int | None, which: str) -> WindowActivity:
    """Fired flags and latencies of a windowed table by `dassdp.rules.reference.window_activity`."""
    _check_which(which)
    check_count("n_neurons", n_neurons)
    if "window" not in window_definition(spikes):
        raise ValueError("the spike table has no window length; call assign_windows")
    try:
        check_positive("window", spikes.attrs["window"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"spike table: attrs {exc}; call assign_windows again") from None
    n_windows = resolve_windows(spikes, n_windows)
    require_columns("spikes", spikes, ["latency"])
    latency = numeric_column("spikes", spikes, "latency")
    if not np.isfinite(latency).all() or (latency.size and latency.min() < 0):
        raise ValueError("spike table: column 'latency' must be finite and >= 0; call assign_windows")
    return window_activity(
        spikes["window"].to_numpy(dtype=np.int64),
        neuron_indices(spikes, n_neurons),
        latency,
        n_windows,
        n_neurons,
        float(spikes.attrs["window"]),
        which,
    )


def _sizes(n_neurons, populations) -> dict:
    """``n_neurons`` checked: a mapping with an integer size ``>= 0`` for each of ``populations``."""
    if not isinstance(n_neurons, Mapping):
        raise TypeError(f"n_neurons must be a mapping of population to size, got {describe(n_neurons)}")
    for name in populations:
        if name not in n_neurons:
            raise ValueError(f"n_neurons has no size for population {name!r} (has {list(n_neurons)})")
        check_count(f"n_neurons[{name!r}]", n_neurons[name])
    return dict(n_neurons)


def latency_matrix(
    spikes: pd.DataFrame,
    n_neurons: int,
    n_windows: int | None = None,
    which: str = "first",
) -> np.ndarray:
    """Spike latency ``t[w, n]`` from the window start, shape [W, N], in seconds.

    ``which="first"`` (default) takes the first spike of n in w, ``"last"`` the last one (the
    published code's behaviour, see the contract in `dassdp.rules.reference`). A neuron that did
    not spike gets the window length ``T_win`` (taken from the table's window definition).
    """
    return _activity(spikes, n_neurons, n_windows, which).latency


def synchrony_series(
    spikes: pd.DataFrame,
    layers: Iterable[tuple[str, str]],
    n_neurons: Mapping[str, int],
    n_windows: int | None = None,
    masks: Mapping[tuple[str, str], np.ndarray] | None = None,
) -> pd.DataFrame:
    """Tidy S per layer and window: columns ``pre, post, window, synchrony``.

    ``layers`` lists (pre population, post population) pairs; ``n_neurons`` gives each population's
    size; ``masks`` optionally gives the connectivity of a layer, ``mask[j, i]`` of shape
    ``(n_post, n_pre)`` (see `dassdp.rules.reference.sample_synchrony`).
    """
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Iterable):
        raise TypeError(f"layers must be a list of (pre, post) population pairs, got {describe(layers)}")
    layers = list(layers)
    for pair in layers:
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Iterable) or len(tuple(pair)) != 2:
            raise ValueError(f"layers must hold (pre, post) population pairs, got {pair!r}")
    n_neurons = _sizes(n_neurons, {name for pair in layers for name in pair})
    if masks is not None and not isinstance(masks, Mapping):
        raise TypeError(f"masks must be a mapping of (pre, post) to a mask, got {describe(masks)}")
    n_windows = resolve_windows(spikes, n_windows)
    fired = {}
    frames = []
    for pre, post in layers:
        for name in (pre, post):
            if name not in fired:
                fired[name] = fired_matrix(select_population(spikes, name), n_neurons[name], n_windows)
        mask = (masks or {}).get((pre, post))
        frames.append(
            pd.DataFrame(
                {
                    "pre": pre,
                    "post": post,
                    "window": np.arange(n_windows),
                    "synchrony": sample_synchrony(fired[pre], fired[post], mask),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def fired_fraction(spikes: pd.DataFrame, n_neurons: Mapping[str, int], n_windows: int | None = None) -> pd.DataFrame:
    """Tidy fraction of neurons that fired per window: ``population, window, fired_fraction``.

    ``fired_fraction_w = (1/N) sum_n fired_wn``. Use ``{None: N}`` for a table without populations.
    """
    n_neurons = _sizes(n_neurons, n_neurons if isinstance(n_neurons, Mapping) else ())
    n_windows = resolve_windows(spikes, n_windows)
    frames = [
        pd.DataFrame(
            {
                "population": name,
                "window": np.arange(n_windows),
                "fired_fraction": fired_matrix(select_population(spikes, name), size, n_windows).mean(axis=1),
            }
        )
        for name, size in n_neurons.items()
    ]
    return pd.concat(frames, ignore_index=True)


def first_spike_latencies(spikes: pd.DataFrame, which: str = "first") -> pd.DataFrame:
    """Tidy latency distribution: one row per ([population,] window, neuron) that fired, with its
    first (or, ``which="last"``, last) spike latency from the window start in seconds: the entries
    of :func:`latency_matrix` where the neuron fired, population by population."""
    _check_which(which)
    validate(spikes)
    if "latency" not in spikes.columns:
        raise ValueError("spike table: column 'latency' is missing; call assign_windows first")
    has_population = "population" in spikes.columns
    populations = np.unique(spikes["population"]) if has_population else [None]
    frames = []
    for population in populations:
        table = select_population(spikes, population)
        n_neurons = int(table["neuron"].max()) + 1 if len(table) else 0
        activity = _activity(table, n_neurons, None, which)
        window, neuron = np.nonzero(activity.fired)
        rows = {"window": window, "neuron": neuron, "latency": activity.latency[window, neuron]}
        frames.append(pd.DataFrame({"population": population, **rows} if has_population else rows))
    columns = ["population"] * has_population + ["window", "neuron", "latency"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def coincidence_matrix(fired: np.ndarray) -> np.ndarray:
    """Co-firing ``C[i, j] = (1/W) sum_w fired_wi * fired_wj``: the fraction of windows in which
    both i and j spiked (shape [N, N]; the diagonal is each neuron's firing probability).
    ``fired`` must hold 0/1 flags [W, N] (ValueError otherwise, e.g. for spike counts or NaN)."""
    fired = _array("fired", fired)
    if fired.ndim != 2:
        raise ValueError(f"fired must be a [windows, neurons] array, got shape {fired.shape}")
    if not np.isin(fired, (0.0, 1.0)).all():
        raise ValueError("fired must hold 0/1 (or bool) flags; use fired_matrix for spike tables")
    if fired.shape[0] == 0:
        raise ValueError("coincidence_matrix: no windows")
    return fired.T @ fired / fired.shape[0]


def mean_coincidence(fired: np.ndarray) -> float:
    """Population mean of the co-firing matrix over distinct pairs i != j (NaN for N < 2)."""
    matrix = coincidence_matrix(fired)
    n = matrix.shape[0]
    if n < 2:
        return float("nan")
    return float((matrix.sum() - np.trace(matrix)) / (n * (n - 1)))


def _array(name: str, values) -> np.ndarray:
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a numeric array, got {describe(values)}") from None


def _counts(counts) -> np.ndarray:
    """Spike counts [W, N]: finite and >= 0 (ValueError naming ``counts`` otherwise)."""
    counts = _array("counts", counts)
    if counts.ndim != 2:
        raise ValueError(f"counts must be a [windows, neurons] array, got shape {counts.shape}")
    if not np.isfinite(counts).all() or (counts.size and counts.min() < 0):
        raise ValueError("counts must be finite spike counts >= 0 (no NaN, infinite or negative values)")
    return counts


def count_correlation(counts: np.ndarray) -> np.ndarray:
    """Pearson correlation of spike counts across windows, ``rho[i, j] = corr_w(c_wi, c_wj)``.

    ``counts`` is [W, N]; rows and columns of neurons whose count does not vary are NaN.
    """
    counts = _counts(counts)
    if counts.shape[0] < 2:
        raise ValueError("count_correlation: need at least 2 windows")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.corrcoef(counts, rowvar=False)


def fano_factor(counts: np.ndarray) -> np.ndarray:
    """Fano factor per neuron, ``F_n = var_w(c_wn) / mean_w(c_wn)`` (sample variance, ddof=1);
    NaN for a neuron that never spiked. Poisson counts give F = 1 (Fano 1947; Teich 1989)."""
    counts = _counts(counts)
    if counts.shape[0] < 2:
        raise ValueError("fano_factor: need at least 2 windows")
    mean = counts.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mean > 0, counts.var(axis=0, ddof=1) / mean, np.nan)


def matrix_to_tidy(matrix: np.ndarray, value: str, diagonal: bool = False) -> pd.DataFrame:
    """Upper triangle of a symmetric [N, N] matrix as rows ``neuron_i, neuron_j, <value>``
    (``i < j``, or ``i <= j`` with ``diagonal=True``)."""
    if not isinstance(value, str):
        raise TypeError(f"value must be a column name (str), got {describe(value)}")
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"matrix must be square [N, N], got shape {matrix.shape}")
    i, j = np.triu_indices(matrix.shape[0], k=0 if diagonal else 1)
    return pd.DataFrame({"neuron_i": i, "neuron_j": j, value: matrix[i, j]})
