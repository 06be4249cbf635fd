"""Spike data in one tidy form, and converters from NumPy, PyTorch and Brian2.

A spike table is a :class:`pandas.DataFrame` with one row per spike and the columns

``neuron``
    integer index of the neuron inside its population (``>= 0``);
``time``
    spike time in **seconds**;
``trial`` (optional)
    sample or trial index (the batch index of a PyTorch tensor);
``population`` (optional)
    name of the population or layer the neuron belongs to;
``window``, ``latency`` (added by :func:`assign_windows`)
    index of the window (one sample presentation, as in the contract in `dassdp.rules.reference`)
    and spike time measured from the window start, in seconds.

Rows are sorted by time (stable, so simultaneous spikes keep their input order). Neurons that never
spike and windows without spikes have no rows, so every statistic that needs them takes the
population size and the number of windows explicitly. The window definition is kept in
``DataFrame.attrs`` (``window``, ``t0``, ``n_windows``) so that later calls can check it.

Nothing here imports PyTorch or Brian2: tensors and monitors are duck-typed, and
`dassdp.rules.reference`, which assigns the windows, imports NumPy only.

Arguments are checked (`dassdp.checks`): a table that is not a DataFrame, a count that is not an
integer or a time that is not a number raises TypeError; a missing column, a NaN, infinite or
negative window length, ``t0``, ``dt`` or count raises ValueError naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dassdp.analysis.table_checks import require_frame
from dassdp.checks import check_count, check_finite, check_positive
from dassdp.rules.reference import window_positions

__all__ = [
    "SpikeTrains",
    "WINDOW_ATTRS",
    "assign_windows",
    "check_window_definition",
    "from_arrays",
    "from_brian2",
    "from_torch",
    "neuron_indices",
    "resolve_windows",
    "select_population",
    "validate",
    "window_definition",
]

#: keys of ``DataFrame.attrs`` that hold the window definition
WINDOW_ATTRS = ("window", "t0", "n_windows")


def validate(spikes: pd.DataFrame) -> pd.DataFrame:
    """Check a spike table and return it.

    Raises :class:`ValueError` naming the column when ``neuron`` or ``time`` is missing or not
    numeric, when a time is NaN or infinite, or when a neuron index is negative or not an integer;
    TypeError when ``spikes`` is not a DataFrame.
    """
    require_frame("spikes", spikes)
    for column in ("neuron", "time"):
        if column not in spikes.columns:
            raise ValueError(f"spike table: column {column!r} is missing (have {list(spikes.columns)})")
    times = _numeric(spikes, "time")
    if not np.isfinite(times).all():
        raise ValueError("spike table: column 'time' contains NaN or infinite values")
    neurons = spikes["neuron"].to_numpy()
    if neurons.size and not np.issubdtype(neurons.dtype, np.integer):
        as_float = _numeric(spikes, "neuron")
        if not np.array_equal(as_float, np.round(as_float)):
            raise ValueError("spike table: column 'neuron' must hold integer indices")
        neurons = as_float
    if neurons.size and neurons.min() < 0:
        raise ValueError(f"spike table: column 'neuron' has a negative index ({neurons.min()})")
    return spikes


def _numeric(spikes: pd.DataFrame, column: str) -> np.ndarray:
    values = spikes[column].to_numpy()
    if values.dtype == bool or not (np.issubdtype(values.dtype, np.number) or values.dtype == object):
        raise ValueError(f"spike table: column {column!r} must be numeric, got {values.dtype} values")
    try:
        return values.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"spike table: column {column!r} must be numeric, got {values.dtype} values") from None


def from_arrays(
    indices: Any,
    times: Any,
    *,
    trial: Any = None,
    population: str | Any | None = None,
) -> pd.DataFrame:
    """Build a spike table from neuron indices and spike times (seconds).

    ``trial`` and ``population`` may be scalars or arrays of the same length. Unsorted input is
    accepted and sorted by time (stable sort); NaN times and negative indices raise ValueError.
    """
    indices = np.asarray(indices).ravel()
    try:
        times = np.asarray(times, dtype=float).ravel()
    except (TypeError, ValueError):
        raise TypeError(f"from_arrays: times must be numbers (seconds), got {type(times).__name__}") from None
    if indices.shape != times.shape:
        raise ValueError(f"from_arrays: 'neuron' has {indices.size} entries but 'time' has {times.size}")
    columns: dict[str, Any] = {"neuron": indices, "time": times}
    for name, value in (("trial", trial), ("population", population)):
        if value is not None and np.ndim(value) and np.shape(value) != times.shape:
            raise ValueError(f"from_arrays: column {name!r} does not match the number of spikes")
        if value is not None:
            columns[name] = value
    spikes = validate(pd.DataFrame(columns))
    spikes["neuron"] = spikes["neuron"].astype(np.int64)
    order = np.argsort(times, kind="stable")
    return spikes.iloc[order].reset_index(drop=True)


def from_torch(spikes: Any, dt: float, *, population: str | None = None, first_window: int = 0) -> pd.DataFrame:
    """Spike table from a PyTorch spike tensor (or ndarray) of shape [T, B, N].

    Step ``k`` of sample ``b`` becomes a spike at ``time = k * dt`` (seconds) of neuron ``n`` in
    ``trial = b``. Each sample is one window (the contract in `dassdp.rules.reference`), so
    ``window = first_window + b`` and ``latency = time``; ``attrs`` records ``window = T * dt``.
    A tensor is converted with ``.detach().cpu().numpy()`` (duck-typed, torch is not imported).
    """
    if hasattr(spikes, "detach"):
        spikes = spikes.detach().cpu().numpy()
    array = np.asarray(spikes)
    if array.ndim != 3:
        raise ValueError(f"from_torch: expected a [T, B, N] array, got shape {array.shape}")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"from_torch: spikes must be a numeric [T, B, N] tensor or array, got dtype {array.dtype}")
    if not np.isfinite(array).all():
        raise ValueError("from_torch: the spike tensor contains NaN or infinite values")
    check_positive("dt", dt)
    check_count("first_window", first_window)
    steps, batch, neuron = np.nonzero(array)
    table = from_arrays(neuron, steps * float(dt), trial=batch, population=population)
    table["window"] = table["trial"].to_numpy() + first_window
    table["latency"] = table["time"]
    table.attrs.update(window=array.shape[0] * float(dt), t0=0.0, n_windows=first_window + array.shape[1])
    return table


def from_brian2(monitor: Any, *, population: str | None = None) -> pd.DataFrame:
    """Spike table from a Brian2 ``SpikeMonitor`` (duck-typed: ``monitor.i[:]``, ``monitor.t[:]``).

    Brian2 quantities are converted to plain seconds by ``np.asarray(..., dtype=float)``, which
    drops the unit (Brian2 stores times in seconds).
    """
    if not (hasattr(monitor, "i") and hasattr(monitor, "t")):
        raise TypeError(f"monitor must be a Brian2 SpikeMonitor (with .i and .t), got {type(monitor).__name__}")
    indices = np.asarray(monitor.i[:])
    times = np.asarray(monitor.t[:], dtype=float)
    return from_arrays(indices, times, population=population)


def window_definition(spikes: pd.DataFrame) -> dict[str, float]:
    """The window definition stored by :func:`assign_windows` (empty dict if there is none)."""
    require_frame("spikes", spikes)
    return {key: spikes.attrs[key] for key in WINDOW_ATTRS if key in spikes.attrs}


def assign_windows(
    spikes: pd.DataFrame,
    window: float,
    n_windows: int | None = None,
    t0: float = 0.0,
    dt: float | None = None,
) -> pd.DataFrame:
    """Add ``window = floor((time - t0) / window)`` and ``latency = time - t0 - window * window``.

    Windows are half-open, ``[t0 + k * window, t0 + (k + 1) * window)``, and are assigned by
    `dassdp.rules.reference.window_positions`, as the rules' reference does. ``n_windows``
    defaults to the last window holding a spike plus one. Spikes before ``t0`` or after the last
    window raise ValueError, as does a table that already carries a different window definition.
    With the simulation step ``dt`` given, times are taken on its grid (``step = rint(time /
    dt)``), so a spike on a window edge always opens the next window; without it, a floating-point
    edge such as 0.15 s with 0.05 s windows may fall into the earlier window.

    ``window`` and ``dt`` must be finite and > 0, ``t0`` finite and ``n_windows`` an integer ``>= 0``
    (ValueError or TypeError naming the argument).
    """
    validate(spikes)
    check_positive("window", window)
    check_finite("t0", t0)
    if n_windows is not None:
        check_count("n_windows", n_windows)
    if dt is not None:
        check_positive("dt", dt)
    times = spikes["time"].to_numpy(dtype=float) - t0
    index, latency = window_positions(times, window, dt)
    if times.size and times.min() < 0:
        raise ValueError(f"assign_windows: column 'time' has spikes before t0={t0}")
    if n_windows is None:
        n_windows = int(index.max()) + 1 if index.size else 0
    if index.size and index.max() >= n_windows:
        raise ValueError(f"assign_windows: column 'time' has spikes after the last of {n_windows} windows")
    definition = {"window": float(window), "t0": float(t0), "n_windows": int(n_windows)}
    check_window_definition(spikes, definition)
    result = spikes.assign(window=index, latency=latency)
    result.attrs.update(definition)
    return result


def check_window_definition(spikes: pd.DataFrame, expected: Mapping[str, float]) -> None:
    """Raise ValueError if ``spikes.attrs`` holds a window definition unlike ``expected``."""
    stored = window_definition(spikes)
    clash = {k: (stored[k], v) for k, v in expected.items() if k in stored and not np.isclose(stored[k], v)}
    if clash:
        detail = ", ".join(f"{k}: table has {a}, got {b}" for k, (a, b) in clash.items())
        raise ValueError(f"mismatched window definitions ({detail})")


def resolve_windows(spikes: pd.DataFrame, n_windows: int | None = None) -> int:
    """Number of windows of a windowed spike table.

    ``n_windows`` if given (it must agree with ``attrs``), else ``attrs["n_windows"]``, else the
    last window holding a spike plus one. Raises ValueError if the table has no ``window`` column,
    holds a window index that is not an integer ``>= 0`` or spikes in a window ``>= n_windows``.
    """
    require_frame("spikes", spikes)
    if "window" not in spikes.columns:
        raise ValueError("spike table: column 'window' is missing; call assign_windows first")
    if n_windows is not None:
        check_count("n_windows", n_windows)
        check_window_definition(spikes, {"n_windows": n_windows})
    else:
        n_windows = spikes.attrs.get("n_windows")
        if n_windows is not None:
            try:
                check_count("n_windows", n_windows)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"spike table: attrs {exc}; call assign_windows again") from None
    windows = _numeric(spikes, "window")
    if windows.size and not (np.isfinite(windows).all() and np.array_equal(windows, np.round(windows))):
        raise ValueError("spike table: column 'window' must hold integer window indices (no NaN)")
    if windows.size and windows.min() < 0:
        raise ValueError(f"spike table: column 'window' has a negative index ({int(windows.min())})")
    last = int(windows.max()) if len(spikes) else -1
    if n_windows is None:
        return last + 1
    if last >= n_windows:
        raise ValueError(f"mismatched window definitions: column 'window' reaches {last}, but n_windows={n_windows}")
    return int(n_windows)


def select_population(spikes: pd.DataFrame, population: str | None) -> pd.DataFrame:
    """Rows of one population (all rows if ``population`` is None); attrs are kept."""
    require_frame("spikes", spikes)
    if population is None:
        return spikes
    if "population" not in spikes.columns:
        raise ValueError(f"spike table: column 'population' is missing (asked for {population!r})")
    return spikes[spikes["population"] == population]


def neuron_indices(spikes: pd.DataFrame, n_neurons: int) -> np.ndarray:
    """The ``neuron`` column as int64, checked to lie in ``0 .. n_neurons - 1`` (``n_neurons`` an
    integer ``>= 0``)."""
    check_count("n_neurons", n_neurons)
    neuron = validate(spikes)["neuron"].to_numpy(dtype=np.int64)
    if neuron.size and neuron.max() >= n_neurons:
        raise ValueError(f"column 'neuron' reaches {neuron.max()} but n_neurons={n_neurons}")
    return neuron


@dataclass(frozen=True)
class SpikeTrains:
    """Spike trains of N neurons as one array sorted by (neuron, time).

    ``times[starts[n]:starts[n + 1]]`` is the sorted train of neuron n and ``owner[k]`` the neuron
    of ``times[k]``. This is the form the all-pairs measures vectorise over.
    """

    times: np.ndarray
    owner: np.ndarray
    starts: np.ndarray

    @classmethod
    def from_table(cls, spikes: pd.DataFrame, n_neurons: int) -> SpikeTrains:
        neuron = neuron_indices(spikes, n_neurons)
        time = spikes["time"].to_numpy(dtype=float)
        order = np.lexsort((time, neuron))
        starts = np.concatenate(([0], np.cumsum(np.bincount(neuron, minlength=n_neurons))))
        return cls(time[order], neuron[order], starts)

    @property
    def n(self) -> int:
        return self.starts.size - 1

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.starts)

    def train(self, neuron: int) -> np.ndarray:
        return self.times[self.starts[neuron] : self.starts[neuron + 1]]

    def per_neuron(self, values: np.ndarray) -> np.ndarray:
        """Sum of ``values`` (one per spike) over each neuron's spikes."""
        return np.bincount(self.owner, weights=values, minlength=self.n)

    def isi_before_after(self) -> tuple[np.ndarray, np.ndarray]:
        """Inter-spike interval before and after every spike; inf where there is no neighbour."""
        gap = np.diff(self.times)
        same = self.owner[1:] == self.owner[:-1]
        before = np.full(self.times.size, np.inf)
        after = np.full(self.times.size, np.inf)
        before[1:][same] = gap[same]
        after[:-1][same] = gap[same]
        return before, after

    def check_interval(self, t_start: float, t_stop: float) -> float:
        """Raise ValueError unless all spikes lie in ``[t_start, t_stop]`` (both finite); return its duration."""
        check_finite("t_start", t_start)
        check_finite("t_stop", t_stop)
        if not t_stop > t_start:
            raise ValueError(f"t_stop ({t_stop}) must be greater than t_start ({t_start})")
        if self.times.size and (self.times.min() < t_start or self.times.max() > t_stop):
            raise ValueError(f"column 'time' has spikes outside [t_start, t_stop] = [{t_start}, {t_stop}]")
        return t_stop - t_start
