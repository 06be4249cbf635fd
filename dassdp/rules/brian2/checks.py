"""Argument checks that need Brian2: quantities with units, groups, schedules and weights. Each
raises ``TypeError`` for a value of the wrong kind and ``ValueError`` for one out of range, naming
the parameter. Checks of plain numbers and types are `dassdp.checks`."""

from __future__ import annotations

import numbers

import numpy as np

from dassdp.checks import check_finite, describe, is_real_array

__all__ = ["check_group", "check_quantity", "check_schedule", "check_weights"]

#: Brian2 units the checks know: what a value of that unit is called, and an example
_UNITS = {
    "second": ("a time", "5*ms"),
    "volt": ("a voltage", "-70*mV"),
    "siemens": ("a conductance", "10*nS"),
    "farad": ("a capacitance", "200*pF"),
}


def check_quantity(name: str, value, unit: str = "second", bound: str | None = "> 0", scalar: bool = True) -> None:
    """A Brian2 quantity in ``unit`` (``"second"``, ``"volt"``, ``"siemens"``, ``"farad"``), finite
    and, with ``bound``, ``"> 0"`` or ``">= 0"``; with ``scalar=False`` an array of them.

    ``TypeError`` (naming ``name``) for a bare number, another unit, a string or an array where
    one value is expected; ``ValueError`` for NaN, infinity or a value outside ``bound``.
    """
    import brian2
    from brian2.units.fundamentalunits import DIMENSIONLESS, Quantity, get_dimensions

    kind, example = _UNITS[unit]
    dimensions = getattr(brian2, unit).dim
    numeric = isinstance(value, (Quantity, numbers.Number, np.ndarray)) and not isinstance(value, bool)
    if not numeric or (isinstance(value, np.ndarray) and not np.issubdtype(value.dtype, np.number)):
        raise TypeError(f"{name} must be {kind} in Brian2 units (e.g. {example}), got {type(value).__name__} {value!r}")
    if get_dimensions(value) is not dimensions:
        raise TypeError(
            f"{name} must be {kind} in Brian2 units (e.g. {example}), got {value!r}"
            + (" without a unit" if get_dimensions(value) is DIMENSIONLESS else f" in {get_dimensions(value)}")
        )
    if scalar and np.ndim(value) != 0:
        raise TypeError(f"{name} must be one value ({kind}, e.g. {example}), got an array of shape {np.shape(value)}")
    values = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if bound is not None and not np.all(values > 0 if bound == "> 0" else values >= 0):
        raise ValueError(f"{name} must be {bound}, got {value!r}")


def check_group(name: str, value, spikes_only: bool = False, whole: bool = False) -> None:
    """A Brian2 ``NeuronGroup`` or a ``Subgroup`` of one (``G[5:]``; with ``whole``, only a whole
    ``NeuronGroup``, e.g. for a group that must carry its own events); with ``spikes_only``, any
    spike source (also a ``SpikeGeneratorGroup`` or ``PoissonGroup``). TypeError naming ``name``
    otherwise."""
    from brian2 import NeuronGroup
    from brian2.core.spikesource import SpikeSource
    from brian2.groups.subgroup import Subgroup

    kinds = SpikeSource if spikes_only else NeuronGroup if whole else (NeuronGroup, Subgroup)
    if not isinstance(value, kinds):
        kind = (
            "spike source (NeuronGroup, SpikeGeneratorGroup, PoissonGroup)"
            if spikes_only
            else "NeuronGroup" + ("" if whole else " (or a Subgroup of one)")
        )
        raise TypeError(f"{name} must be a Brian2 {kind}, got {describe(value)}")


def check_schedule(schedule, window=None, optional: bool = True) -> None:
    """A `dassdp.rules.reference.Schedule` (or None with ``optional``), whose window equals
    ``window`` (a Brian2 duration) where one is given: TypeError or ValueError naming ``schedule``."""
    from brian2 import second

    from dassdp.rules.reference import Schedule

    if schedule is None and optional:
        return
    if not isinstance(schedule, Schedule):
        raise TypeError(
            "schedule must be a dassdp.rules.reference.Schedule"
            + (" (or None)" if optional else "")
            + f", got {type(schedule).__name__} {schedule!r}"
        )
    if window is not None and abs(float(window / second) - schedule.window) > 1e-12 * schedule.window:
        raise ValueError(f"schedule: its window ({schedule.window} s) must equal the rule's window ({window})")


def check_weights(name: str, value) -> np.ndarray:
    """Weights as a float array: a finite real number or an array of them, without a unit
    (TypeError for other kinds, ValueError for NaN or infinity), naming ``name``."""
    from brian2.units.fundamentalunits import DIMENSIONLESS, Quantity

    if isinstance(value, Quantity) and value.dim is not DIMENSIONLESS:
        raise TypeError(f"{name} must be dimensionless (weights have no unit), got {value!r}")
    if np.ndim(value) == 0 and not isinstance(value, np.ndarray):
        check_finite(name, value)
    array = np.asarray(value)
    if not is_real_array(array):
        raise TypeError(f"{name} must be a real number or an array of them, got {type(value).__name__} {value!r}")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, got {np.count_nonzero(~np.isfinite(array))} NaN or infinite value(s)")
    return array
