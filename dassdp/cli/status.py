"""``dassdp status DIR``: runs done, damaged and pending, per variant (and the summary once
complete). A damaged run (a table that no longer matches its manifest's checksum) or damaged
aggregate tables are redone by ``dassdp resume DIR``. Reads only: works while a study runs and on a
read-only file system."""

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
        states = run_states(runs)
        damaged_tables = store.damaged_tables(runs.out)
    except (StudyError, store.StoreError) as err:
        return fail("status", err)
    total = len(runs.calibration) + runs.n_runs
    table = Table(title=f"{runs.study.name} ({runs.out}): {int(states.done.sum())}/{total} runs done")
    for column in ("stage", "variant", "done", "damaged", "pending"):
        table.add_column(column)
    for stage in ("calibration", "study"):
        for variant in runs.study.variants:
            rows = states[(states.stage == stage) & (states.variant == variant)]
            if stage == "study" and not runs.runs:  # waiting for the calibration's choice
                table.add_row(stage, variant, "0", "0", str(runs.n_runs // len(runs.study.variants)))
            elif len(rows):
                counts = rows.state.value_counts()
                table.add_row(stage, variant, *(str(int(counts.get(s, 0))) for s in ("done", "damaged", "pending")))
    console = Console(width=160)
    console.print(table)
    damaged = states[states.state == "damaged"].run.tolist()
    if damaged:
        console.print(f"damaged runs (a table differs from its checksum), redone by resume: {', '.join(damaged)}")
    all_done = bool(runs.runs) and bool(states.done.all())
    if all_done and damaged_tables:
        console.print(f"aggregate tables damaged ({', '.join(damaged_tables)}): dassdp resume {runs.out}")
    elif all_done and (runs.out / store.MANIFEST).is_file():
        print_summary(runs.out, console)
    elif all_done:
        console.print(f"all runs done but not aggregated: dassdp resume {runs.out}")
    else:
        console.print(f"pending: dassdp resume {runs.out}")
    return 0
