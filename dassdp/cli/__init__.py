"""The ``dassdp`` command line.

Each sub-command lives in its own module of this package, which provides ``add_arguments(parser)``
and ``run(args) -> int`` and leaves the work to the library (``dassdp.runs``, ``dassdp.bridge``,
``dassdp.analysis``). Modules are imported only when their command is used, so ``dassdp --help``
stays fast and ``dassdp report`` works without Brian2 or torch being imported. A command that
needs an optional dependency that is not installed exits with status 1 and names the extra to
install (`dassdp.extras`). Ctrl-C exits with status 130 and one line, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import sys

from dassdp.extras import EXTRAS, install_hint

#: command name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": (
        "dassdp.cli.demo",
        "the digits A -> B -> A task-switch study in Brian2 (make demo): tables, summary, report",
    ),
    "network-demo": ("dassdp.cli.network_demo", "run a small DA-SSDP network in Brian2 and print what it learnt"),
    "report": ("dassdp.cli.report", "write an HTML and Markdown report of a results directory"),
    "doctor": ("dassdp.cli.doctor", "which Brian2 targets (numpy, cython, cpp/cuda standalone) work here, and why not"),
    "bench": ("dassdp.cli.bench", "run a side-by-side benchmark from benchmarks/ (not a test)"),
    "paper": (
        "dassdp.cli.paper",
        "train with and without DA-SSDP on a small data set and compare (the paper's comparison)",
    ),
    "convert": ("dassdp.cli.convert", "convert a PyTorch model or NIR graph to Brian2 or NIR"),
    "run": ("dassdp.cli.run", "run a continual-learning study file (TOML), locally or on Dask"),
    "resume": ("dassdp.cli.resume", "finish an interrupted study in a results directory"),
    "status": ("dassdp.cli.status", "runs done and pending in a results directory, per variant"),
}


def _top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dassdp", description="DA-SSDP research framework (arXiv 2512.07194).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {importlib.metadata.version('dassdp')}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_) in COMMANDS.items():
        sub.add_parser(name, help=help_, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        parser = _top_parser()
        parser.parse_args(argv or ["--help"])
        return 2
    name, rest = argv[0], argv[1:]
    try:
        module = importlib.import_module(COMMANDS[name][0])
        parser = argparse.ArgumentParser(prog=f"dassdp {name}", description=COMMANDS[name][1])
        module.add_arguments(parser)
        args = parser.parse_args(rest)
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print(f"dassdp {name}: interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as err:
        if err.name not in EXTRAS:
            raise
        print(f"dassdp {name}: needs {err.name}, which is not installed: {install_hint(err.name)}", file=sys.stderr)
        return 1
