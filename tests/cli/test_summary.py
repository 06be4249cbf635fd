"""The printed study summary: t-intervals, paired differences to the reference, the detectable
difference per main metric and the evaluation scenario, checked against the raw values."""

import io
import json
import math

import numpy as np
import pandas as pd
import scipy.stats
from rich.console import Console

from dassdp.analysis.stats import detectable_difference, summarise
from dassdp.analysis.summary import detectable_lines, difference_rows, summary_rows
from dassdp.cli.summary import print_summary

SEEDS = range(5)
METRICS = ("ACC", "BWT", "forgetting", "learned_B", "synchrony")
BY = ("point", "sweep.training.lr", "variant", "metric")


def _metrics(points=(0,)) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for point in points:
        for variant, shift, noise in (("none", 0.0, 0.0), ("stdp", 0.05, 0.02), ("ssdp", 0.10, 0.06)):
            for seed in SEEDS:
                for metric in METRICS:
                    value = 0.5 + 0.1 * seed + shift + noise * rng.standard_normal()
                    rows.append(
                        {
                            "point": point,
                            "sweep.training.lr": 1e-3 * (point + 1),
                            "variant": variant,
                            "seed": seed,
                            "metric": metric,
                            "value": value,
                        }
                    )
    return pd.DataFrame(rows)


def _printed(out) -> str:
    buffer = io.StringIO()
    print_summary(out, Console(file=buffer, width=300))
    return buffer.getvalue()


def _write(tmp_path, summary: pd.DataFrame, tasks: dict | None = None):
    out = tmp_path / "study"
    out.mkdir(parents=True)
    summary.to_parquet(out / "summary.parquet")
    if tasks is not None:
        (out / "study.json").write_text(json.dumps({"hash": "x", "study": {"name": "s", "tasks": tasks}}))
    return out


def _t(values) -> tuple[float, float, float]:
    values = np.asarray(values)
    half = scipy.stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return values.mean(), values.mean() - half, values.mean() + half


def test_tables_show_t_intervals_and_paired_differences(tmp_path):
    metrics = _metrics()
    summary = summarise(metrics, by=BY, reference="none")
    header, rows = summary_rows(summary)
    assert header == ["point", "sweep.training.lr", "variant", "n", "ACC", "BWT", "forgetting", "B after B"]
    stdp = next(r for r in rows if r[2] == "stdp")
    raw = metrics[(metrics.variant == "stdp") & (metrics.metric == "ACC")].value
    assert stdp[3] == "5" and stdp[4] == "{:.3f} [{:.3f}, {:.3f}]".format(*_t(raw))

    header, rows = difference_rows(summary)
    assert header == ["point", "sweep.training.lr", "variant", "n_pairs", "ACC", "BWT", "forgetting", "B after B"]
    assert [r[2] for r in rows] == ["ssdp", "stdp"]  # the reference has no row
    acc = metrics[metrics.metric == "ACC"].pivot(index="seed", columns="variant", values="value")
    diff = acc.ssdp - acc.none
    assert rows[0][3] == "5" and rows[0][4] == "{:+.3f} [{:+.3f}, {:+.3f}]".format(*_t(diff))

    out = _write(tmp_path, summary, {"kind": "classes", "scenario": "class"})
    text = _printed(out)
    assert "scenario: class-incremental" in text
    assert "study: mean [95% t-interval] over seeds" in text
    assert "paired difference to none per seed: mean [95% t-interval]" in text
    # ssdp is noisier than stdp: the detectable ACC difference is a range over the variants
    small = detectable_difference((acc.stdp - acc.none).std(ddof=1), 5)
    large = detectable_difference(diff.std(ddof=1), 5)
    assert (
        f"with n = 5 seeds and the observed paired SD, ACC differences smaller than {small:.3f} (stdp) to "
        f"{large:.3f} (ssdp) would go undetected at 80 % power"
    ) in text
    assert "B after B differences smaller than" in text and "synchrony differences" not in text


def test_scenario_from_study_json(tmp_path):
    metrics = _metrics()
    summary = summarise(metrics, by=BY, reference="none")
    for k, (tasks, expected) in enumerate(
        [
            ({"kind": "classes", "scenario": "task"}, "scenario: task-incremental"),
            ({"kind": "permuted", "n_tasks": 3, "scenario": "task"}, "scenario: domain-incremental (permuted inputs)"),
            ({"kind": "classes"}, None),
            (None, None),
        ]
    ):
        text = _printed(_write(tmp_path / str(k), summary, tasks))
        if expected is None:
            assert "scenario:" not in text
        else:
            assert expected in text


def test_detectable_lines_per_point_and_with_too_few_pairs():
    metrics = _metrics(points=(0, 1))
    # at point 1 only seed 0 of BWT is finite for stdp and ssdp: no test is possible
    drop = (metrics.point == 1) & (metrics.metric == "BWT") & (metrics.variant != "none") & (metrics.seed > 0)
    metrics.loc[drop, "value"] = np.nan
    summary = summarise(metrics, by=BY, reference="none")
    lines = detectable_lines(summary)
    assert len(lines) == 2 * 4  # two points x ACC, BWT, forgetting, learned_B
    assert lines[0].startswith("point 0 (training.lr=0.001): with n = 5 seeds")
    assert lines[5] == (
        "point 1 (training.lr=0.002): BWT: fewer than 2 paired seeds, the detectable difference is not estimable"
    )


def test_a_variant_without_spread_is_named_apart():
    """Paired differences that are all equal (SD 0) have no detectable size: not 0.000."""
    metrics = _metrics(points=(0,))
    same = (metrics.metric == "ACC") & (metrics.variant == "ssdp")
    reference = metrics[(metrics.metric == "ACC") & (metrics.variant == "none")].set_index("seed").value
    metrics.loc[same, "value"] = metrics.loc[same, "seed"].map(reference).to_numpy() + 0.1
    line = next(line for line in detectable_lines(summarise(metrics, by=BY, reference="none")) if "ACC" in line)
    assert "(ssdp: every paired difference equal, not estimable)" in line and "0.000" not in line


def test_summary_without_reference_prints_the_means_only(tmp_path):
    metrics = _metrics()
    text = _printed(_write(tmp_path, summarise(metrics, by=BY)))
    assert "mean [95% t-interval] over seeds" in text
    assert "paired difference" not in text and "undetected" not in text


def test_single_seed_has_no_interval(tmp_path):
    metrics = _metrics()
    metrics = metrics[metrics.seed == 0]
    summary = summarise(metrics, by=BY, reference="none")
    _, rows = summary_rows(summary)
    stdp = next(r for r in rows if r[2] == "stdp")
    assert stdp[4] == f"{metrics[(metrics.variant == 'stdp') & (metrics.metric == 'ACC')].value.iloc[0]:.3f}"
    assert "ACC: fewer than 2 paired seeds" in _printed(_write(tmp_path, summary))
