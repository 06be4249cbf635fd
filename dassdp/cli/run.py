"""``dassdp run STUDY.toml``: run a continual-learning study (see `dassdp.runs.study`).

Options shared with ``dassdp resume``: ``--workers N`` local processes, or ``--scheduler ADDR`` /
``--local-cluster N`` for Dask. An invalid study file, an unusable ``--out``, an unreachable
scheduler or a results directory in use by another process exits with status 2 before anything is
written; a run that fails is reported (status 1) and redone by ``dassdp resume``. Ctrl-C starts no
further run, stops the running ones and exits with status 130, saying how to resume; the runs
already stored are kept.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from dassdp.runs.study import StudyError

__all__ = ["add_arguments", "add_execution_arguments", "execute_study", "fail", "run"]


def add_execution_arguments(parser: argparse.ArgumentParser, workers: int = 1) -> None:
    parser.add_argument(
        "--workers",
        type=int,
        default=workers,
        help=f"local worker processes (default {workers}{': in this process' if workers == 1 else ''})",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--scheduler",
        metavar="ADDR",
        default=None,
        help="Dask scheduler address, e.g. tcp://host:8786 (workers must see the results directory)",
    )
    where.add_argument(
        "--local-cluster", metavar="N", type=int, default=None, help="start a Dask LocalCluster with N worker processes"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", type=Path, help="study file (TOML)")
    parser.add_argument("--out", type=Path, default=None, help="results directory (default: results/<study file stem>)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted study in --out")
    add_execution_arguments(parser)


def fail(command: str, err: StudyError | OSError) -> int:
    """Print why ``command`` cannot go on (an invalid input, or a results directory it cannot use) and return 2."""
    if isinstance(err, StudyError):
        print(f"dassdp {command}: invalid input. {err}", file=sys.stderr)
    else:
        print(f"dassdp {command}: {err}", file=sys.stderr)
    return 2


def execute_study(runs, args: argparse.Namespace, command: str) -> int:
    """Run the pending runs with progress bars, aggregate, print the summary; the results
    directory stays locked throughout (`dassdp.runs.store.lock`)."""
    from dassdp.runs import store

    started = time.time()
    try:
        with store.lock(runs.out):
            failures = _run_with_progress(runs, args)
            if not failures:
                from dassdp.runs.runner import aggregate

                aggregate(runs, started)
    except (StudyError, store.StoreError) as err:
        return fail(command, err)
    except KeyboardInterrupt:
        print(
            f"dassdp {command}: interrupted; the finished runs are kept, continue with `dassdp resume {runs.out}`",
            file=sys.stderr,
        )
        return 130
    if failures:
        for run_id, err in failures:
            print(f"dassdp {command}: run {run_id} failed: {type(err).__name__}: {err}", file=sys.stderr)
        print(
            f"dassdp {command}: {len(failures)} run(s) failed; fix the cause and `dassdp resume {runs.out}`",
            file=sys.stderr,
        )
        return 1
    if not args.quiet:
        from dassdp.cli.summary import print_summary

        print_summary(runs.out)
    print(f"study done in {time.time() - started:.1f} s: {runs.out}")
    return 0


def _run_with_progress(runs, args: argparse.Namespace) -> list:
    """`dassdp.runs.runner.run_study` with a progress bar per variant (and one for calibration)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from dassdp.runs.runner import run_study

    console = Console(stderr=True, quiet=args.quiet)
    variants = list(runs.study.variants)
    per_variant = runs.n_runs // len(variants)  # every variant runs every seed and grid point
    counts = {v: per_variant + sum(spec.variant == v for _, _, spec in runs.calibration) for v in variants}
    calibration = {spec.run_id for _, _, spec in runs.calibration}
    columns = (TextColumn("{task.description:>12}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    # no refresh thread: local workers are forked from this process (see `run_study`)
    with Progress(*columns, console=console, transient=False, auto_refresh=False) as progress:
        overall = progress.add_task("all runs", total=runs.n_runs + len(calibration))
        stage = progress.add_task("calibration", total=len(calibration)) if calibration else None
        bars = {v: progress.add_task(v, total=counts[v]) for v in variants}

        def done(manifest: dict) -> None:
            progress.advance(overall)
            progress.advance(bars[manifest["variant"]])
            if manifest["run_id"] in calibration:
                progress.advance(stage)
            progress.refresh()

        return run_study(runs, args.workers, args.scheduler, args.local_cluster, on_done=done)


def run(args: argparse.Namespace) -> int:
    from dassdp.runs.runner import check_execution, prepare_dir
    from dassdp.runs.study import load_study

    try:
        study, text = load_study(args.study)
        check_execution(args.workers, args.local_cluster, args.scheduler)
        out = args.out if args.out is not None else Path("results") / args.study.stem
        runs = prepare_dir(study, text, out, args.resume)
    except StudyError as err:
        return fail("run", err)
    return execute_study(runs, args, "run")
