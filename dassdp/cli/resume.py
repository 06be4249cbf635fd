"""``dassdp resume DIR``: finish an interrupted study; runs whose manifest says done are kept,
any other run directory is removed and the run redone, then the tables are aggregated."""

from __future__ import annotations

import argparse
from pathlib import Path

from dassdp.cli.run import add_execution_arguments, execute_study, fail
from dassdp.runs.study import StudyError

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results_dir", type=Path, help="results directory of `dassdp run`")
    add_execution_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from dassdp.runs.runner import check_execution, load_dir

    try:
        check_execution(args.workers, args.local_cluster, args.scheduler)
        runs, _ = load_dir(args.results_dir)
    except StudyError as err:
        return fail("resume", err)
    return execute_study(runs, args, "resume")
