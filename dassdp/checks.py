"""Argument checks shared by the public API: each raises naming the parameter it rejects.

``TypeError`` for a value of the wrong kind (a string for a number, a bool for a count),
``ValueError`` for a value of the right kind outside its range (NaN, infinity, a negative count).
"""

from __future__ import annotations

import numbers
import os

import numpy as np

__all__ = [
    "check_choice",
    "check_count",
    "check_finite",
    "check_positive",
    "check_real",
    "check_type",
    "describe",
    "is_real_array",
]


def describe(value) -> str:
    """``type value`` for an error message (the value's repr cut to 60 characters)."""
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def check_real(name: str, value) -> None:
    """A real number or 0-d numeric array (not a bool, a string or a longer array)."""
    scalar_array = isinstance(value, np.ndarray) and value.ndim == 0 and np.issubdtype(value.dtype, np.number)
    if isinstance(value, bool) or not (isinstance(value, numbers.Real) or scalar_array):
        raise TypeError(f"{name} must be a real number, got {describe(value)}")


def check_finite(name: str, value) -> None:
    """A real number that is neither NaN nor infinite."""
    check_real(name, value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")


def check_positive(name: str, value, strict: bool = True) -> None:
    """A finite real number ``> 0`` (``>= 0`` with ``strict=False``)."""
    check_real(name, value)
    if not np.isfinite(value) or value < 0 or (strict and value == 0):
        raise ValueError(f"{name} must be {'> 0' if strict else '>= 0'} and finite, got {value!r}")


def check_count(name: str, value, minimum: int = 0) -> None:
    """An integer (not a bool, not a float such as ``3.0``) ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {describe(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")


def check_type(name: str, value, kind: type | tuple[type, ...], optional: bool = False) -> None:
    """``value`` is an instance of ``kind`` (or None with ``optional``); TypeError naming ``name``."""
    if not (isinstance(value, kind) or (optional and value is None)):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        expected = " or ".join(k.__name__ for k in kinds) + (" or None" if optional else "")
        raise TypeError(f"{name} must be a {expected}, got {describe(value)}")


def is_real_array(array: np.ndarray) -> bool:
    """Whether ``array`` holds integers or floats (not bools, strings, objects or complex numbers)."""
    return array.dtype != bool and (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating))


def check_path(name: str, value) -> None:
    """A path: a ``str`` or an ``os.PathLike`` (TypeError naming ``name`` otherwise)."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or os.PathLike), got {describe(value)}")
