"""``dassdp report RESULTS_DIR``: write the report of `dassdp.analysis.report` (no Brian2 or torch
import), or say that the one there is of the same inputs and return at once. Tables that differ
from the checksums in the study's manifest, or a report directory that cannot be written, exit
with status 2 and say what to do."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from dassdp.analysis.report import build_report, report_is_current
from dassdp.runs import store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results_dir", type=Path, help="directory with Parquet tables, *.toml and manifest.json")
    parser.add_argument("--out", type=Path, default=None, help="output directory (default: RESULTS_DIR/report)")
    parser.add_argument("--force", action="store_true", help="rewrite the report even if its inputs have not changed")


def run(args: argparse.Namespace) -> int:
    if not args.results_dir.is_dir():
        print(
            f"dassdp report: results directory {str(args.results_dir)!r} does not exist",
            file=sys.stderr,
        )
        return 2
    try:
        damaged = store.damaged_tables(args.results_dir)
    except store.StoreError as err:
        print(f"dassdp report: {err}", file=sys.stderr)
        return 2
    if damaged:
        print(
            f"dassdp report: {', '.join(damaged)} in {str(args.results_dir)!r} differ from the study's checksums; "
            f"`dassdp resume {args.results_dir}` rewrites them",
            file=sys.stderr,
        )
        return 2
    current = not args.force and report_is_current(args.results_dir, args.out)
    started = time.perf_counter()
    try:
        html_path, md_path = build_report(args.results_dir, args.out, force=args.force)
    except OSError as err:
        where = args.out if args.out is not None else args.results_dir / "report"
        print(
            f"dassdp report: cannot write the report to {str(where)!r}: {err.strerror or err}; "
            "choose a writable directory with --out",
            file=sys.stderr,
        )
        return 2
    if current:
        print(f"report unchanged, its inputs have not changed (--force rewrites it): {html_path}")
    else:
        print(f"wrote {html_path} and {md_path} in {time.perf_counter() - started:.1f} s")
    return 0
