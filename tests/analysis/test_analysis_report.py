"""Figures are written as PNG and SVG; `dassdp report` writes HTML and Markdown."""

import json

import numpy as np
import pandas as pd
import pytest

from dassdp.analysis.spikes import assign_windows, from_arrays
from dassdp.cli import main

figures = pytest.importorskip("dassdp.analysis.figures")


def tables():
    rng = np.random.default_rng(0)
    spikes = assign_windows(
        from_arrays(rng.integers(0, 10, 60), rng.uniform(0, 0.2, 60)), 0.05, n_windows=4
    )
    trials = pd.DataFrame(
        {
            "trial": np.arange(20),
            "synchrony": rng.uniform(0, 1, 20),
            "gate": rng.uniform(0, 2, 20),
            "dopamine": rng.uniform(0, 1, 20),
            "task": ["A"] * 10 + ["B"] * 10,
        }
    )
    accuracy = pd.DataFrame(
        [
            {"trained_task": i, "eval_task": j, "accuracy": 0.5 + 0.1 * (i >= j)}
            for i in range(3)
            for j in range(3)
        ]
    )
    metrics = pd.DataFrame(
        {
            "variant": ["ssdp", "ssdp", "stdp", "stdp"],
            "seed": [0, 1, 0, 1],
            "metric": "forgetting",
            "value": [0.1, 0.2, 0.3, 0.25],
        }
    )
    weights = pd.DataFrame({"dw": rng.normal(size=100), "layer": ["fc1", "fc2"] * 50})
    return {
        "spikes": spikes,
        "trials": trials,
        "accuracy": accuracy,
        "metrics": metrics,
        "weights": weights,
    }


def test_every_figure_writes_png_and_svg(tmp_path):
    data = tables()
    data["latency"] = data["spikes"]
    sources = {
        "raster": "spikes",
        "synchrony_over_trials": "trials",
        "gate_and_dopamine": "trials",
        "accuracy_heatmap": "accuracy",
        "forgetting_per_variant": "metrics",
        "latency_distributions": "latency",
        "weight_change_histograms": "weights",
    }
    assert set(sources) == set(figures.FIGURES)
    for name, (function, needed) in figures.FIGURES.items():
        table = data[sources[name]]
        assert needed <= set(table.columns)
        paths = function(table, tmp_path / name)
        assert [p.suffix for p in paths] == [".png", ".svg"]
        assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "<svg" in paths[1].read_text()


def test_report_command(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    (results / "study.toml").write_text('[study]\nname = "switch"\nseeds = [0, 1]\n')
    (results / "manifest.json").write_text(
        json.dumps({"seeds": [0, 1], "versions": {"brian2": "2.10.1"}})
    )
    for name, table in tables().items():
        table.to_parquet(results / f"{name}.parquet")
    assert main(["report", str(results), "--out", str(tmp_path / "out")]) == 0
    html = (tmp_path / "out" / "report.html").read_text()
    md = (tmp_path / "out" / "report.md").read_text()
    assert 'name = "switch"' in md and "name = &quot;switch&quot;" in html
    assert html.count("data:image/png;base64,") >= 7  # one figure per fitting table at least
    assert "accuracy_heatmap" in md and "shape: (9, 3)" in md
    assert "seeds: 0, 1" in md and "brian2 (manifest): 2.10.1" in md
    for line in md.splitlines():
        if line.startswith("!["):
            assert (tmp_path / "out" / line.split("](")[1].rstrip(")")).is_file()


def test_report_missing_directory(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
