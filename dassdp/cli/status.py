"""``dassdp status DIR``: runs done and pending, per variant (and the summary once complete)."""

from __future__ import annotations

import argparse
from pathlib import Path

from dassdp.cli.run import fail
from dassdp.runs.study import StudyError

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results_dir", type=Path, help="results directory of `dassdp run`")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from dassdp.cli.summary import print_summary
    from dassdp.runs import store
    from dassdp.runs.runner import load_dir, run_states

    try:
        runs, _ = load_dir(args.results_dir)
    except StudyError as err:
        return fail("status", err)
    states = run_states(runs)
    total = len(runs.calibration) + runs.n_runs
    table = Table(title=f"{runs.study.name} ({runs.out}): {int(states.done.sum())}/{total} runs done")
    for column in ("stage", "variant", "done", "pending"):
        table.add_column(column)
    for stage in ("calibration", "study"):
        for variant in runs.study.variants:
            rows = states[(states.stage == stage) & (states.variant == variant)]
            if stage == "study" and not runs.runs:  # waiting for the calibration's choice
                table.add_row(stage, variant, "0", str(runs.n_runs // len(runs.study.variants)))
            elif len(rows):
                table.add_row(stage, variant, str(int(rows.done.sum())), str(int((~rows.done).sum())))
    console = Console(width=160)
    console.print(table)
    complete = bool(runs.runs) and bool(states.done.all()) and (runs.out / store.MANIFEST).is_file()
    if complete:
        print_summary(runs.out, console)
    elif runs.runs and states.done.all():
        console.print(f"all runs done but not aggregated: dassdp resume {runs.out}")
    else:
        console.print(f"pending: dassdp resume {runs.out}")
    return 0
