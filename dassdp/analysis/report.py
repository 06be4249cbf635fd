"""The report of a study's results directory (``dassdp report DIR``): ``report.html``, one
self-contained page (figures embedded as PNG, no script, no external resource) that opens
offline, and ``report.md`` with the same content and the figures as PNG and SVG files beside it
(``figures/``).

Its first screen answers "which rule forgets less or learns more, by how much, and how sure":

- the study's question (its ``description``), the evaluation scenario, the phase and task
  sequence, the variants and the reference variant, the seeds and each variant's learning-rate
  scale (with the calibration's criterion, validation split and grid where it chose them);
- per variant, ACC, BWT, FWT, forgetting, each task's accuracy right after its block and the final
  accuracy and forgetting as mean [95 % t-interval] over seeds, with the paired difference to the
  reference and its interval beneath (``summary.parquet``, `dassdp.analysis.stats.summarise`);
  then, per main metric, the smallest difference the study could detect at 80 % power
  (`dassdp.analysis.summary.detectable_lines`, the console summary's words) and the paired differences
  as a figure.

Then, per grid point of a sweep: the accuracy matrix of each variant, learning curves, weight
changes and ranges per block, DA-SSDP's gate and DA-STDP's dopamine on separate axes, synchrony
over training and the gate diagnostics (`dassdp.analysis.gate_diagnostics`: the warm-up (S, L)
with the relation the fitted gate implies, their trends over trials, the gate per block, and the
table); the calibration (criterion per grid value); an appendix with the study file, every table
(as an HTML table or a link to its Parquet file) and the versions. Every figure
(`dassdp.analysis.figures`) has a title, axes with units and a one-line caption saying what to
look for. Sections whose tables a directory lacks (no calibration, no DA-SSDP variant, the
PyTorch phase's missing dopamine) are left out.

`build_report` writes a digest of its inputs (every ``DIR/*.parquet``, ``*.json`` and ``*.toml``,
the manifest without its wall-clock time, and the source of this module, the figures module and
the console summary) as ``inputs.sha256`` beside the report, and returns at once, writing
nothing, while the digest matches (`report_is_current`). A ``results_dir`` that is not an existing
directory raises ValueError, an argument of the wrong type TypeError, each naming it.
"""

from __future__ import annotations

import base64
import hashlib
import html
import importlib.util
import json
import os
import platform
from pathlib import Path

import numpy as np
import pandas as pd

# the console summary's helpers, so that both say the same in the same words
from dassdp.analysis.gate_diagnostics import RUN_COLUMNS
from dassdp.analysis.summary import (
    MAIN_METRICS,
    calibrated_scales,
    detectable_lines,
    heading,
    interval,
    present_metrics,
    scenario,
)
from dassdp.checks import check_path, describe

__all__ = ["DIGEST", "build_report", "report_is_current"]

#: the digest of the inputs, beside the report
DIGEST = "inputs.sha256"
#: modules besides this one whose source shapes the report (a change rewrites it)
CODE = ("dassdp.analysis.figures", "dassdp.analysis.summary", "dassdp.analysis.gate_diagnostics")
#: the tables the report reads, in the appendix's order
TABLES = (
    "summary",
    "metrics",
    "evaluations",
    "training",
    "weights",
    "gate",
    "gate_diagnostics",
    "calibration",
    "rasters",
)
#: metrics of the summary table, in this order; ``learned_<task>`` metrics follow ``forgetting``
SUMMARY_METRICS = ("ACC", "BWT", "FWT", "forgetting", "final_ACC", "final_forgetting")
#: metrics where a lower value is better (the others: higher is better)
LOWER_IS_BETTER = ("forgetting", "final_forgetting")
#: a table with at most this many rows is shown in full in the appendix; larger ones are linked
FULL_TABLE_ROWS = 60
#: what each phase's training rows are
TRIAL = {"brian2": "training window", "torch": "mini-batch"}
SCENARIO_MEANING = {
    "task-incremental": "each task is scored over its own classes only",
    "class-incremental": "every task is scored over all classes with one head",
    "domain-incremental (permuted inputs)": "every task has the same labels on a new input distribution",
}

STYLE = """
body{font-family:system-ui,sans-serif;max-width:1180px;margin:1em auto;padding:0 1em;color:#222;line-height:1.4}
h1{margin-bottom:0.1em} h2{border-bottom:1px solid #ccc;padding-bottom:0.2em;margin-top:1.6em}
.question{font-size:1.15em;margin:0.2em 0 0.6em}
dl.facts{display:grid;grid-template-columns:max-content auto;gap:0.15em 1em;margin:0.5em 0}
dl.facts dt{font-weight:600} dl.facts dd{margin:0}
nav{font-size:0.9em;margin:0.6em 0} nav a{margin-right:0.8em}
table{border-collapse:collapse;font-size:0.85em;margin:0.5em 0}
th,td{border:1px solid #ddd;padding:0.25em 0.5em;text-align:right;vertical-align:top;white-space:nowrap}
th{background:#f3f3f3} tbody th{text-align:left}
table.summary td{white-space:nowrap;line-height:1.25}
table.summary .ci,table.summary .diff{font-size:0.85em} table.summary tr.reference{background:#fafafa}
.ci{color:#666} .diff{font-size:0.9em;color:#555} .better{color:#0a7a2f;font-weight:600}
.worse{color:#b00020;font-weight:600} .note{font-size:0.85em;color:#444}
.scroll{overflow-x:auto} figure{margin:1em 0} figure img{max-width:100%}
figcaption{font-size:0.9em;color:#333} pre{background:#f4f4f4;padding:0.5em;overflow-x:auto}
"""


# ------------------------------------------------------------------------------------------
# regenerating only when the inputs changed
# ------------------------------------------------------------------------------------------


def _digest(results_dir: Path) -> str:
    """SHA-256 of the report's code and its inputs (see the module docstring)."""
    digest = hashlib.sha256()
    for module in (__name__, *CODE):
        digest.update(Path(importlib.util.find_spec(module).origin).read_bytes())
    inputs = sorted(p for p in results_dir.iterdir() if p.is_file() and p.suffix in (".parquet", ".json", ".toml"))
    for path in inputs:
        data = path.read_bytes()
        if path.name == "manifest.json":  # rewritten with a new wall-clock time whenever a study resumes
            manifest = json.loads(data)
            manifest.pop("wall_seconds", None)
            data = json.dumps(manifest, sort_keys=True).encode()
        digest.update(path.name.encode() + b"\0" + data + b"\0")
    return digest.hexdigest()


def _check_dirs(results_dir, out_dir) -> None:
    check_path("results_dir", results_dir)
    if out_dir is not None:
        check_path("out_dir", out_dir)
    if not Path(results_dir).is_dir():
        raise ValueError(f"results_dir {str(results_dir)!r} is not an existing directory")


def _out_dir(results_dir: Path, out_dir: Path | None) -> Path:
    return Path(out_dir) if out_dir is not None else Path(results_dir) / "report"


def report_is_current(results_dir: Path, out_dir: Path | None = None, digest: str | None = None) -> bool:
    """Whether ``out_dir`` holds a report of exactly the present inputs (its digest matches;
    ``digest``: the inputs' digest if already computed)."""
    _check_dirs(results_dir, out_dir)
    out = _out_dir(results_dir, out_dir)
    stored = out / DIGEST
    if not (stored.is_file() and (out / "report.html").is_file() and (out / "report.md").is_file()):
        return False
    return stored.read_text().strip() == (digest or _digest(Path(results_dir)))


# ------------------------------------------------------------------------------------------
# the document: HTML and Markdown side by side
# ------------------------------------------------------------------------------------------


def _esc(text) -> str:
    return html.escape(str(text))


def _bold(text: str, bold: bool) -> str:
    return f"<b>{text}</b>" if bold else text


class _Document:
    """The report's content, appended to an HTML and a Markdown body at once."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.figure_dir = out_dir / "figures"
        self.html: list[str] = []
        self.md: list[str] = []
        self.sections: list[tuple[str, str]] = []
        self.written: set[Path] = set()

    def heading(self, level: int, title: str, anchor: str | None = None) -> None:
        """A heading; those of level 2 with an ``anchor`` are listed in the page's navigation."""
        if anchor is not None and level == 2:
            self.sections.append((anchor, title))
        ident = f' id="{anchor}"' if anchor else ""
        self.html.append(f"<h{level}{ident}>{_esc(title)}</h{level}>")
        self.md.extend([f"{'#' * level} {title}", ""])

    def paragraph(self, text: str, cls: str | None = None) -> None:
        """``text`` is plain; the HTML escapes it."""
        attr = f' class="{cls}"' if cls else ""
        self.html.append(f"<p{attr}>{_esc(text)}</p>")
        self.md.extend([text, ""])

    def bullets(self, lines: list[str]) -> None:
        self.html.append("<ul>" + "".join(f"<li>{_esc(line)}</li>" for line in lines) + "</ul>")
        self.md.extend([*(f"- {line}" for line in lines), ""])

    def table(
        self,
        header: list[str],
        rows: list[list[str]],
        html_rows: list[str] | None = None,
        cls: str = "data",
        folded: str | None = None,
    ) -> None:
        """A table of plain ``rows``; ``html_rows`` (``<tr>`` elements) replace them in the HTML.
        With ``folded``, the HTML table is folded under that line (a ``<details>`` element)."""
        head = "".join(f"<th>{_esc(h)}</th>" for h in header)
        body = (
            html_rows
            if html_rows is not None
            else ["<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>" for row in rows]
        )
        table = (
            f'<div class="scroll"><table class="{cls}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>"
        )
        self.html.append(f"<details><summary>{_esc(folded)}</summary>{table}</details>" if folded else table)
        self.md.extend(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)])
        self.md.extend("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows)
        self.md.append("")

    def frame(self, frame: pd.DataFrame, folded: str | None = None) -> None:
        """A DataFrame as a table, numbers to 4 significant digits."""
        self.table(
            [str(c) for c in frame.columns],
            [[_cell(v) for v in row] for row in frame.itertuples(index=False)],
            folded=folded,
        )

    def figure(self, function, table: pd.DataFrame, name: str, caption: str, **kwargs) -> None:
        """Draw ``function(table, figures/<name>, **kwargs)``, embed its PNG and add ``caption``."""
        png, *others = function(table, self.figure_dir / name, **kwargs)
        self.written.update([png, *others])
        encoded = base64.b64encode(png.read_bytes()).decode("ascii")
        self.html.append(
            f'<figure><img alt="{_esc(name)}" src="data:image/png;base64,{encoded}">'
            f"<figcaption><b>What to look for:</b> {_esc(caption)}</figcaption></figure>"
        )
        self.md.extend([f"![{name}]({png.relative_to(self.out_dir).as_posix()})", "", f"*{caption}*", ""])

    def details(self, summary: str, text: str) -> None:
        self.html.append(f"<details><summary>{_esc(summary)}</summary><pre>{_esc(text)}</pre></details>")
        self.md.extend([f"{summary}:", "", "```", text.rstrip("\n"), "```", ""])

    def page(self, title: str, header: str) -> str:
        nav = "".join(f'<a href="#{a}">{_esc(t)}</a>' for a, t in self.sections)
        return (
            "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{_esc(title)}</title><style>{STYLE}</style></head><body>{header}"
            f"<nav>{nav}</nav>" + "\n".join(self.html) + "</body></html>\n"
        )


def _cell(value) -> str:
    if isinstance(value, float | np.floating):
        return "" if np.isnan(value) else f"{value:.4g}"
    return str(value)


def _write(path: Path, text: str) -> None:
    from dassdp.runs.store import write_atomic

    write_atomic(path, lambda tmp: Path(tmp).write_text(text))


# ------------------------------------------------------------------------------------------
# the study's facts
# ------------------------------------------------------------------------------------------


def _seed_list(seeds) -> str:
    seeds = sorted(int(s) for s in seeds)
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(map(str, seeds))


def _chance(study: dict) -> float | None:
    """Chance accuracy of a task-incremental study whose tasks all have the same number of classes."""
    tasks = study.get("tasks", {})
    sizes = {len(c) for c in (tasks.get("classes") or {}).values()}
    if tasks.get("scenario") == "task" and tasks.get("kind") == "classes" and len(sizes) == 1:
        return 1.0 / sizes.pop()
    return None


def _rate_scales(results_dir: Path, study: dict) -> str:
    calibration = study.get("calibration")
    chosen = calibrated_scales(results_dir)
    if chosen:
        order = [v for v in study.get("variants", []) if v in chosen["scales"]]
        order += [v for v in chosen["scales"] if v not in order]
        scales = ", ".join(f"{v} \u00d7{chosen['scales'][v]:g}" for v in order)
        how = f"chosen per variant by validation {chosen['criterion']}"
        if calibration:
            how += (
                f" on {calibration['validation_fraction']:.0%} of the training data (never the test data) over "
                f"the grid {', '.join(f'{g:g}' for g in calibration['grid'])}; calibration seeds "
                f"{_seed_list(calibration['seeds'])}"
            )
        edge = chosen.get("at_edge")
        if edge:
            how += f"; at the edge of the grid, which may not bracket their best rate: {', '.join(edge)}"
        return f"{scales} (times each rule's base amplitudes), {how}"
    if study.get("phase") == "brian2":
        return f"not calibrated: brian2.rate_scale = {study['brian2']['rate_scale']:g} for every plastic variant"
    if "lr" in study.get("training", {}):
        return f"PyTorch phase, not calibrated: training.lr = {study['training']['lr']:g} for every variant"
    return "not recorded"


def _plastic_layer(tables: dict[str, pd.DataFrame]) -> str | None:
    """The layer DA-SSDP's gate was fitted on (the gate table's), or None without a fit."""
    gate = tables.get("gate")
    return str(gate.layer.iloc[0]) if gate is not None and len(gate) else None


def _facts(
    results_dir: Path, study: dict, tables: dict[str, pd.DataFrame], variants: list[str], reference: str | None
) -> list[tuple[str, str]]:
    facts = [("Question", study.get("description") or "(the study file has no description)")]
    named = scenario(results_dir)
    if named:
        meaning = SCENARIO_MEANING.get(named, "")
        chance = _chance(study)
        facts.append(
            ("Scenario", named + (f": {meaning}" if meaning else "") + (f" (chance {chance:.2g})" if chance else ""))
        )
    phase = study.get("phase")
    if phase == "brian2":
        pretrain = ", ".join(study["brian2"].get("pretrain") or [])
        facts.append(
            (
                "Phase",
                f"Brian2: a spiking MLP surrogate-trained in PyTorch on {pretrain}, converted exactly; "
                "each rule then acts on the readout projection",
            )
        )
    elif phase == "torch":
        layer = _plastic_layer(tables) or "the last hidden LIF layer"
        facts.append(
            (
                "Phase",
                f"PyTorch: surrogate-gradient training of every layer; DA-SSDP (ssdp, dassdp) adds "
                f"its update on the weights into {layer}",
            )
        )
    if study.get("sequence"):
        facts.append(
            (
                "Sequence",
                " -> ".join(f"{b['task']} ({b['epochs']} epoch{'s' * (b['epochs'] != 1)})" for b in study["sequence"]),
            )
        )
    if variants:
        facts.append(("Variants", ", ".join(variants) + (f"; reference: {reference}" if reference else "")))
    seeds = study.get("seeds") or (sorted(tables["metrics"].seed.unique()) if "metrics" in tables else [])
    if len(seeds):
        facts.append(
            (
                "Seeds",
                f"{len(seeds)} ({_seed_list(seeds)}), the same for every variant, so differences are paired by seed",
            )
        )
    facts.append(("Learning-rate scale", _rate_scales(results_dir, study)))
    return facts


# ------------------------------------------------------------------------------------------
# sections
# ------------------------------------------------------------------------------------------


def _point_label(rows: pd.DataFrame) -> str:
    sweep = [c for c in rows.columns if c.startswith("sweep.")]
    first = rows.iloc[0]
    values = ", ".join(f"{c.removeprefix('sweep.')} = {first[c]}" for c in sweep)
    return f"point {first.point}" + (f" ({values})" if values else "")


def _summary_table(doc: _Document, summary: pd.DataFrame) -> None:
    """One row per (point, variant): mean [interval] per metric and the paired difference beneath."""
    metrics = present_metrics(summary, SUMMARY_METRICS)
    points = summary.point.nunique() > 1 if "point" in summary.columns else False
    paired = "reference" in summary.columns
    header = [*(["point"] if points else []), "variant", "n", *map(heading, metrics)]
    rows, html_rows, previous = [], [], None
    for _, group in summary.groupby([*(["point"] if points else []), "variant"], sort=True, observed=True):
        by_metric = group.set_index("metric")
        variant = group.variant.iloc[0]
        is_reference = paired and variant == group.reference.iloc[0]
        n = str(int(by_metric.loc[metrics[0], "n"])) if metrics[0] in by_metric.index else "-"
        point = _point_label(group) if points else None
        plain = [*([point] if points else []), str(variant), n]
        name = _esc(variant) + (" <small>(reference)</small>" if is_reference else "")
        cells = [
            *([f"<td>{_esc(point) if point != previous else ''}</td>"] if points else []),
            f"<th>{name}</th>",
            f"<td>{n}</td>",
        ]
        previous = point
        for metric in metrics:
            if metric not in by_metric.index or pd.isna(by_metric.loc[metric, "mean"]):
                plain.append("-")
                cells.append("<td>-</td>")
                continue
            row = by_metric.loc[metric]
            text = interval(row["mean"], row.ci_low, row.ci_high)
            mean, _, ci = text.partition(" ")
            cell = f"<b>{mean}</b><br><span class='ci'>{_esc(ci)}</span>"
            if paired and not is_reference and pd.notna(row["diff"]):
                diff = interval(row["diff"], row.diff_low, row.diff_high, sign="+")
                text += f"; diff {diff}"
                sign = np.sign(row.diff_low) if np.sign(row.diff_low) == np.sign(row.diff_high) else 0
                sign = -sign if metric in LOWER_IS_BETTER else sign
                verdict = {1: " better", -1: " worse"}.get(sign, "")
                change, _, bounds = diff.partition(" ")
                cell += f"<br><span class='diff{verdict}'>&Delta; {change}<br>{_esc(bounds)}</span>"
            plain.append(text)
            cells.append(f"<td>{cell}</td>")
        rows.append(plain)
        html_rows.append(("<tr class='reference'>" if is_reference else "<tr>") + "".join(cells) + "</tr>")
    doc.table(header, rows, html_rows, cls="summary")
    reference = summary.reference.iloc[0] if paired else None
    doc.paragraph(
        "Each cell: mean [95 % t-interval] over the n seeds"
        + (
            f"; beneath it, \u0394: the paired difference to {reference} per seed, mean [95 % t-interval], green "
            "where the interval lies on the better side of 0, red on the worse"
            if reference
            else ""
        )
        + ". Higher is better except for forgetting. ACC, BWT, FWT and forgetting count the first pass through the "
        "tasks; '<task> after <task>' is the accuracy on a task right after its first block; final ACC and final "
        "forgetting are after the last block (sequences that revisit a task).",
        cls="note",
    )


def _point_sections(
    doc: _Document, figures, tables: dict[str, pd.DataFrame], study: dict, prefix: str, level: int
) -> None:
    """The figures of one grid point, under headings of ``level``; figure names start with ``prefix``."""
    trial = TRIAL.get(study.get("phase"), "trial")
    chance = _chance(study)
    evaluations, training = tables.get("evaluations"), tables.get("training")
    if evaluations is not None and len(evaluations):
        doc.heading(level, "Accuracy matrices", f"{prefix}accuracy")
        doc.figure(
            figures.accuracy_matrices,
            evaluations,
            f"{prefix}accuracy_matrices",
            "read down a column: a task's accuracy before training, right after its own block and after later "
            "blocks; a fall after a later block is forgetting, a rise before a task's block is forward "
            "transfer" + (f"; chance is {chance:.2g}." if chance else "."),
        )
    if training is not None and len(training):
        doc.heading(level, "Learning curves", f"{prefix}learning")
        teacher = (
            "top: the label neurons' own prediction in each training window, without the teacher's current "
            "(scored like the evaluations), so a rise within block B is learning of B; bottom: the loss counts "
            "the teacher-driven spikes, so look at its change at each task switch."
            if "free_accuracy" in training.columns
            else "the fall at each task switch and how fast each variant recovers."
        )
        doc.figure(figures.learning_curves, training, f"{prefix}learning_curves", teacher, trial=trial)
    weights = tables.get("weights")
    if weights is not None and len(weights):
        doc.heading(level, "Weights", f"{prefix}weights")
        layer = _plastic_layer(tables)
        gradient = (
            f" In the PyTorch phase every layer learns by gradient; DA-SSDP adds its update to "
            f"fc.{layer.removeprefix('lif.')}, the weights into {layer}."
            if study.get("phase") == "torch" and layer
            else ""
        )
        doc.figure(
            figures.weight_changes,
            weights,
            f"{prefix}weight_changes",
            "top: how far each block moved the weights of each layer that changes (0 for a variant that does "
            "not learn; a rule whose gate or dopamine shut it off moves little in that block); bottom: the "
            "weight range, where weights pinned at the common bound show as min-max lines at the bound." + gradient,
        )
    has = training is not None and len(training)
    gate = has and training.loc[training.variant == figures.GATED, "gate"].notna().any()
    dopamine = (
        has
        and "dopamine" in training.columns
        and training.loc[training.variant == figures.DOPAMINERGIC, "dopamine"].notna().any()
    )
    if gate or dopamine:
        shown = [
            (name, caption)
            for name, caption, present in (
                (
                    "DA-SSDP gate",
                    "the gate g multiplies DA-SSDP's update (1: ungated, 0: off) and is fitted on the shaded "
                    "warm-up: look for it falling toward 0 after a task switch",
                    gate,
                ),
                (
                    "DA-STDP dopamine",
                    "DA-STDP's dopamine level (1/s, right after each window's release) carries the "
                    "window's outcome, on its own axis: its scale is not comparable with the gate's",
                    dopamine,
                ),
            )
            if present
        ]
        doc.heading(level, " and ".join(name for name, _ in shown), f"{prefix}gate")
        doc.figure(
            figures.gate_and_dopamine,
            training,
            f"{prefix}gate_and_dopamine",
            "; ".join(caption for _, caption in shown) + ".",
            trial=trial,
        )
    if training is not None and len(training):
        doc.heading(level, "Synchrony over training", f"{prefix}synchrony")
        doc.figure(
            figures.synchrony_over_training,
            training,
            f"{prefix}synchrony",
            "S is the co-firing of the plastic projection's pre- and postsynaptic neurons, the quantity "
            "DA-SSDP's gate is a function of; a shift at a task switch moves the gate away from its warm-up "
            "fit.",
            trial=trial,
        )
    rasters = tables.get("rasters")
    if rasters is not None and len(rasters):
        doc.heading(level, "Spike rasters", f"{prefix}rasters")
        doc.figure(
            figures.window_rasters,
            rasters,
            f"{prefix}rasters",
            "the hidden layer's spikes are the same for every variant (it does not learn in this phase); look at "
            "the label neurons: in training windows the teacher drives the red one, and a rule that has learnt B "
            "makes the others quieter in B windows, while lateral inhibition and the gate shape what fires.",
        )
    _gate_diagnostics(doc, figures, tables, prefix, level, trial)


def _gate_diagnostics(
    doc: _Document, figures, tables: dict[str, pd.DataFrame], prefix: str, level: int, trial: str
) -> None:
    """The gate diagnostics of the runs of the gated variant (in the PyTorch phase ``ssdp`` has a fit too, never
    applied: it stays in the Parquet table)."""
    diagnostics, training = tables.get("gate_diagnostics"), tables.get("training")
    if diagnostics is None or training is None:
        return
    diagnostics = diagnostics[diagnostics.variant == figures.GATED]
    if not len(diagnostics):
        return
    doc.heading(level, "Gate diagnostics", f"{prefix}diagnostics")
    doc.paragraph(
        "DA-SSDP fits its gate g = clip(1 + k (S - mu) / s, 0, 2) once, on the warm-up records (S, L), with "
        "k = -corr(S, L). Two things can mislead: S and L may both trend over the warm-up while the network learns "
        "(then corr(S, L) measures the trends; k_detrended is the fit on the residuals after a line on the trial "
        "index), and S may shift after a task switch (then the gate sits at a bound)."
    )
    runs = diagnostics.drop_duplicates("run")[RUN_COLUMNS]
    warm = training[training.run.isin(runs.run) & training.warmup.astype(bool)].merge(
        runs.drop(columns=["variant", "seed"]), on="run"
    )
    if len(warm):
        doc.figure(
            figures.gate_warmup,
            warm,
            f"{prefix}gate_warmup",
            "each dot is one warm-up record, coloured from early to late; the red line is the relation the "
            "fitted gate assumes (g > 1 where it predicts a low loss). Where the colours sort along the line, "
            "the fit rests on a trend over trials rather than on a synchrony-loss relation: compare k with "
            "its detrended value.",
        )
        doc.figure(
            figures.gate_warmup_trends,
            warm,
            f"{prefix}gate_warmup_trends",
            "flat lines mean a stationary warm-up; a steady slope in both S and L means corr(S, L), and so "
            "k, partly measures two trends.",
            trial=trial,
        )
    doc.figure(
        figures.gate_per_block,
        diagnostics,
        f"{prefix}gate_per_block",
        "a mean gate near 0, or a large fraction of windows with g < 0.1, in the block after a task switch "
        "means the gate shut DA-SSDP's plasticity off there.",
    )
    doc.heading(level + 1, "The fit per run")
    doc.frame(runs)
    doc.heading(level + 1, "The gate per block")
    doc.frame(diagnostics[["run", "seed", "block", "task", "mean_gate", "closed", "mean_synchrony"]])


def _calibration(doc: _Document, figures, calibration: pd.DataFrame) -> None:
    doc.heading(2, "Calibration", "calibration")
    criterion = calibration.criterion.iloc[0]
    doc.figure(
        figures.calibration_curves,
        calibration,
        "calibration",
        f"each variant's validation {criterion} across the grid; the ringed point is the scale its study "
        "runs use. A choice at the edge of the grid means the best scale may lie outside it.",
    )
    means = calibration.pivot_table(
        index="variant", columns="rate_scale", values="value", aggfunc="mean", observed=True
    )
    chosen = calibration[calibration.chosen].groupby("variant", observed=True).rate_scale.first()
    header = ["variant", *(f"x{s:g}" for s in means.columns)]
    rows, html_rows = [], []
    for variant, values in means.iterrows():
        plain = [str(variant), *(_cell(v) for v in values)]
        rows.append(
            [
                plain[0],
                *(f"**{c}**" if s == chosen.get(variant) else c for s, c in zip(means.columns, plain[1:], strict=True)),
            ]
        )
        html_rows.append(
            f"<tr><th>{_esc(variant)}</th>"
            + "".join(
                f"<td>{_bold(_esc(c), s == chosen.get(variant))}</td>"
                for s, c in zip(means.columns, plain[1:], strict=True)
            )
            + "</tr>"
        )
    doc.paragraph(
        f"Validation {criterion}, mean over {calibration.seed.nunique()} calibration seed(s), per "
        "learning-rate scale; bold: chosen.",
        cls="note",
    )
    doc.table(header, rows, html_rows)


def _appendix(doc: _Document, results_dir: Path, tables: dict[str, pd.DataFrame], manifest: dict) -> None:
    doc.heading(2, "Appendix: study file, tables, versions", "appendix")
    for spec in sorted(results_dir.glob("*.toml")):
        doc.details(f"Study file {spec.name}", spec.read_text())
    doc.paragraph(
        "Every table of the directory as Parquet (pandas.read_parquet); the smaller ones below in full. "
        "The gate diagnostics of the DA-SSDP runs are in their section."
    )
    for name in TABLES:
        if name not in tables:
            continue
        table = tables[name]
        link = Path(os.path.relpath(results_dir / f"{name}.parquet", doc.out_dir)).as_posix()
        columns = ", ".join(map(str, table.columns))
        doc.html.append(
            f"<p><a href='{_esc(link)}'>{_esc(name)}.parquet</a>: {len(table)} rows; columns: {_esc(columns)}</p>"
        )
        doc.md.extend([f"[{name}.parquet]({link}): {len(table)} rows; columns: {columns}", ""])
        if name == "metrics" and len(table):
            keys = [c for c in ("point", "variant", "seed", "run") if c in table.columns]
            wide = table.pivot_table(index=keys, columns="metric", values="value", observed=True).reset_index()
            doc.frame(wide, folded=f"{name}: one row per run, one column per metric")
        elif len(table) <= FULL_TABLE_ROWS and name != "gate_diagnostics":
            doc.frame(table, folded=f"{name}: {len(table)} rows")
    import dassdp

    versions = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "dassdp": dassdp.__version__,
    }
    versions.update({f"{k} (runs)": str(v) for k, v in manifest.get("versions", {}).items()})
    if "run_seconds" in manifest:
        versions["compute time of the runs"] = f"{manifest['run_seconds']:.0f} s"
    doc.heading(3, "Versions")
    doc.table(["", "version"], [[k, v] for k, v in versions.items()])


# ------------------------------------------------------------------------------------------
# the report
# ------------------------------------------------------------------------------------------


def _at_point(tables: dict[str, pd.DataFrame], point) -> dict[str, pd.DataFrame]:
    """The rows of grid point ``point`` (None: all); a table without a ``point`` column
    (``gate_diagnostics``) keeps the rows of that point's runs."""
    if point is None:
        return tables
    runs = set(tables["metrics"].loc[tables["metrics"].point == point, "run"]) if "metrics" in tables else set()
    return {
        name: t[t.point == point] if "point" in t.columns else t[t.run.isin(runs)] if "run" in t.columns else t
        for name, t in tables.items()
    }


def _read_tables(results_dir: Path, variants: list[str]) -> dict[str, pd.DataFrame]:
    """The study's tables, ``variant`` as a categorical in the study's order (for fixed colours)."""
    tables = {}
    for name in TABLES:
        path = results_dir / f"{name}.parquet"
        if path.is_file():
            table = pd.read_parquet(path)
            if "variant" in table.columns:
                order = [*variants, *(v for v in pd.unique(table.variant) if v not in variants)]
                table["variant"] = pd.Categorical(table.variant.astype(str), categories=order)
            tables[name] = table
    return tables


def build_report(results_dir: Path, out_dir: Path | None = None, force: bool = False) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.md`` (and ``figures/``) into ``out_dir`` (default:
    ``results_dir/report``) and return their paths; return at once when the report there is of
    the same inputs (`report_is_current`) unless ``force``."""
    _check_dirs(results_dir, out_dir)
    if not isinstance(force, bool):
        raise TypeError(f"force must be a bool, got {describe(force)}")
    results_dir = Path(results_dir)
    out = _out_dir(results_dir, out_dir)
    html_path, md_path = out / "report.html", out / "report.md"
    digest = _digest(results_dir)
    if not force and report_is_current(results_dir, out, digest):
        return html_path, md_path
    import dassdp.analysis.figures as figures  # (`from dassdp.analysis import figures` may skip the import)

    study_path = results_dir / "study.json"
    study = json.loads(study_path.read_text()).get("study", {}) if study_path.is_file() else {}
    manifest_path = results_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    tables = _read_tables(results_dir, list(study.get("variants", [])))
    summary = tables.get("summary")
    variants = list(study.get("variants", [])) or (list(pd.unique(summary.variant)) if summary is not None else [])
    reference = study.get("reference") or (
        summary.reference.iloc[0] if summary is not None and "reference" in summary.columns else None
    )

    doc = _Document(out)
    title = study.get("name") or results_dir.name
    facts = _facts(results_dir, study, tables, variants, reference)
    header = (
        f"<h1>{_esc(title)}</h1><p class='question'>{_esc(facts[0][1])}</p><dl class='facts'>"
        + "".join(f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>" for k, v in facts[1:])
        + "</dl>"
    )
    doc.md.extend([f"# {title}", "", *(f"- **{k}:** {v}" for k, v in facts), ""])

    doc.heading(2, "Which rule forgets less or learns more, by how much, and how sure", "summary")
    if summary is None or not len(summary):
        doc.paragraph("This directory has no summary.parquet: the study has not finished (dassdp status DIR).")
    else:
        _summary_table(doc, summary)
        if "reference" in summary.columns and (summary.variant != summary.reference).any():
            doc.bullets(detectable_lines(summary))
    points = sorted(summary.point.unique()) if summary is not None and "point" in summary.columns else [None]
    for point in points:
        at = _at_point(tables, point)
        prefix, level = ("", 2) if len(points) == 1 else (f"p{point}_", 3)
        if len(points) > 1:
            label = _point_label(at["summary"])
            doc.heading(2, label[0].upper() + label[1:], f"p{point}")
        if (
            at.get("summary") is not None
            and "reference" in at["summary"].columns
            and (at["summary"].variant != at["summary"].reference).any()
        ):
            metrics = [heading(m) for m in present_metrics(at["summary"], MAIN_METRICS)]
            named = at["summary"].assign(metric=at["summary"].metric.map(heading))
            doc.figure(
                figures.paired_differences,
                named,
                f"{prefix}paired_differences",
                "a bar that misses the grey line is a difference the seeds resolve (95 %); its position says "
                "by how much. Forgetting: left of 0 is less forgetting than the reference.",
                metrics=metrics,
            )
        _point_sections(doc, figures, at, study, prefix, level)
    if "calibration" in tables and len(tables["calibration"]):
        _calibration(doc, figures, tables["calibration"])
    _appendix(doc, results_dir, tables, manifest)

    out.mkdir(parents=True, exist_ok=True)
    for stale in (out / "figures").glob("*"):
        if stale not in doc.written:
            stale.unlink()
    _write(html_path, doc.page(f"{title}: dassdp report", header))
    _write(md_path, "\n".join(doc.md))
    _write(out / DIGEST, digest + "\n")
    return html_path, md_path
