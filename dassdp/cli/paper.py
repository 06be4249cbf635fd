"""``dassdp paper``: the comparison of `dassdp.runs.paper` over paired seeds.

Writes ``results.parquet`` (tidy: dataset, seed, variant, epoch, train_acc, test_acc, loss,
gate_k, S) and ``summary.csv`` (see `dassdp.runs.paper.summarise`) and prints the summary.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from dassdp.runs.datasets import DATASETS, load_dataset
from dassdp.runs.paper import SETUPS, VARIANTS, summarise, train


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", choices=DATASETS, default="digits")
    parser.add_argument("--seeds", type=int, default=5, help="number of paired seeds (0 .. N-1)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per run (default: the data set's setup)")
    parser.add_argument("--out", type=Path, default=Path("paper-results"), help="output directory")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    if args.seeds < 1 or (args.epochs is not None and args.epochs < 1):
        raise SystemExit("dassdp paper: --seeds and --epochs must be >= 1")
    setup = SETUPS[args.dataset]
    epochs = args.epochs or setup.epochs
    dataset = load_dataset(args.dataset)
    rows = []
    with Progress() as progress:
        task = progress.add_task(f"{args.dataset}", total=args.seeds * len(VARIANTS) * epochs)
        for seed in range(args.seeds):
            for variant, gate in VARIANTS.items():
                for record in train(dataset, setup, seed, gate, epochs):
                    rows.append({"dataset": args.dataset, "seed": seed, "variant": variant, **record})
                    progress.advance(task)
    results = pd.DataFrame(rows)
    summary = summarise(results)
    args.out.mkdir(parents=True, exist_ok=True)
    results.to_parquet(args.out / "results.parquet", index=False)
    summary.to_csv(args.out / "summary.csv", index=False)
    table = Table(title=f"{args.dataset}: final test accuracy ({epochs} epochs, {args.seeds} seeds)")
    for column in summary.columns:
        table.add_column(column)
    for record in summary.itertuples(index=False):
        table.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for v in record))
    Console(width=max(Console().width, 140)).print(table)
    print(f"wrote {args.out / 'results.parquet'} and {args.out / 'summary.csv'}")
    return 0
