"""Print a study's summary (`dassdp.analysis.summary`) on the console: the tables of means and of
paired differences to the reference, the detectable differences, the scenario, the calibrated
scales, and where the tables and the report are."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dassdp.analysis.summary import (
    calibrated_scales,
    detectable_lines,
    difference_rows,
    scenario,
    summary_rows,
)

__all__ = ["print_summary"]


def _print_table(console, title: str, header: list[str], rows: list[list[str]]) -> None:
    from rich.table import Table

    table = Table(title=title)
    for column in header:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)


def print_summary(out: Path, console=None) -> None:
    from rich.console import Console

    out = Path(out)
    console = console or Console(width=180)
    summary = pd.read_parquet(out / "summary.parquet")
    named = scenario(out)
    if named is not None:
        console.print(f"scenario: {named}")
    _print_table(console, f"{out.name}: mean [95% t-interval] over seeds", *summary_rows(summary))
    console.print(
        "ACC/BWT/forgetting: first pass through the tasks; <task> after <task>: accuracy on a task right "
        "after its first block; final ACC: after the last block (sequences that revisit tasks)."
    )
    scales = calibrated_scales(out)
    if scales:
        console.print(
            f"calibrated learning-rate scales ({scales['criterion']} on a validation split): "
            + ", ".join(f"{v} x{s:g}" for v, s in scales["scales"].items())
        )
        if scales.get("at_edge"):
            console.print(
                f"  at the edge of the grid {scales['grid']}: {', '.join(scales['at_edge'])} (the grid may "
                "not bracket their best rate)"
            )
    if "reference" in summary.columns and (summary.variant != summary.reference).any():
        reference = summary.reference.iloc[0]
        _print_table(
            console, f"paired difference to {reference} per seed: mean [95% t-interval]", *difference_rows(summary)
        )
        for line in detectable_lines(summary):
            console.print(line)
    console.print(f"tables: {out}/*.parquet   report: dassdp report {out}")
