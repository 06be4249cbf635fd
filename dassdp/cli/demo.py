"""``dassdp demo`` (``make demo``): the digits A -> B -> A task-switch study in Brian2.

Runs the study embedded in the package (`STUDY`, ``dassdp/runs/studies/digits_ab_brian2.toml``,
whose header states its question and protocol): PyTorch pretraining on task A, exact conversion,
then A -> B -> A in Brian2 with no plasticity, STDP, DA-STDP, SSDP and DA-SSDP on the readout, a
learning-rate scale per plastic variant calibrated on a validation split, 8 seeds, in local worker
processes on a CPU Brian2 target. It writes ``results/digits_ab_brian2`` (Parquet tables and a
report) and prints ACC, BWT, forgetting and each task's accuracy right after its block per
variant with 95 % t-intervals, the paired differences to ``none``, and the smallest difference the
study could detect. ``--target`` changes the one field that selects the Brian2 device (e.g.
``cuda_standalone`` on a GPU machine). Running it again finishes an interrupted demo and reuses
finished runs.
"""

from __future__ import annotations

import argparse
import re
import tomllib
from importlib import resources
from pathlib import Path

from dassdp.cli.run import add_execution_arguments, execute_study, fail
from dassdp.runs.study import StudyError

STUDY = "digits_ab_brian2.toml"


def study_text(target: str | None = None) -> str:
    """The embedded study file, with ``brian2.target`` set to ``target`` if given."""
    text = resources.files("dassdp.runs").joinpath("studies", STUDY).read_text()
    if target is not None:
        text, n = re.subn(r'(?m)^target = ".*"$', f'target = "{target}"', text)
        assert n == 1, "the embedded study sets brian2.target once"
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("results") / Path(STUDY).stem,
        help="results directory (default: results/digits_ab_brian2)",
    )
    parser.add_argument(
        "--target",
        default=None,
        choices=["numpy", "cython", "cpp_standalone", "cuda_standalone"],
        help="Brian2 target of the Brian2 phase (default: the study's, numpy)",
    )
    add_execution_arguments(parser, workers=2)


def run(args: argparse.Namespace) -> int:
    from dassdp.analysis.report import build_report
    from dassdp.runs.runner import prepare_dir
    from dassdp.runs.study import parse_study

    text = study_text(args.target)
    try:
        study = parse_study(tomllib.loads(text), source=f"embedded {STUDY}")
        runs = prepare_dir(study, text, args.out, resume=True)
    except StudyError as err:
        return fail("demo", err)
    status = execute_study(runs, args, "demo")
    if status == 0:
        html, _ = build_report(runs.out)
        print(f"report: {html}")
    return status
