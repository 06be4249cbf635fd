"""``dassdp bench NAME``: side-by-side benchmarks from the checkout's ``benchmarks/`` folder.

A benchmark is ``benchmarks/bench_<name>.py`` with ``run(json_out: bool) -> dict``; the dict is
printed as JSON with ``--json`` and as an indented listing otherwise. Benchmarks are not tests:
they report times and ratios, they do not assert them.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parents[2] / "benchmarks"


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in BENCH_DIR.glob("bench_*.py"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help=f"one of: {', '.join(available()) or '(none found)'}")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")


def run(args: argparse.Namespace) -> int:
    path = BENCH_DIR / f"bench_{args.name}.py"
    if not path.is_file():
        print(f"dassdp bench: unknown benchmark {args.name!r}; available: {', '.join(available())}")
        return 2
    spec = importlib.util.spec_from_file_location(f"dassdp_bench_{args.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.run(json_out=args.json)
    print(json.dumps(result, indent=2, default=str) if args.json else _pretty(result))
    return 0


def _pretty(result: dict, indent: int = 0) -> str:
    lines = []
    for key, value in result.items():
        if isinstance(value, dict):
            lines += [" " * indent + f"{key}:", _pretty(value, indent + 2)]
        else:
            lines.append(" " * indent + f"{key}: {value}")
    return "\n".join(lines)
