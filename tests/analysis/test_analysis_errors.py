"""Every public function of `dassdp.analysis` rejects bad input with a TypeError or ValueError that
names the argument or column: NaN, infinite or negative numbers, arguments of the wrong kind, and
tables missing a column (a ValueError naming it, never a KeyError), instead of a deep error or a
silent wrong result (window index INT64_MIN, NaN latencies, accuracies of 90)."""

import re

import numpy as np
import pandas as pd
import pytest

from dassdp.analysis import continual, pairwise, population, spikes, stats, summary, synchrony
from dassdp.analysis.gate_diagnostics import gate_diagnostics

NAN, INF = float("nan"), float("inf")


def _spikes():
    return spikes.from_arrays([0, 1, 0, 2], [0.01, 0.02, 0.06, 0.07])


def _windowed():
    return spikes.assign_windows(_spikes(), 0.05)


# ---- spikes ------------------------------------------------------------------------------------


#: (arguments of assign_windows, error, message); window=inf once gave NaN latencies, t0=nan window
#: index INT64_MIN and a negative n_windows
WINDOW_CASES = [
    ({"t0": NAN}, ValueError, "t0 must be finite, got nan"),
    ({"t0": -INF}, ValueError, "t0 must be finite"),
    ({"t0": "0"}, TypeError, "t0 must be a real number"),
    ({"window": INF}, ValueError, "window must be > 0 and finite, got inf"),
    ({"window": 0.0}, ValueError, "window must be > 0"),
    ({"window": "0.05"}, TypeError, "window must be a real number"),
    ({"n_windows": -1}, ValueError, "n_windows must be >= 0, got -1"),
    ({"n_windows": 2.5}, TypeError, "n_windows must be an integer"),
    ({"dt": NAN}, ValueError, "dt must be > 0 and finite"),
]


def test_assign_windows_rejects_bad_window_arguments():
    for kwargs, error, match in WINDOW_CASES:
        kwargs = {"window": 0.05, **kwargs}
        with pytest.raises(error, match=match):
            spikes.assign_windows(_spikes(), **kwargs)
        with pytest.raises(error, match=match):  # an empty table too: no spike to trip over
            spikes.assign_windows(spikes.from_arrays([], []), **kwargs)


def test_spike_table_type_and_columns():
    with pytest.raises(TypeError, match="spikes must be a pandas DataFrame, got dict"):
        spikes.validate({"neuron": [0], "time": [0.1]})
    with pytest.raises(ValueError, match="column 'time' must be numeric"):
        spikes.validate(pd.DataFrame({"neuron": [0], "time": ["0.1 s"]}))
    with pytest.raises(ValueError, match="column 'neuron' must be numeric"):
        spikes.validate(pd.DataFrame({"neuron": ["a"], "time": [0.1]}))
    with pytest.raises(TypeError, match="spikes must be a pandas DataFrame"):
        spikes.window_definition([0.1])
    with pytest.raises(TypeError, match="spikes must be a pandas DataFrame"):
        spikes.select_population(None, "L1")
    with pytest.raises(TypeError, match="times must be numbers"):
        spikes.from_arrays([0], ["soon"])
    with pytest.raises(TypeError, match="monitor must be a Brian2 SpikeMonitor"):
        spikes.from_brian2(object())


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"dt": NAN}, ValueError, "dt must be > 0 and finite, got nan"),
        ({"dt": INF}, ValueError, "dt must be > 0 and finite"),
        ({"dt": 1e-3, "first_window": -1}, ValueError, "first_window must be >= 0"),
        ({"dt": 1e-3, "first_window": 1.0}, TypeError, "first_window must be an integer"),
    ],
)
def test_from_torch_checks_dt_and_first_window(kwargs, error, match):
    with pytest.raises(error, match=match):
        spikes.from_torch(np.ones((3, 2, 4)), **kwargs)


def test_resolve_windows_checks_the_window_column_and_count():
    table = _windowed()
    with pytest.raises(ValueError, match="n_windows must be >= 0"):
        spikes.resolve_windows(table, -1)
    broken = table.assign(window=[0.0, NAN, 1.0, 1.0])
    with pytest.raises(ValueError, match="column 'window' must hold integer window indices"):
        spikes.resolve_windows(broken)
    with pytest.raises(ValueError, match="column 'window' has a negative index"):
        spikes.resolve_windows(table.assign(window=[-1, 0, 1, 1]))
    with pytest.raises(TypeError, match="n_neurons must be an integer"):
        spikes.neuron_indices(table, 3.0)
    with pytest.raises(ValueError, match="t_stop must be finite"):
        spikes.SpikeTrains.from_table(table, 3).check_interval(0.0, INF)


# ---- synchrony ---------------------------------------------------------------------------------


def test_window_statistics_check_sizes_and_columns():
    table = _windowed()
    with pytest.raises(ValueError, match="n_neurons must be >= 0, got -1"):
        synchrony.spike_counts(table, -1)
    with pytest.raises(TypeError, match="n_neurons must be an integer, got float"):
        synchrony.fired_matrix(table, 3.0)
    with pytest.raises(ValueError, match="column 'latency' is missing"):
        synchrony.latency_matrix(table.drop(columns="latency"), 3)
    with pytest.raises(ValueError, match="column 'latency' must be finite and >= 0"):
        synchrony.latency_matrix(table.assign(latency=[0.01, NAN, 0.01, 0.02]), 3)
    with pytest.raises(ValueError, match="column 'neuron' is missing"):
        synchrony.first_spike_latencies(table.drop(columns="neuron"))
    layered = table.assign(population=["pre", "post", "pre", "post"])
    with pytest.raises(ValueError, match="n_neurons has no size for population 'post'"):
        synchrony.synchrony_series(layered, [("pre", "post")], {"pre": 3})
    with pytest.raises(ValueError, match=r"layers must hold \(pre, post\) population pairs"):
        synchrony.synchrony_series(layered, ["pre"], {"pre": 3})
    with pytest.raises(ValueError, match=r"n_neurons\['post'\] must be >= 0"):
        synchrony.synchrony_series(layered, [("pre", "post")], {"pre": 3, "post": -2})
    with pytest.raises(TypeError, match="n_neurons must be a mapping"):
        synchrony.fired_fraction(table, 3)


def test_array_statistics_check_their_input():
    with pytest.raises(ValueError, match="fired must hold 0/1"):
        synchrony.coincidence_matrix(np.array([[2, 0], [1, 1]]))  # counts, not flags
    with pytest.raises(ValueError, match="fired must hold 0/1"):
        synchrony.mean_coincidence(np.array([[NAN, 0], [1, 1]]))
    with pytest.raises(ValueError, match=r"fired must be a \[windows, neurons\] array"):
        synchrony.coincidence_matrix(np.ones(3))
    with pytest.raises(ValueError, match="counts must be finite spike counts >= 0"):
        synchrony.count_correlation(np.array([[1.0, NAN], [2.0, 3.0]]))
    with pytest.raises(ValueError, match="counts must be finite spike counts >= 0"):
        synchrony.fano_factor(np.array([[1.0, -2.0], [2.0, 3.0]]))
    with pytest.raises(TypeError, match="counts must be a numeric array"):
        synchrony.fano_factor([["a", "b"], ["c", "d"]])
    with pytest.raises(ValueError, match=r"matrix must be square \[N, N\]"):
        synchrony.matrix_to_tidy(np.ones((2, 3)), "sttc")
    with pytest.raises(TypeError, match="value must be a column name"):
        synchrony.matrix_to_tidy(np.ones((2, 2)), 3)


# ---- pairwise and population -------------------------------------------------------------------


def test_pairwise_measures_check_dt_interval_and_size():
    table = _spikes()
    with pytest.raises(ValueError, match="dt must be > 0 and finite, got inf"):
        pairwise.sttc_matrix(table, 3, INF, 0.0, 0.1)
    with pytest.raises(ValueError, match="t_stop must be finite, got inf"):
        pairwise.sttc_matrix(table, 3, 0.01, 0.0, INF)
    with pytest.raises(ValueError, match="t_start must be finite, got nan"):
        pairwise.isi_distance_matrix(table, 3, NAN, 0.1)
    with pytest.raises(ValueError, match="n_neurons must be >= 0"):
        pairwise.spike_sync_matrix(table, -1, 0.0, 0.1)


def test_population_measures_check_their_input():
    with pytest.raises(TypeError, match="potentials must be a numeric array"):
        population.golomb_chi([["a", "b"], ["c", "d"]])
    with pytest.raises(ValueError, match="times contain NaN or infinite values"):
        population.kuramoto_order(_spikes(), 3, [0.02, NAN])
    with pytest.raises(ValueError, match="n_neurons must be >= 0"):
        population.kuramoto_order(_spikes(), -3, [0.02])


# ---- continual ---------------------------------------------------------------------------------


def _results(accuracy):
    return pd.DataFrame({"trained_task": ["A", "A", "B", "B"], "eval_task": ["A", "B", "A", "B"], "accuracy": accuracy})


@pytest.mark.parametrize("bad", [90.0, -5.0, INF])
def test_accuracies_must_be_fractions(bad):
    table = _results([0.9, 0.1, bad, 0.8])
    pattern = re.escape("results: column 'accuracy' must hold accuracies in [0, 1]") + r".*" + re.escape(str(bad))
    with pytest.raises(ValueError, match=pattern):
        continual.continual_metrics(table)
    with pytest.raises(ValueError, match="column 'accuracy' must hold accuracies in"):
        continual.accuracy_matrix(table)
    with pytest.raises(ValueError, match=r"accuracy matrix r must hold accuracies in \[0, 1\]"):
        continual.metrics_from_matrix(np.array([[0.9, 0.1], [bad, 0.8]]))
    with pytest.raises(ValueError, match=r"baseline must hold accuracies in \[0, 1\]"):
        continual.metrics_from_matrix(np.array([[0.9, 0.1], [0.5, 0.8]]), baseline=[0.1, bad])


def test_continual_metrics_columns_task_order_baseline_and_not_evaluated():
    table = _results([0.9, 0.1, 0.5, 0.8])
    with pytest.raises(ValueError, match="results: column 'eval_task' is missing"):
        continual.continual_metrics(table.drop(columns="eval_task"))
    with pytest.raises(ValueError, match="results: columns 'trained_task', 'accuracy' are missing"):
        continual.continual_metrics(table.drop(columns=["trained_task", "accuracy"]))
    with pytest.raises(ValueError, match="task_order lists a task twice"):
        continual.continual_metrics(table, task_order=["A", "B", "A"])
    with pytest.raises(TypeError, match="task_order must be a list of task labels"):
        continual.accuracy_matrix(table, task_order="AB")
    with pytest.raises(ValueError, match="baseline has no accuracy for tasks B"):
        continual.continual_metrics(table, baseline={"A": 0.1})
    with pytest.raises(TypeError, match="baseline must map each task to an accuracy"):
        continual.continual_metrics(table, baseline=[0.1, 0.1])
    with pytest.raises(ValueError, match="column 'accuracy' must be numeric"):
        continual.accuracy_matrix(table.assign(accuracy=["high", "low", "mid", "low"]))
    # a NaN accuracy (documented: not evaluated) stays NaN in R and in the metrics that need it
    partial = _results([0.9, NAN, 0.5, 0.8])  # task B was not evaluated after training A
    metrics = continual.continual_metrics(partial, baseline={"A": 0.1, "B": 0.1}).set_index("metric")["value"]
    assert metrics["ACC"] == pytest.approx(0.65) and metrics["BWT"] == pytest.approx(-0.4)
    assert np.isnan(metrics["FWT"])  # needs R[A, B]


# ---- stats and summary -------------------------------------------------------------------------


def _metrics():
    return pd.DataFrame(
        {"variant": ["a", "a", "b", "b"], "metric": ["ACC"] * 4, "seed": [0, 1, 0, 1], "value": [0.5, 0.6, 0.4, 0.7]}
    )


def test_stats_arguments():
    with pytest.raises(TypeError, match="confidence must be a real number"):
        stats.t_interval([0.1, 0.2], confidence="0.95")
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\)"):
        stats.t_interval([], confidence=NAN)
    with pytest.raises(TypeError, match="values must be numbers"):
        stats.t_interval(["a", "b"])
    with pytest.raises(TypeError, match="sd must be a real number"):
        stats.detectable_difference("0.1", 3)
    with pytest.raises(TypeError, match="n must be an integer"):
        stats.detectable_difference(0.1, 3.5)
    with pytest.raises(ValueError, match="sd must be >= 0"):
        stats.detectable_difference(-0.1, 1)  # negative even where n < 2 gives NaN
    with pytest.raises(ValueError, match="metrics: column 'value' is missing"):
        stats.summarise(_metrics().drop(columns="value"))
    with pytest.raises(ValueError, match="metrics: column 'value' must be numeric"):
        stats.summarise(_metrics().assign(value=["x"] * 4))
    with pytest.raises(TypeError, match="by must be a list of names, got str"):
        stats.summarise(_metrics(), by="variant")
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\)"):
        stats.summarise(_metrics(), confidence=95)


def test_summary_text_helpers():
    table = stats.summarise(_metrics(), reference="a").assign(point=0)
    for function in (summary.summary_rows, summary.difference_rows, summary.detectable_lines):
        with pytest.raises(ValueError, match="summary: column 'point' is missing"):
            function(table.drop(columns="point"))
    with pytest.raises(ValueError, match="summary: columns 'diff', 'diff_low' are missing"):
        summary.difference_rows(table.drop(columns=["diff", "diff_low"]))
    with pytest.raises(ValueError, match="summary: column 'detectable' is missing"):
        summary.detectable_lines(table.drop(columns="detectable"))
    with pytest.raises(ValueError, match="summary: column 'metric' is missing"):
        summary.present_metrics(table.drop(columns="metric"), ("ACC",))
    with pytest.raises(TypeError, match="names must be a list of names, got str"):
        summary.present_metrics(table, "ACC")
    with pytest.raises(TypeError, match="metric must be a str"):
        summary.heading(3)
    with pytest.raises(TypeError, match="value must be a real number"):
        summary.interval("0.5", 0.4, 0.6)
    with pytest.raises(ValueError, match="sign must be one of"):
        summary.interval(0.5, 0.4, 0.6, sign="x")
    assert summary.interval(pd.NA, NAN, NAN) == "-"
    with pytest.raises(TypeError, match="out must be a path"):
        summary.scenario(3)
    with pytest.raises(TypeError, match="out must be a path"):
        summary.calibrated_scales(None)


# ---- gate diagnostics --------------------------------------------------------------------------


def _training():
    return pd.DataFrame(
        {
            "run": ["r0"] * 4,
            "variant": ["dassdp"] * 4,
            "seed": [0] * 4,
            "block": [0, 0, 0, 1],
            "task": ["A", "A", "A", "B"],
            "trial": [0, 1, 2, 3],
            "loss": [1.0, 0.8, 0.7, 0.9],
            "synchrony": [0.1, 0.2, 0.15, 0.3],
            "gate": [NAN, NAN, NAN, 0.5],
            "warmup": [True, True, True, False],
        }
    )


def test_gate_diagnostics_checks_its_tables():
    gate = pd.DataFrame({"run": ["r0"], "k": [-0.4], "mu": [0.1], "s": [0.02]})
    assert len(gate_diagnostics(_training(), gate)) == 1
    with pytest.raises(ValueError, match="training: columns 'loss', 'warmup' are missing"):
        gate_diagnostics(_training().drop(columns=["loss", "warmup"]), gate)
    with pytest.raises(ValueError, match="gate: column 'mu' is missing"):
        gate_diagnostics(_training(), gate.drop(columns="mu"))
    with pytest.raises(ValueError, match="gate: run 'r0' has more than one row"):
        gate_diagnostics(_training(), pd.concat([gate, gate]))
    with pytest.raises(ValueError, match="gate: column 'k' has NaN or infinite values"):
        gate_diagnostics(_training(), gate.assign(k=NAN))
    with pytest.raises(TypeError, match="training must be a pandas DataFrame"):
        gate_diagnostics(None, gate)


# ---- figures and report ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def figures():
    from dassdp.analysis import figures

    return figures


@pytest.mark.parametrize(
    ("name", "table", "missing"),
    [
        ("accuracy_matrices", pd.DataFrame({"variant": ["a"], "seed": [0]}), "'block'"),
        ("learning_curves", _training().drop(columns="loss"), "'accuracy', 'loss'"),
        ("synchrony_over_training", _training().drop(columns="synchrony"), "'synchrony'"),
        ("gate_and_dopamine", _training().drop(columns=["gate"]), "'gate' and 'dopamine'"),
        ("gate_warmup", _training(), "'k', 'mu', 's'"),
        ("gate_warmup_trends", _training().drop(columns="seed"), "'seed'"),
        ("weight_changes", pd.DataFrame({"layer": ["fc"]}), "'variant'"),
        ("window_rasters", pd.DataFrame({"variant": ["a"]}), "'seed'"),
        ("gate_per_block", pd.DataFrame({"seed": [0]}), "'block'"),
        ("calibration_curves", pd.DataFrame({"variant": ["a"]}), "'rate_scale'"),
        ("latency_distributions", pd.DataFrame({"neuron": [0]}), "'latency'"),
    ],
)
def test_figures_name_missing_columns(figures, tmp_path, name, table, missing):
    with pytest.raises(ValueError, match=re.escape(missing) + r".* missing"):
        getattr(figures, name)(table, tmp_path / name)
    assert not list(tmp_path.iterdir())  # nothing drawn


def test_figures_check_rows_stem_and_arguments(figures, tmp_path):
    empty = _training().iloc[:0]
    with pytest.raises(ValueError, match="training has no rows"):
        figures.synchrony_over_training(empty, tmp_path / "s")
    with pytest.raises(TypeError, match="stem must be a path"):
        figures.synchrony_over_training(_training(), 3)
    summary_table = stats.summarise(_metrics(), reference="a")
    with pytest.raises(TypeError, match="metrics must be a list of names, got str"):
        figures.paired_differences(summary_table, tmp_path / "p", metrics="ACC")
    with pytest.raises(ValueError, match="metrics must name at least one metric"):
        figures.paired_differences(summary_table, tmp_path / "p", metrics=[])
    warmup = _training().assign(k=-0.4, mu=0.1, s=0.02)
    with pytest.raises(ValueError, match="max_panels must be >= 1"):
        figures.gate_warmup(warmup, tmp_path / "w", max_panels=0)
    weights = pd.DataFrame(
        {"variant": "a", "seed": 0, "block": 0, "trained_task": "A", "layer": "fc", "stat": ["mean"], "value": [0.1]}
    )
    with pytest.raises(ValueError, match="column 'stat' lacks the statistics"):
        figures.weight_changes(weights, tmp_path / "w")
    with pytest.raises(ValueError, match="column 'latency' has NaN or infinite values"):
        figures.latency_distributions(pd.DataFrame({"latency": [0.01, NAN]}), tmp_path / "l")
    with pytest.raises(ValueError, match="column 'time' is missing"):
        figures.raster(pd.DataFrame({"neuron": [0]}), tmp_path / "r")
    with pytest.raises(TypeError, match="block must be a real number"):
        figures.block_label("0", "A")
    assert not list(tmp_path.iterdir())


def test_report_checks_its_directory(tmp_path):
    from dassdp.analysis.report import build_report, report_is_current

    with pytest.raises(ValueError, match="results_dir .* is not an existing directory"):
        build_report(tmp_path / "missing")
    with pytest.raises(ValueError, match="results_dir .* is not an existing directory"):
        report_is_current(tmp_path / "missing")
    with pytest.raises(TypeError, match="results_dir must be a path"):
        build_report(3)
    with pytest.raises(TypeError, match="force must be a bool"):
        build_report(tmp_path, force="yes")
