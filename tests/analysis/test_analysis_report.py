"""`dassdp report`: the first screen answers which rule forgets less or learns more, by how much and
how sure; every section has its figure (PNG and SVG, embedded in the HTML) with a caption; raw
tables are real tables; the report is rewritten only when its inputs change. Synthetic results
directories (conftest.py) in the Brian2 and the PyTorch phase's schema."""

import re

import numpy as np
import pandas as pd
import pytest

from dassdp.analysis.report import DIGEST, report_is_current
from dassdp.analysis.spikes import assign_windows, from_arrays
from dassdp.cli import main

figures = pytest.importorskip("dassdp.analysis.figures")


def summary_rows(html: str) -> list[str]:
    """The variant of each row of the summary table."""
    body = re.search(r"<table class=\"summary\">.*?<tbody>(.*?)</tbody>", html, re.S).group(1)
    return [
        re.sub(r"<small>.*?</small>", "", name).strip()
        for name in re.findall(r"<tr[^>]*>(?:<td>[^<]*</td>)?<th>(.*?)</th>", body)
    ]


def test_spike_figures_write_png_and_svg(tmp_path):
    """The spike-table figures (not in a study's report: the runs store no spikes)."""
    rng = np.random.default_rng(0)
    spikes = assign_windows(from_arrays(rng.integers(0, 10, 60), rng.uniform(0, 0.2, 60)), 0.05, n_windows=4)
    for function, table in ((figures.raster, spikes), (figures.latency_distributions, spikes.assign(latency=0.01))):
        png, svg = function(table, tmp_path / function.__name__)
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "<svg" in svg.read_text()


def test_brian2_report_first_screen_sections_and_appendix(synthetic_results, capsys):
    results = synthetic_results(phase="brian2")
    assert main(["report", str(results)]) == 0
    assert "wrote" in capsys.readouterr().out
    out = results / "report"
    html, md = (out / "report.html").read_text(), (out / "report.md").read_text()
    head = html[: html.index("<h2")]
    # the study: question, scenario, seeds, reference, calibrated scale per variant with criterion and grid
    assert "Does DA-SSDP forget less? (synthetic, brian2)" in head
    assert "task-incremental: each task is scored over its own classes only (chance 0.2)" in head
    assert "3 (0-2), the same for every variant" in head and "reference: none" in head
    scales = pd.read_json(results / "calibration.json")["scales"]
    for variant, scale in scales.items():
        assert f"{variant} \u00d7{scale:g}" in head
    assert "chosen per variant by validation ACC on 20% of the training data" in head and "grid 1, 10, 100" in head
    # the summary table: one row per variant in the study's order, mean [interval], paired difference
    assert summary_rows(html) == ["none", "stdp", "dastdp", "ssdp", "dassdp"]
    summary = pd.read_parquet(results / "summary.parquet")
    acc = summary[(summary.variant == "stdp") & (summary.metric == "ACC")].iloc[0]
    assert f"<b>{acc['mean']:.3f}</b><br><span class='ci'>[{acc.ci_low:.3f}, {acc.ci_high:.3f}]</span>" in html
    assert f"&Delta; {acc['diff']:+.3f}<br>[{acc.diff_low:+.3f}, {acc.diff_high:+.3f}]" in html
    header = re.search(r"<table class=\"summary\"><thead>(.*?)</thead>", html).group(1)
    for column in ("ACC", "BWT", "FWT", "forgetting", "A after A", "B after B", "final ACC"):
        assert f"<th>{column}</th>" in header
    assert "differences smaller than" in html and "would go undetected at 80 % power" in html
    # every section, each figure embedded once with a caption, PNG and SVG beside the report
    for section in (
        "Accuracy matrices",
        "Learning curves",
        "Weights",
        "DA-SSDP gate and DA-STDP dopamine",
        "Synchrony over training",
        "Gate diagnostics",
        "Calibration",
        "Appendix",
    ):
        assert re.search(rf"<h2 id=\"\w+\">{section}", html), section
    names = sorted(p.stem for p in (out / "figures").glob("*.png"))
    assert names == sorted(
        [
            "paired_differences",
            "accuracy_matrices",
            "learning_curves",
            "weight_changes",
            "gate_and_dopamine",
            "synchrony",
            "gate_warmup",
            "gate_warmup_trends",
            "gate_per_block",
            "calibration",
        ]
    )
    assert sorted(p.stem for p in (out / "figures").glob("*.svg")) == names
    assert html.count('src="data:image/png;base64,') == len(names) == html.count("<b>What to look for:</b>")
    for name in names:
        assert f"](figures/{name}.png)" in md
    # raw tables are tables, the Parquet files linked relative to the report; no describe() dumps
    for name in ("summary", "metrics", "evaluations", "training", "weights", "gate", "gate_diagnostics", "calibration"):
        assert f"<a href='../{name}.parquet'>" in html
    assert "<pre>" not in html.split('id="appendix"')[0]
    assert "25%" not in html and "<script" not in html
    assert str(results) not in html and str(results) not in md  # nothing names a machine path
    assert "<td>brian2 (runs)</td><td>2.10.1</td>" in html


def test_report_is_rewritten_only_when_its_inputs_change(synthetic_results, capsys):
    results = synthetic_results(phase="brian2", variants=["none", "stdp"], seeds=(0, 1), calibration=False)
    assert main(["report", str(results)]) == 0
    html = results / "report" / "report.html"
    written = html.stat().st_mtime_ns
    capsys.readouterr()
    assert main(["report", str(results)]) == 0
    assert "report unchanged" in capsys.readouterr().out
    assert html.stat().st_mtime_ns == written
    # a study that resumes rewrites its manifest with a new wall-clock time, and the same tables
    manifest = results / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"wall_seconds": 3.0', '"wall_seconds": 4.5'))
    metrics = pd.read_parquet(results / "metrics.parquet")
    metrics.to_parquet(results / "metrics.parquet")
    assert report_is_current(results)
    metrics.assign(value=metrics.value + 0.01).to_parquet(results / "metrics.parquet")
    assert not report_is_current(results)
    (results / "report" / DIGEST).unlink()
    assert not report_is_current(results)


def test_torch_phase_sweep_without_calibration_or_dopamine(synthetic_results, capsys):
    """PyTorch-phase tables (mini-batches, ``frozen``, no dopamine column, every layer trained), a
    sweep of two grid points, no calibration: one section per point, no dopamine or calibration."""
    results = synthetic_results(
        phase="torch", variants=["frozen", "none", "dassdp"], seeds=(0, 1), points=(0, 1), calibration=False
    )
    assert main(["report", str(results), "--out", str(results / "elsewhere")]) == 0
    html = (results / "elsewhere" / "report.html").read_text()
    head = html[: html.index("<h2")]
    assert "domain-incremental (permuted inputs)" in head
    assert "not calibrated: training.lr = 0.005 for every variant" in head
    assert "DA-SSDP (ssdp, dassdp) adds its update on the weights into lif.1" in head
    assert "DA-SSDP adds its update to fc.1, the weights into lif.1." in html
    assert summary_rows(html) == ["frozen", "none", "dassdp"] * 2
    assert "point 0 (training.lr = 0.01)" in html and "point 1 (training.lr = 0.001)" in html
    for point in (0, 1):
        assert f'<h2 id="p{point}">' in html
        for name in (
            "accuracy_matrices",
            "learning_curves",
            "weight_changes",
            "gate_and_dopamine",
            "synchrony",
            "gate_warmup",
            "gate_per_block",
        ):
            assert (results / "elsewhere" / "figures" / f"p{point}_{name}.png").is_file()
    gate = html.split('<h3 id="p0_gate">')[1].split("<h3")[0]
    assert gate.startswith("DA-SSDP gate</h3>") and "DA-STDP" not in gate
    assert "Calibration" not in html and "mini-batch" not in head
    # each point's gate diagnostics hold that point's runs only
    fits = html.split('id="p0_diagnostics"')[1].split('id="p1"')[0]
    assert "dassdp-s0-p0" in fits and "dassdp-s0-p1" not in fits
    assert "<a href='../training.parquet'>" in html


def test_figures_of_a_directory_without_gate_or_dopamine(synthetic_results):
    results = synthetic_results(phase="brian2", variants=["none", "stdp"], seeds=(0, 1), calibration=False)
    assert main(["report", str(results)]) == 0
    html = (results / "report" / "report.html").read_text()
    assert "Gate diagnostics" not in html and "DA-SSDP gate" not in html and "Calibration" not in html
    assert summary_rows(html) == ["none", "stdp"]


def test_report_missing_directory(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
