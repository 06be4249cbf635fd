"""One function per figure. Each takes a tidy DataFrame and an output path stem, saves
``<stem>.png`` and ``<stem>.svg`` (matplotlib's Agg backend) and returns the two paths.

``FIGURES`` maps each figure's name to its function and the columns it needs, so a report can make
every figure whose columns a table has.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

__all__ = [
    "FIGURES",
    "accuracy_heatmap",
    "forgetting_per_variant",
    "gate_and_dopamine",
    "latency_distributions",
    "raster",
    "synchrony_over_trials",
    "weight_change_histograms",
]


def _save(fig: plt.Figure, stem: str | Path) -> list[Path]:
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    for path in paths:
        fig.savefig(path, bbox_inches="tight", dpi=120)
    plt.close(fig)
    return paths


def _task_switches(ax: plt.Axes, table: pd.DataFrame, x: str) -> None:
    """Dashed vertical lines where the ``task`` column changes along ``x``."""
    if "task" not in table.columns:
        return
    ordered = table.sort_values(x)
    changed = ordered["task"].ne(ordered["task"].shift()) & ordered["task"].shift().notna()
    for position in ordered.loc[changed, x].unique():
        ax.axvline(position, color="grey", linestyle="--", linewidth=0.8)


def raster(spikes: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Spike raster (time in s vs neuron), one colour per population, window starts as lines
    (from the table's window definition, ``attrs``)."""
    fig, ax = plt.subplots(figsize=(8, 4))
    hue = "population" if "population" in spikes.columns else None
    sns.scatterplot(data=spikes, x="time", y="neuron", hue=hue, s=4, linewidth=0, ax=ax)
    if "window" in spikes.attrs:
        w, t0 = spikes.attrs["window"], spikes.attrs.get("t0", 0.0)
        n = spikes.attrs.get("n_windows", int(np.ceil((spikes["time"].max() - t0) / w)))
        ax.vlines(
            t0 + w * np.arange(n + 1),
            0,
            1,
            transform=ax.get_xaxis_transform(),
            color="grey",
            linewidth=0.5,
            alpha=0.6,
        )
    ax.set(xlabel="time (s)", ylabel="neuron")
    return _save(fig, stem)


def synchrony_over_trials(table: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Sample synchrony S per trial (columns ``trial``, ``synchrony``; optional ``variant`` and
    ``task`` for hue and task-switch marks)."""
    fig, ax = plt.subplots(figsize=(8, 3.5))
    hue = "variant" if "variant" in table.columns else None
    sns.lineplot(data=table, x="trial", y="synchrony", hue=hue, ax=ax)
    _task_switches(ax, table, "trial")
    ax.set(xlabel="trial", ylabel="synchrony S")
    return _save(fig, stem)


def gate_and_dopamine(table: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Gate g and dopamine level per trial, two stacked panels (columns ``trial``, ``gate``,
    ``dopamine``; optional ``task`` for task-switch marks)."""
    fig, axes = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    for ax, column in zip(axes, ("gate", "dopamine"), strict=True):
        sns.lineplot(data=table, x="trial", y=column, ax=ax)
        _task_switches(ax, table, "trial")
    axes[-1].set_xlabel("trial")
    return _save(fig, stem)


def accuracy_heatmap(table: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Heatmap of the accuracy matrix R[i, j] (columns ``trained_task``, ``eval_task``,
    ``accuracy``; averaged over seeds and runs)."""
    matrix = table.pivot_table(
        index="trained_task", columns="eval_task", values="accuracy", aggfunc="mean"
    )
    fig, ax = plt.subplots(figsize=(1.2 * matrix.shape[1] + 2, 1.0 * matrix.shape[0] + 1.5))
    sns.heatmap(matrix, annot=True, fmt=".2f", vmin=0, vmax=1, cmap="viridis", ax=ax)
    ax.set(xlabel="evaluated task j", ylabel="trained through task i")
    return _save(fig, stem)


def forgetting_per_variant(table: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Forgetting per variant, one point per seed and the mean with its 95 % t-interval
    (`dassdp.analysis.stats.t_interval`; columns ``variant``, ``metric``, ``value`` as from
    ``continual_metrics``)."""
    from dassdp.analysis.stats import t_interval

    rows = table[table["metric"] == "forgetting"]
    fig, ax = plt.subplots(figsize=(6, 4))
    sns.pointplot(data=rows, x="variant", y="value", errorbar=lambda x: t_interval(x)[1:], linestyle="none", ax=ax)
    sns.stripplot(data=rows, x="variant", y="value", color="grey", alpha=0.6, ax=ax)
    ax.set(ylabel="forgetting")
    return _save(fig, stem)


def latency_distributions(table: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Histograms of first-spike latency in ms (column ``latency``, in s; hue ``population``)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    hue = "population" if "population" in table.columns else None
    sns.histplot(
        data=table.assign(latency_ms=table["latency"] * 1e3),
        x="latency_ms",
        hue=hue,
        element="step",
        stat="density",
        common_norm=False,
        ax=ax,
    )
    ax.set(xlabel="first-spike latency (ms)")
    return _save(fig, stem)


def weight_change_histograms(table: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Histograms of weight changes (column ``dw``), one panel per ``layer`` and hue per
    ``variant`` where those columns exist."""
    col = "layer" if "layer" in table.columns else None
    hue = "variant" if "variant" in table.columns else None
    grid = sns.displot(data=table, x="dw", col=col, hue=hue, element="step", height=3, aspect=1.3)
    grid.set_axis_labels("weight change dw", "count")
    return _save(grid.figure, stem)


#: name -> (figure function, columns it needs)
FIGURES: dict[str, tuple[Callable[[pd.DataFrame, str | Path], list[Path]], frozenset[str]]] = {
    "raster": (raster, frozenset({"neuron", "time"})),
    "synchrony_over_trials": (synchrony_over_trials, frozenset({"trial", "synchrony"})),
    "gate_and_dopamine": (gate_and_dopamine, frozenset({"trial", "gate", "dopamine"})),
    "accuracy_heatmap": (accuracy_heatmap, frozenset({"trained_task", "eval_task", "accuracy"})),
    "forgetting_per_variant": (forgetting_per_variant, frozenset({"variant", "metric", "value"})),
    "latency_distributions": (latency_distributions, frozenset({"latency"})),
    "weight_change_histograms": (weight_change_histograms, frozenset({"dw"})),
}
