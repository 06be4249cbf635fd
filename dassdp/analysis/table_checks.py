"""Checks of the tables the analysis functions take: a DataFrame of the wrong type raises TypeError,
a missing column ValueError naming it (never a KeyError from deep inside), a column that should be
numeric and is not ValueError naming it. Checks of single arguments are `dassdp.checks`."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from dassdp.checks import describe


def require_frame(name: str, table) -> None:
    """Raise TypeError unless ``table`` is a pandas DataFrame."""
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {describe(table)}")


def require_columns(name: str, table, columns: Iterable[str], rows: bool = False) -> None:
    """Raise TypeError unless ``table`` is a DataFrame, ValueError naming the missing ``columns``
    (and, with ``rows``, when it has no rows)."""
    require_frame(name, table)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(
            f"{name}: column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} "
            f"{'are' if len(missing) > 1 else 'is'} missing (have {list(table.columns)})"
        )
    if rows and not len(table):
        raise ValueError(f"{name} has no rows")


def numeric_column(name: str, table: pd.DataFrame, column: str) -> np.ndarray:
    """``table[column]`` as float64, ValueError naming the column when it is not numeric."""
    values = table[column]
    if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
        try:
            return values.to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: column {column!r} must be numeric, got {values.dtype} values") from None
    if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
        raise ValueError(f"{name}: column {column!r} must be numeric, got {values.dtype} values")
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def require_names(name: str, value) -> list[str]:
    """A list of names from a sequence of strings (a single string is a TypeError, not its letters)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a list of names, got {describe(value)}")
    names = list(value)
    for item in names:
        if not isinstance(item, str):
            raise TypeError(f"{name} must hold names (str), got {describe(item)}")
    return names
