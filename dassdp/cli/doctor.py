"""``dassdp doctor``: which Brian2 targets work on this machine, and why not.

Prints the facts and per-target status of `dassdp.runs.doctor.diagnose`. Exits 0 when the CPU
targets work, 1 otherwise.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--compile-cuda",
        action="store_true",
        help="also generate and compile a small network for cuda_standalone (minutes)",
    )


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from dassdp.runs.doctor import CPU_TARGETS, diagnose

    console = Console()
    with console.status("Checking Brian2 targets ..."):
        report = diagnose(compile_cuda=args.compile_cuda)
    facts = Table(title="dassdp doctor: this machine", show_header=False)
    for key, value in report["facts"].items():
        facts.add_row(key, value)
    targets = Table(title="Brian2 targets")
    targets.add_column("target")
    targets.add_column("status")
    for target, state in report["targets"].items():
        targets.add_row(target, state)
    console.print(facts, targets)
    return 0 if all(report["targets"][t] == "ok" for t in CPU_TARGETS) else 1
