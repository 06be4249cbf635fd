"""Print a study's summary: ACC, BWT, forgetting and mean synchrony per variant (mean and 95 %
bootstrap CI over seeds, from ``DIR/summary.parquet``), and where the report is."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["SUMMARY_METRICS", "print_summary", "summary_rows"]

SUMMARY_METRICS = ("ACC", "BWT", "forgetting", "final_ACC", "final_forgetting", "synchrony")


def _cell(row: pd.Series) -> str:
    if pd.isna(row["mean"]):
        return "-"
    if pd.isna(row["ci_low"]):
        return f"{row['mean']:.3f}"
    return f"{row['mean']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"


def summary_rows(summary: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the printed table: one row per (grid point, variant)."""
    metrics = [m for m in SUMMARY_METRICS if m in set(summary.metric)]
    sweep = [c for c in summary.columns if c.startswith("sweep.")]
    header = ["point", *sweep, "variant", "n", *metrics]
    rows = []
    for (point, variant), group in summary.groupby(["point", "variant"], sort=False):
        by_metric = group.set_index("metric")
        first = group.iloc[0]
        n = int(by_metric.loc[metrics[0], "n"]) if metrics else 0
        cells = [_cell(by_metric.loc[m]) if m in by_metric.index else "-" for m in metrics]
        rows.append([str(point), *(str(first[c]) for c in sweep), str(variant), str(n), *cells])
    return header, rows


def print_summary(out: Path, console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Path(out)
    console = console or Console(width=160)
    summary = pd.read_parquet(out / "summary.parquet")
    header, rows = summary_rows(summary)
    table = Table(title=f"{out.name}: mean [95% bootstrap CI] over seeds")
    for column in header:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    console.print(
        "ACC/BWT/forgetting: first pass through the tasks; final_*: after the last block (sequences that "
        "revisit tasks); synchrony: mean training S of the plastic layer."
    )
    console.print(f"tables: {out}/*.parquet   report: dassdp report {out}")
