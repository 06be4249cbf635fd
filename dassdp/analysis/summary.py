"""A study's summary as text, from ``DIR/summary.parquet`` (`dassdp.analysis.stats.summarise`), for
the console summary (`dassdp.cli.summary`) and the report (`dassdp.analysis.report`):

- per grid point and variant, the mean and 95 % Student-t interval over seeds of ACC, BWT,
  forgetting, each ``learned_<task>`` metric (shown as "<task> after <task>") and final_ACC
  (the report has the rest);
- per grid point and variant, the paired difference (per seed) of the main metrics (ACC, BWT,
  forgetting, ``learned_<task>``) to the study's reference variant, with its t-interval;
- per main metric, the smallest difference the study could detect at 80 % power with its number
  of seeds and the observed paired SD;
- the evaluation scenario, where ``DIR/study.json`` names it, the calibrated learning-rate scales
  (``DIR/calibration.json``), and where the tables and report are.

A summary table missing a column these functions read raises ValueError naming the column(s); an
argument of the wrong type (a metric name that is not a string, ``names`` given as one string, a
path that is not a path) raises TypeError.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from dassdp.analysis.stats import DETECTABLE_POWER
from dassdp.analysis.table_checks import require_columns, require_names
from dassdp.checks import check_choice, check_path, check_real, describe

__all__ = [
    "MAIN_METRICS",
    "SUMMARY_METRICS",
    "calibrated_scales",
    "detectable_lines",
    "difference_rows",
    "heading",
    "interval",
    "present_metrics",
    "scenario",
    "summary_rows",
]

#: metrics of the first table, in this order; ``learned_<task>`` metrics follow ``forgetting``
SUMMARY_METRICS = ("ACC", "BWT", "forgetting", "final_ACC")
#: metrics compared with the reference variant (with every ``learned_<task>`` metric present)
MAIN_METRICS = ("ACC", "BWT", "forgetting")
LEARNED = "learned_"


def present_metrics(summary: pd.DataFrame, names: tuple[str, ...]) -> list[str]:
    """``names`` present in ``summary``, with the ``learned_<task>`` metrics after ``forgetting``."""
    require_columns("summary", summary, ["metric"])
    names = require_names("names", names)
    present = set(summary.metric)
    learned = sorted(m for m in present if m.startswith(LEARNED))
    chosen = [m for m in names if m in present]
    at = chosen.index("forgetting") + 1 if "forgetting" in chosen else len(chosen)
    return [*chosen[:at], *learned, *chosen[at:]]


def heading(metric: str) -> str:
    """``learned_B`` -> ``B after B``, ``final_ACC`` -> ``final ACC``."""
    if not isinstance(metric, str):
        raise TypeError(f"metric must be a str, got {describe(metric)}")
    if metric.startswith(LEARNED):
        task = metric.removeprefix(LEARNED)
        return f"{task} after {task}"
    return metric.replace("_", " ")


def interval(value: float, low: float, high: float, sign: str = "") -> str:
    """``value [low, high]`` to three decimals (``-`` for a NaN value, the value alone for a NaN
    interval); ``sign`` is a format sign option (``""``, ``"+"``, ``"-"``, ``" "``)."""
    check_choice("sign", sign, ("", "+", "-", " "))
    for name, number in (("value", value), ("low", low), ("high", high)):
        if not (np.ndim(number) == 0 and pd.isna(number)):
            check_real(name, number)
    if pd.isna(value):
        return "-"
    if pd.isna(low):
        return f"{value:{sign}.3f}"
    return f"{value:{sign}.3f} [{low:{sign}.3f}, {high:{sign}.3f}]"


def _table(summary: pd.DataFrame, metrics: list[str], count: str, cell) -> tuple[list[str], list[list[str]]]:
    """One row per (grid point, sweep values, variant): the ``count`` of the first metric and
    ``cell(row)`` per metric."""
    sweep = [c for c in summary.columns if c.startswith("sweep.")]
    header = ["point", *sweep, "variant", count, *map(heading, metrics)]
    rows = []
    for (point, variant), group in summary.groupby(["point", "variant"], sort=False):
        by_metric = group.set_index("metric")
        first = group.iloc[0]
        counted = [m for m in metrics if m in by_metric.index]
        n = int(by_metric.loc[counted[0], count]) if counted else 0
        cells = [cell(by_metric.loc[m]) if m in by_metric.index else "-" for m in metrics]
        rows.append([str(point), *(str(first[c]) for c in sweep), str(variant), str(n), *cells])
    return header, rows


def summary_rows(summary: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the first table: ``mean [low, high]`` per metric."""
    require_columns("summary", summary, ["point", "variant", "metric", "n", "mean", "ci_low", "ci_high"])
    return _table(
        summary,
        present_metrics(summary, SUMMARY_METRICS),
        "n",
        lambda r: interval(r["mean"], r["ci_low"], r["ci_high"]),
    )


def difference_rows(summary: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the second table: ``diff [low, high]`` to the reference per main metric,
    one row per variant other than the reference."""
    require_columns(
        "summary", summary, ["point", "variant", "reference", "metric", "n_pairs", "diff", "diff_low", "diff_high"]
    )
    others = summary[summary.variant != summary.reference]
    return _table(
        others,
        present_metrics(summary, MAIN_METRICS),
        "n_pairs",
        lambda r: interval(r["diff"], r["diff_low"], r["diff_high"], sign="+"),
    )


def detectable_lines(summary: pd.DataFrame) -> list[str]:
    """Per grid point and main metric, the smallest paired difference to the reference that the
    study detects with probability `DETECTABLE_POWER` (the ``detectable`` column; the range over
    the variants when their paired SDs differ). A variant whose paired differences are all equal
    (SD 0) has no such size: it is named apart, as not estimable."""
    require_columns("summary", summary, ["point", "variant", "reference", "metric", "n_pairs", "diff_sd", "detectable"])
    others = summary[summary.variant != summary.reference]
    points = others.point.unique()
    sweep = [c for c in summary.columns if c.startswith("sweep.")]
    power = f"{DETECTABLE_POWER * 100:.0f} %"
    lines = []
    for point in points:
        at = others[others.point == point]
        prefix = ""
        if len(points) > 1:
            values = ", ".join(f"{c.removeprefix('sweep.')}={at.iloc[0][c]}" for c in sweep)
            prefix = f"point {point} ({values}): " if values else f"point {point}: "
        for metric in present_metrics(summary, MAIN_METRICS):
            rows = at[(at.metric == metric) & at.detectable.notna()]
            flat = sorted(str(v) for v in rows.loc[rows.diff_sd == 0, "variant"])
            rows = rows[rows.diff_sd > 0]
            note = f" ({', '.join(flat)}: every paired difference equal, not estimable)" if flat else ""
            if rows.empty:
                reason = "every paired difference is equal" if flat else "fewer than 2 paired seeds"
                lines.append(f"{prefix}{heading(metric)}: {reason}, the detectable difference is not estimable")
                continue
            n = sorted(set(rows.n_pairs))
            seeds = f"n = {n[0]}" if len(n) == 1 else f"n = {n[0]}-{n[-1]}"
            low, high = rows.loc[rows.detectable.idxmin()], rows.loc[rows.detectable.idxmax()]
            size = f"{low.detectable:.3f}"
            if f"{high.detectable:.3f}" != size:
                size = f"{size} ({low.variant}) to {high.detectable:.3f} ({high.variant})"
            lines.append(
                f"{prefix}with {seeds} seeds and the observed paired SD, {heading(metric)} differences smaller than "
                f"{size} would go undetected at {power} power{note}"
            )
    return lines


def scenario(out: Path) -> str | None:
    """The evaluation scenario named by ``DIR/study.json`` (``tasks.kind`` and ``tasks.scenario``),
    or None where it names none."""
    from dassdp.runs.runner import STUDY_JSON

    check_path("out", out)
    path = Path(out) / STUDY_JSON
    if not path.is_file():
        return None
    tasks = json.loads(path.read_text()).get("study", {}).get("tasks", {})
    if tasks.get("kind") == "permuted":
        return "domain-incremental (permuted inputs)"
    return {"task": "task-incremental", "class": "class-incremental"}.get(tasks.get("scenario"))


def calibrated_scales(out: Path) -> dict | None:
    """``DIR/calibration.json`` (criterion and the chosen scale per variant), or None."""
    from dassdp.runs.runner import CALIBRATION_JSON

    check_path("out", out)
    path = Path(out) / CALIBRATION_JSON
    return json.loads(path.read_text()) if path.is_file() else None
