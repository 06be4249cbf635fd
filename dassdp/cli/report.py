"""``dassdp report RESULTS_DIR``: write the report of `dassdp.analysis.report` (no Brian2 or torch
import)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dassdp.analysis.report import build_report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "results_dir", type=Path, help="directory with Parquet tables, *.toml and manifest.json"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="output directory (default: RESULTS_DIR/report)"
    )


def run(args: argparse.Namespace) -> int:
    if not args.results_dir.is_dir():
        print(
            f"dassdp report: results directory {str(args.results_dir)!r} does not exist",
            file=sys.stderr,
        )
        return 2
    html_path, md_path = build_report(args.results_dir, args.out)
    print(f"wrote {html_path} and {md_path}")
    return 0
