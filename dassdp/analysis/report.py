"""An HTML and a Markdown report of a results directory (``dassdp report RESULTS_DIR``).

The report shows the study specification (every ``*.toml`` in the directory, verbatim), a summary
of every Parquet table (shape, columns, ``describe()``), the figures of
:data:`dassdp.analysis.figures.FIGURES` that fit each table's columns, and the versions and seeds
recorded in ``manifest.json``. The HTML is self-contained (figures embedded as base64 PNG); the
Markdown links the PNG files written beside it.
"""

from __future__ import annotations

import base64
import html
import json
import platform
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["build_report"]


def _versions(manifest: dict) -> dict[str, str]:
    import dassdp

    versions = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "dassdp": dassdp.__version__,
    }
    versions.update({f"{k} (manifest)": str(v) for k, v in manifest.get("versions", {}).items()})
    return versions


def build_report(results_dir: Path, out_dir: Path | None = None) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.md`` into ``out_dir`` and return their paths."""
    from dassdp.analysis.figures import FIGURES

    results_dir = Path(results_dir)
    out_dir = Path(out_dir) if out_dir is not None else results_dir / "report"
    figure_dir = out_dir / "figures"
    manifest_path = results_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}

    md: list[str] = [f"# Report: {results_dir.name}", ""]
    body: list[str] = [f"<h1>Report: {html.escape(results_dir.name)}</h1>"]

    def section(title: str) -> None:
        md.extend([f"## {title}", ""])
        body.append(f"<h2>{html.escape(title)}</h2>")

    def block(text: str, heading: str | None = None) -> None:
        if heading:
            md.extend([f"### {heading}", ""])
            body.append(f"<h3>{html.escape(heading)}</h3>")
        md.extend(["```", text, "```", ""])
        body.append(f"<pre>{html.escape(text)}</pre>")

    section("Study specification")
    specs = sorted(results_dir.glob("*.toml"))
    for spec in specs:
        block(spec.read_text(), spec.name)
    if not specs:
        block("(no *.toml found)")

    section("Tables")
    # a study's aggregate tables sit at the top; per-run copies below are summarised only without them
    tables = sorted(results_dir.glob("*.parquet")) or sorted(results_dir.rglob("*.parquet"))
    for path in tables:
        table = pd.read_parquet(path)
        name = str(path.relative_to(results_dir))
        summary = f"shape: {table.shape}\ncolumns: {', '.join(map(str, table.columns))}\n\n"
        summary += table.describe(include="all").to_string() if len(table.columns) else ""
        block(summary, name)
        for figure, (function, needed) in FIGURES.items():
            if needed <= set(table.columns) and len(table):
                stem = figure_dir / f"{path.stem}_{figure}"
                png = function(table, stem)[0]
                md.extend([f"![{figure} of {name}]({png.relative_to(out_dir).as_posix()})", ""])
                encoded = base64.b64encode(png.read_bytes()).decode("ascii")
                body.append(
                    f'<figure><img alt="{figure}" src="data:image/png;base64,{encoded}">'
                    f"<figcaption>{html.escape(figure)} of {html.escape(name)}</figcaption>"
                    "</figure>"
                )

    section("Versions and seeds")
    versions = _versions(manifest)
    if "seeds" in manifest:
        versions["seeds"] = ", ".join(map(str, manifest["seeds"]))
    block("\n".join(f"{k}: {v}" for k, v in versions.items()))

    out_dir.mkdir(parents=True, exist_ok=True)
    html_path, md_path = out_dir / "report.html", out_dir / "report.md"
    html_path.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>dassdp report</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
        "pre{background:#f4f4f4;overflow-x:auto;padding:0.5em}img{max-width:100%}</style>"
        "</head><body>" + "\n".join(body) + "</body></html>\n"
    )
    md_path.write_text("\n".join(md))
    return html_path, md_path
