"""``dassdp network-demo``: run the small DA-SSDP network of `dassdp.runs.network_demo` in Brian2,
print the fitted gate, synchrony, loss, dopamine and weight changes, and draw the run window by
window (`dassdp.runs.network_demo.plot_windows`) into a PNG file whose path it prints."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        default="numpy",
        choices=["numpy", "cython", "cpp_standalone"],
        help="Brian2 code-generation target (default: numpy)",
    )
    parser.add_argument("--windows", type=int, default=200, help="number of 25 ms windows (default: 200)")
    parser.add_argument("--warmup", type=int, default=40, help="warm-up windows (default: 40)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    parser.add_argument(
        "--figure",
        type=Path,
        default=Path("network_demo.png"),
        help="where to write the figure (default: network_demo.png in the current directory)",
    )


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from dassdp.runs.network_demo import N_INPUT, N_READOUT, plot_windows, simulate

    console = Console()
    with (
        console.status(f"Simulating {args.windows} windows of DA-SSDP on {args.target} ..."),
        tempfile.TemporaryDirectory(prefix="dassdp-demo-") as build,
    ):
        out = simulate(args.target, args.windows, args.warmup, args.seed, directory=build)
    gate, warm = out["gate"], slice(0, args.warmup)
    after = slice(args.warmup, None)
    dw = out["w"] - out["w0"]
    half = N_INPUT // 2

    table = Table(title="DA-SSDP demo: 50 Poisson inputs -> 2 LIF readouts, 25 ms windows")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_row("fitted gate k (= -corr(S, L))", f"{gate.k:+.4f}")
    table.add_row("gate mu (mean S in warm-up)", f"{gate.mu:.4f}")
    table.add_row("gate s (std S in warm-up)", f"{gate.s:.4f}")
    table.add_row("mean synchrony S: warm-up / after", f"{out['S'][warm].mean():.4f} / {out['S'][after].mean():.4f}")
    table.add_row("mean loss L: warm-up / after", f"{out['L'][warm].mean():.4f} / {out['L'][after].mean():.4f}")
    table.add_row(
        "dopamine (gate) after warm-up: min / mean / max",
        f"{out['DA'][after].min():.3f} / {out['DA'][after].mean():.3f} / {out['DA'][after].max():.3f}",
    )
    table.add_row("weight change: mean / min / max", f"{dw.mean():+.4f} / {dw.min():+.4f} / {dw.max():+.4f}")
    for j in range(N_READOUT):
        table.add_row(
            f"readout {j}: mean dW from inputs 0-{half - 1} / {half}-{N_INPUT - 1}",
            f"{dw[j, :half].mean():+.4f} / {dw[j, half:].mean():+.4f}",
        )
    console.print(table)
    title = (
        f"dassdp network-demo: {N_INPUT} Poisson inputs -> {N_READOUT} LIF readouts, DA-SSDP, "
        f"{args.windows} windows of 25 ms ({args.target}, seed {args.seed})"
    )
    path = plot_windows(out, args.figure, title)
    print(f"figure: {path}")
    return 0
