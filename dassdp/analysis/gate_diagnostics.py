"""Diagnostics of the DA-SSDP gate: what its warm-up fit rests on, and what it did afterwards.

The gate ``g = clip(1 + k (S - mu) / s, 0, 2)`` is fitted once, on the warm-up records
``(S_b, L_b)``, with ``k = -corr(S, L)`` (the contract in `dassdp.rules.reference`). Two things
can make that fit misleading, and this table shows both:

- **Trends.** While a network learns, the loss falls and S drifts, so ``corr(S, L)`` may reflect
  two trends over trials rather than a relation between synchrony and loss. ``trend_S`` and
  ``trend_L`` are the correlations of S and L with the trial index over warm-up; ``k_detrended``
  is the fit on their residuals after a line on the trial index (this project's extension,
  `dassdp.rules.reference.fit_gate`), beside ``k_published``, the published fit recomputed from
  the same records.
- **Shifts.** After a task switch S may move far from the warm-up mean ``mu``; the gate then sits
  at a bound. ``mean_gate``, ``closed`` (fraction of windows with ``g < 0.1``) and
  ``mean_synchrony`` per block show whether the gate shut plasticity off in a block.

In the Brian2 phase the training table has one row per window and its ``loss`` is the loss the
gate is fitted on, so the network's own fit (``k``, from the gate table) equals ``k_published``
(or ``k_detrended`` with ``gate_fit="detrended"``); in the PyTorch phase the rows are
mini-batches while the plug-in fits per sample, so they differ.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dassdp.analysis.table_checks import numeric_column, require_columns
from dassdp.rules.reference import fit_gate

__all__ = ["COLUMNS", "RUN_COLUMNS", "gate_diagnostics"]

#: the run-level columns, then the block-level ones: one row per (run, block)
RUN_COLUMNS = [
    "run",
    "variant",
    "seed",
    "n_warmup",
    "corr_S_L",
    "trend_S",
    "trend_L",
    "k",
    "mu",
    "s",
    "k_published",
    "k_detrended",
]
COLUMNS = [*RUN_COLUMNS, "block", "task", "mean_gate", "closed", "mean_synchrony"]


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def gate_diagnostics(training: pd.DataFrame, gate: pd.DataFrame) -> pd.DataFrame:
    """One row per (run with a fitted gate, training block); see the module docstring.

    ``training`` has the columns of a run's training table (``run``, ``variant``, ``seed``,
    ``block``, ``task``, ``trial``, ``loss``, ``synchrony``, ``gate``, ``warmup``), ``gate`` those of
    its gate table (``run``, ``k``, ``mu``, ``s``). A missing column raises ValueError naming it, as
    does a run with two rows in ``gate`` or NaN/infinite ``k``, ``mu``, ``s``.
    """
    require_columns(
        "training",
        training,
        ["run", "variant", "seed", "block", "task", "trial", "loss", "synchrony", "gate", "warmup"],
    )
    require_columns("gate", gate, ["run", "k", "mu", "s"])
    twice = gate.run[gate.run.duplicated()]
    if len(twice):
        raise ValueError(f"gate: run {twice.iloc[0]!r} has more than one row")
    for column in ("k", "mu", "s"):
        if not np.isfinite(numeric_column("gate", gate, column)).all():
            raise ValueError(f"gate: column {column!r} has NaN or infinite values")
    for column in ("seed", "block", "trial", "loss", "synchrony", "gate"):
        numeric_column("training", training, column)
    rows = []
    fitted = gate.set_index("run")
    for run, table in training[training.run.isin(fitted.index)].groupby("run", sort=True):
        table = table.sort_values("trial")
        warm = table[table.warmup.astype(bool)]
        s, loss, trial = (warm[c].to_numpy(dtype=float) for c in ("synchrony", "loss", "trial"))
        fits = {
            f"k_{fit}": fit_gate(s, loss, fit).k if len(s) >= 3 else float("nan") for fit in ("published", "detrended")
        }
        head = {
            "run": run,
            "variant": table.variant.iloc[0],
            "seed": int(table.seed.iloc[0]),
            "n_warmup": len(warm),
            "corr_S_L": _corr(s, loss),
            "trend_S": _corr(s, trial),
            "trend_L": _corr(loss, trial),
            **{c: float(fitted.loc[run, c]) for c in ("k", "mu", "s")},
            **fits,
        }
        after = table[~table.warmup.astype(bool)]
        for block, rows_block in after.groupby("block", sort=True):
            g = rows_block.gate.to_numpy(dtype=float)
            rows.append(
                {
                    **head,
                    "block": int(block),
                    "task": rows_block.task.iloc[0],
                    "mean_gate": float(np.nanmean(g)) if np.isfinite(g).any() else float("nan"),
                    "closed": float(np.mean(g[np.isfinite(g)] < 0.1)) if np.isfinite(g).any() else float("nan"),
                    "mean_synchrony": float(rows_block.synchrony.mean()),
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)
