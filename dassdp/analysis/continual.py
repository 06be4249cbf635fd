"""Continual-learning metrics from a tidy results table.

The input has one row per evaluation: grouping columns (any of ``run``, ``seed``, ``variant``),
the task trained last (``trained_task``, or a step index), the task evaluated (``eval_task``) and
``accuracy``. With T tasks trained in ``task_order``, the accuracy matrix is

    ``R[i, j]`` = accuracy on task j after training through task i (i, j in 0 .. T-1).

Each task is trained once; a missing evaluation (no row, or a row whose accuracy is NaN: "not
evaluated") is NaN in R and makes the metrics that need it NaN. Every other accuracy, in the table,
in R and in the baseline, must be a fraction in [0, 1] (an accuracy of 90 or -5 raises ValueError
naming the column or argument; infinities too); a missing column raises ValueError naming it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from dassdp.analysis.table_checks import numeric_column, require_columns
from dassdp.checks import describe

__all__ = [
    "GROUP_COLUMNS",
    "accuracy_matrix",
    "continual_metrics",
    "metrics_from_matrix",
]

#: columns that identify one training sequence, when present
GROUP_COLUMNS = ("variant", "seed", "run")


def _task_order(results: pd.DataFrame, task_order: Sequence[Any] | None, eval_column: str) -> list:
    if task_order is not None and (isinstance(task_order, (str, bytes)) or not isinstance(task_order, Iterable)):
        raise TypeError(f"task_order must be a list of task labels, got {describe(task_order)}")
    order = sorted(results[eval_column].unique()) if task_order is None else list(task_order)
    if len(order) < 2:
        raise ValueError(f"continual metrics need at least 2 tasks, got {order}")
    if len(set(order)) != len(order):
        raise ValueError(f"task_order lists a task twice: {order}")
    return order


def _check_accuracies(name: str, values: np.ndarray) -> None:
    """Accuracies are fractions in [0, 1]; NaN (not evaluated) passes, infinities do not."""
    bad = ~np.isnan(values) & ~((values >= 0.0) & (values <= 1.0))
    if bad.any():
        raise ValueError(
            f"{name} must hold accuracies in [0, 1] (fractions, not percent; NaN: not evaluated), "
            f"got {values[bad][:3].tolist()}"
        )


def _check_columns(results, columns) -> None:
    require_columns("results", results, columns)


def accuracy_matrix(
    results: pd.DataFrame,
    task_order: Sequence[Any] | None = None,
    trained: str = "trained_task",
    evaluated: str = "eval_task",
    value: str = "accuracy",
) -> np.ndarray:
    """``R[i, j]``, shape [T, T], of one training sequence (rows of a single run).

    ``task_order`` defaults to the sorted task labels. Raises ValueError for a missing column, a
    task outside ``task_order``, a task listed twice in it, a duplicated (trained, evaluated) pair or
    an accuracy outside [0, 1] (NaN, not evaluated, is kept: NaN in R).
    """
    _check_columns(results, (trained, evaluated, value))
    accuracy = numeric_column("results", results, value)
    _check_accuracies(f"results: column {value!r}", accuracy)
    order = _task_order(results, task_order, evaluated)
    position = {task: k for k, task in enumerate(order)}
    for column in (trained, evaluated):
        unknown = set(results[column]) - set(position)
        if unknown:
            raise ValueError(f"results: column {column!r} has tasks {sorted(unknown)} not in {order}")
    if results.duplicated([trained, evaluated]).any():
        raise ValueError(f"results: duplicated ({trained}, {evaluated}) rows; group by run/seed/variant first")
    matrix = np.full((len(order), len(order)), np.nan)
    rows = results[trained].map(position).to_numpy()
    cols = results[evaluated].map(position).to_numpy()
    matrix[rows, cols] = accuracy
    return matrix


def _float_array(name: str, values) -> np.ndarray:
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a numeric array, got {describe(values)}") from None


def metrics_from_matrix(r: np.ndarray, baseline: np.ndarray | None = None) -> dict[str, float]:
    """ACC, BWT, FWT, forgetting and learning accuracy of an accuracy matrix ``R`` [T, T]
    (entries in [0, 1], NaN where not evaluated; ``baseline`` likewise).

    - ``ACC = (1/T) sum_j R[T-1, j]``;
    - ``BWT = 1/(T-1) sum_{j<T-1} (R[T-1, j] - R[j, j])`` (Lopez-Paz & Ranzato 2017, GEM, eq. 3;
      divided by T-1 as in the paper, not by T as in its released code);
    - ``FWT = 1/(T-1) sum_{j>=1} (R[j-1, j] - b_j)`` with ``b`` the accuracies of an untrained
      model (same paper); NaN without ``baseline``;
    - ``forgetting = 1/(T-1) sum_{j<T-1} f_j``, ``f_j = max_{l in 0..T-2} R[l, j] - R[T-1, j]``
      (Chaudhry et al. 2018, RWalk, eq. 9: the max runs over all earlier steps);
    - ``learning_accuracy = (1/T) sum_j R[j, j]``.
    """
    r = _float_array("r", r)
    if r.ndim != 2 or r.shape[0] != r.shape[1] or r.shape[0] < 2:
        raise ValueError(f"accuracy matrix must be [T, T] with T >= 2, got shape {r.shape}")
    _check_accuracies("the accuracy matrix r", r)
    t = r.shape[0]
    last = r[-1]
    diagonal = np.diag(r)
    fwt = float("nan")
    if baseline is not None:
        b = _float_array("baseline", baseline)
        if b.shape != (t,):
            raise ValueError(f"baseline must have one accuracy per task ({t}), got shape {b.shape}")
        _check_accuracies("baseline", b)
        fwt = float(np.mean(np.diag(r, k=1) - b[1:]))
    return {
        "ACC": float(last.mean()),
        "BWT": float(np.mean(last[:-1] - diagonal[:-1])),
        "FWT": fwt,
        "forgetting": float(np.mean(r[:-1, :-1].max(axis=0) - last[:-1])),
        "learning_accuracy": float(diagonal.mean()),
    }


def continual_metrics(
    results: pd.DataFrame,
    task_order: Sequence[Any] | None = None,
    baseline: Mapping[Any, float] | pd.Series | None = None,
    trained: str = "trained_task",
    evaluated: str = "eval_task",
    value: str = "accuracy",
) -> pd.DataFrame:
    """Per-sequence metrics as a tidy table: the grouping columns present (``variant``, ``seed``,
    ``run``), then ``metric`` and ``value``. ``baseline`` maps each task to the accuracy of an
    untrained model (for FWT). See :func:`metrics_from_matrix` for the definitions."""
    _check_columns(results, (trained, evaluated, value))
    order = _task_order(results, task_order, evaluated)
    b = None
    if baseline is not None:
        if not isinstance(baseline, (Mapping, pd.Series)):
            raise TypeError(f"baseline must map each task to an accuracy, got {describe(baseline)}")
        missing = [task for task in order if task not in baseline]
        if missing:
            raise ValueError(f"baseline has no accuracy for tasks {', '.join(map(str, missing))}")
        b = _float_array("baseline", [baseline[task] for task in order])
    keys = [c for c in GROUP_COLUMNS if c in results.columns]
    groups = results.groupby(keys, sort=True, dropna=False) if keys else [((), results)]
    rows = []
    for key, table in groups:
        key = key if isinstance(key, tuple) else (key,)
        matrix = accuracy_matrix(table, order, trained, evaluated, value)
        for metric, number in metrics_from_matrix(matrix, b).items():
            rows.append({**dict(zip(keys, key, strict=True)), "metric": metric, "value": number})
    return pd.DataFrame(rows)
