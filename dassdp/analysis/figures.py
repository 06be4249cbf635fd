"""One function per figure. Each takes a tidy DataFrame (the columns of a study's results tables,
`dassdp.runs.runner.aggregate`) and an output path stem, saves ``<stem>.png`` and ``<stem>.svg``
(matplotlib's Agg backend) and returns the two paths.

Every figure has a title and axes labelled with their units. Variants keep one colour across
figures: where ``variant`` is a categorical column, its categories (the study's variants, in the
study's order) fix the colours, else the order of appearance does. Curves over training are the
mean over seeds of each seed's running mean within a block (shaded: +-1 SD over seeds), with the
blocks marked and labelled ``<block number>: <task>``.

Each function first checks its table: not a DataFrame raises TypeError, a missing column or a table
without rows ValueError naming it (never a KeyError from deep inside matplotlib or seaborn); a
``stem`` that is not a path raises TypeError.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from dassdp.analysis.table_checks import numeric_column, require_columns, require_names  # noqa: E402
from dassdp.checks import check_count, check_finite, check_path, check_positive, check_real  # noqa: E402

__all__ = [
    "DOPAMINERGIC",
    "GATED",
    "LABELS",
    "accuracy_matrices",
    "block_label",
    "calibration_curves",
    "gate_and_dopamine",
    "gate_per_block",
    "gate_warmup",
    "gate_warmup_trends",
    "latency_distributions",
    "learning_curves",
    "paired_differences",
    "raster",
    "synchrony_over_training",
    "weight_changes",
    "window_rasters",
]

#: the variant whose ``gate`` column is DA-SSDP's gate g, and the one whose ``dopamine`` column is
#: DA-STDP's dopamine level (the training table's conventions)
GATED, DOPAMINERGIC = "dassdp", "dastdp"
#: labels of the quantities on the axes, with their units
LABELS = {
    "accuracy": "accuracy (fraction correct)",
    "free_accuracy": "accuracy without the teacher (fraction correct)",
    "loss": "loss (cross-entropy, nats)",
    "synchrony": "synchrony S (dimensionless, 0-1)",
    "gate": "gate g (dimensionless, 0-2)",
    "dopamine": "dopamine DA (1/s)",
}


#: the columns of a curve over training (`_curves`, `_mark_blocks`)
CURVE_COLUMNS = ("run", "variant", "seed", "block", "task", "trial")
#: the statistics `weight_changes` plots
WEIGHT_STATS = ("change_from_previous", "min", "max", "mean", "std")


def _check(name: str, table, stem, columns) -> None:
    """``table`` has ``columns`` and rows, ``stem`` is a path (ValueError/TypeError naming them)."""
    check_path("stem", stem)
    require_columns(name, table, columns, rows=True)


def _save(fig: plt.Figure, stem: str | Path) -> list[Path]:
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    for path in paths:
        fig.savefig(path, bbox_inches="tight", dpi=100)
    plt.close(fig)
    return paths


def block_label(block: int, task: str) -> str:
    """``before training`` for block -1 (the evaluation before the first block), else
    ``<block number from 1>: <task>``."""
    check_real("block", block)
    return "before training" if block < 0 else f"{block + 1}: {task}"


def _variants(table: pd.DataFrame) -> list[str]:
    """The variants present, in category order where ``variant`` is categorical."""
    present = set(table["variant"])
    column = table["variant"]
    names = column.cat.categories if isinstance(column.dtype, pd.CategoricalDtype) else pd.unique(column)
    return [v for v in names if v in present]


def _palette(table: pd.DataFrame) -> dict[str, tuple]:
    column = table["variant"]
    names = list(column.cat.categories if isinstance(column.dtype, pd.CategoricalDtype) else pd.unique(column))
    return dict(zip(names, sns.color_palette("colorblind", max(len(names), 1)), strict=False))


def _mark_blocks(ax: plt.Axes, training: pd.DataFrame, label: bool = True) -> None:
    """A dashed line at the start of every block after the first; with ``label``, the block's
    label above the axes."""
    blocks = training.groupby("block", sort=True).agg(
        start=("trial", "min"), end=("trial", "max"), task=("task", "first")
    )
    for block, row in blocks.iterrows():
        if row.start > blocks.start.min():
            ax.axvline(row.start - 0.5, color="grey", linestyle="--", linewidth=0.8)
        if label:
            ax.text(
                (row.start + row.end) / 2,
                1.01,
                block_label(int(block), row.task),
                ha="center",
                va="bottom",
                fontsize=8,
                color="dimgrey",
                transform=ax.get_xaxis_transform(),
            )


def _window(training: pd.DataFrame) -> int:
    """Running-mean width: a fifteenth of the median block length, at least 1."""
    return max(1, int(training.groupby(["run", "block"]).size().median()) // 15)


def _curves(training: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per (variant, trial): mean and SD over seeds of each run's running mean of ``column`` within
    each block (`_window` wide, centred)."""
    rows = training[["run", "variant", "block", "trial", column]].sort_values(["run", "trial"])
    width = _window(rows)
    rows["smooth"] = rows.groupby(["run", "block"], sort=False)[column].transform(
        lambda s: s.rolling(width, center=True, min_periods=1).mean()
    )
    return rows.groupby(["variant", "trial"], observed=True).smooth.agg(["mean", "std"]).reset_index()


def _plot_curves(ax: plt.Axes, training: pd.DataFrame, column: str) -> None:
    curves, palette = _curves(training, column), _palette(training)
    for variant in _variants(training):
        curve = curves[curves.variant == variant]
        ax.plot(curve.trial, curve["mean"], color=palette[variant], linewidth=1.2, label=variant)
        sd = curve["std"].fillna(0.0)
        ax.fill_between(
            curve.trial, curve["mean"] - sd, curve["mean"] + sd, color=palette[variant], alpha=0.15, linewidth=0
        )


def _seeds_note(table: pd.DataFrame) -> str:
    n = table.groupby("variant", observed=True).seed.nunique()
    return f"{n.min()} seeds" if n.min() == n.max() else f"{n.min()}-{n.max()} seeds"


def paired_differences(summary: pd.DataFrame, stem: str | Path, metrics: list[str]) -> list[Path]:
    """Forest plot of the paired difference to the reference variant (rows of
    `dassdp.analysis.stats.summarise` with a reference: ``variant``, ``metric``, ``reference``,
    ``diff``, ``diff_low``, ``diff_high``, ``n_pairs``), one panel per metric of ``metrics`` (titled
    with the metric's name), one row per variant other than the reference; the bar is the 95 %
    t-interval."""
    _check("summary", summary, stem, ["variant", "metric", "reference", "diff", "diff_low", "diff_high", "n_pairs"])
    metrics = require_names("metrics", metrics)
    if not metrics:
        raise ValueError("metrics must name at least one metric")
    others = summary[(summary.variant != summary.reference) & summary.metric.isin(metrics)]
    variants, palette = _variants(others), _palette(summary)
    reference = summary.reference.iloc[0]
    fig, axes = plt.subplots(
        1,
        len(metrics),
        figsize=(2.6 * len(metrics) + 1, 0.45 * len(variants) + 1.6),
        sharey=True,
        squeeze=False,
        layout="constrained",
    )
    for ax, metric in zip(axes[0], metrics, strict=True):
        rows = others[others.metric == metric].set_index("variant")
        for y, variant in enumerate(variants):
            if variant not in rows.index:
                continue
            row = rows.loc[variant]
            err = [[row["diff"] - row.diff_low], [row.diff_high - row["diff"]]] if pd.notna(row.diff_low) else None
            ax.errorbar(row["diff"], y, xerr=err, fmt="o", color=palette[variant], capsize=3)
        ax.axvline(0.0, color="grey", linewidth=0.8)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.set_title(metric, fontsize=10)
        ax.set_xlabel(f"difference to {reference}\n(fraction correct)")
    axes[0, 0].set_yticks(range(len(variants)), variants)
    axes[0, 0].invert_yaxis()
    n = others.n_pairs.max() if len(others) else 0
    fig.suptitle(f"Paired difference to {reference}: mean and 95 % t-interval over {n} seeds")
    return _save(fig, stem)


def accuracy_matrices(evaluations: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Per variant, the accuracy matrix averaged over seeds: one row per evaluation (``block``,
    with ``trained_task``; block -1 is before training), one column per ``eval_task``."""
    _check("evaluations", evaluations, stem, ["variant", "seed", "block", "trained_task", "eval_task", "accuracy"])
    variants = _variants(evaluations)
    tasks = list(pd.unique(evaluations.eval_task))
    labels = evaluations.groupby("block").trained_task.first()
    fig, axes = plt.subplots(
        1,
        len(variants),
        figsize=(0.9 * len(tasks) * len(variants) + 2.5, 0.45 * len(labels) + 1.6),
        sharey=True,
        squeeze=False,
        layout="constrained",
    )
    for k, (ax, variant) in enumerate(zip(axes[0], variants, strict=True)):
        rows = evaluations[evaluations.variant == variant]
        matrix = rows.pivot_table(index="block", columns="eval_task", values="accuracy", aggfunc="mean")
        matrix = matrix.reindex(index=labels.index, columns=tasks)
        matrix.index = [block_label(b, labels[b]) for b in matrix.index]
        last = k == len(variants) - 1
        sns.heatmap(
            matrix,
            annot=True,
            fmt=".2f",
            vmin=0,
            vmax=1,
            cmap="viridis",
            cbar=last,
            ax=ax,
            cbar_kws={"label": LABELS["accuracy"]} if last else None,
            annot_kws={"fontsize": 8},
        )
        ax.set_title(f"{variant} (n = {rows.seed.nunique()})", fontsize=10)
        ax.set_xlabel("evaluated task")
        ax.set_ylabel("evaluated after block" if k == 0 else "")
        ax.tick_params(axis="y", rotation=0)
    fig.suptitle("Accuracy matrix per variant: test accuracy after each block, mean over seeds")
    return _save(fig, stem)


def learning_curves(training: pd.DataFrame, stem: str | Path, trial: str = "trial") -> list[Path]:
    """Training accuracy and loss over the trials of the sequence, per variant (columns ``run``,
    ``variant``, ``seed``, ``block``, ``task``, ``trial``, ``accuracy``, ``loss``); ``trial`` names
    the unit of the x axis (a training window, a mini-batch). Where the table has
    ``free_accuracy`` (the Brian2 phase: the label neurons' own prediction, without the teacher)
    it is the accuracy shown."""
    accuracy = "free_accuracy" if "free_accuracy" in getattr(training, "columns", ()) else "accuracy"
    _check("training", training, stem, [*CURVE_COLUMNS, accuracy, "loss"])
    fig, axes = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True, layout="constrained")
    for ax, column in zip(axes, (accuracy, "loss"), strict=True):
        _plot_curves(ax, training, column)
        _mark_blocks(ax, training, label=ax is axes[0])
        ax.set_ylabel("training " + LABELS[column].replace(" (", "\n("))
    axes[0].set_ylim(-0.02, 1.05)
    fig.legend(
        *axes[0].get_legend_handles_labels(), loc="outside lower center", fontsize=8, ncols=len(_variants(training))
    )
    axes[-1].set_xlabel(f"{trial} (index over the whole sequence)")
    fig.suptitle(
        f"Learning curves: running mean of width {_window(training)}, mean \u00b1 SD over {_seeds_note(training)}"
    )
    return _save(fig, stem)


def synchrony_over_training(training: pd.DataFrame, stem: str | Path, trial: str = "trial") -> list[Path]:
    """Sample synchrony S of the plastic projection over training, per variant (columns ``run``,
    ``variant``, ``seed``, ``block``, ``task``, ``trial``, ``synchrony``)."""
    _check("training", training, stem, [*CURVE_COLUMNS, "synchrony"])
    fig, ax = plt.subplots(figsize=(9, 3.5), layout="constrained")
    _plot_curves(ax, training, "synchrony")
    _mark_blocks(ax, training)
    ax.set(xlabel=f"{trial} (index over the whole sequence)", ylabel=LABELS["synchrony"])
    ax.legend(fontsize=8, ncols=min(6, len(_variants(training))))
    ax.set_title(f"Synchrony S over training: running mean, mean \u00b1 SD over {_seeds_note(training)}", pad=16)
    return _save(fig, stem)


def gate_and_dopamine(training: pd.DataFrame, stem: str | Path, trial: str = "trial") -> list[Path]:
    """DA-SSDP's gate g (rows of variant ``dassdp``, column ``gate``; NaN during warm-up) and
    DA-STDP's dopamine level (rows of variant ``dastdp``, column ``dopamine``, in 1/s) on separate
    axes, each seed's running mean thin and their mean bold; the warm-up is shaded."""
    _check("training", training, stem, ["run", "variant", "block", "task", "trial"])
    if "gate" not in training.columns and "dopamine" not in training.columns:
        raise ValueError(f"training: columns 'gate' and 'dopamine' are missing (have {list(training.columns)})")
    gated = "gate" in training.columns and training.loc[training.variant == GATED, "gate"].notna().any()
    panels = [(GATED, "gate")] if gated else []
    if "dopamine" in training.columns and training.loc[training.variant == DOPAMINERGIC, "dopamine"].notna().any():
        panels.append((DOPAMINERGIC, "dopamine"))
    if not panels:
        raise ValueError(f"no {GATED} gate and no {DOPAMINERGIC} dopamine in the table")
    palette = _palette(training)
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(9, 3 * len(panels) + 0.5), sharex=True, squeeze=False, layout="constrained"
    )
    for ax, (variant, column) in zip(axes[:, 0], panels, strict=True):
        rows = training[training.variant == variant]
        width = _window(rows)
        for _, run in rows.sort_values("trial").groupby("run"):
            smooth = run.groupby("block")[column].transform(
                lambda s: s.rolling(width, center=True, min_periods=1).mean()
            )
            ax.plot(run.trial, smooth, color=palette[variant], alpha=0.25, linewidth=0.6)
        curve = _curves(rows, column)
        ax.plot(curve.trial, curve["mean"], color=palette[variant], linewidth=1.6, label=f"{variant}: mean over seeds")
        warm = rows.loc[rows.warmup.astype(bool), "trial"] if "warmup" in rows.columns else pd.Series(dtype=float)
        if len(warm):
            ax.axvspan(warm.min() - 0.5, warm.max() + 0.5, color="grey", alpha=0.12, label="warm-up (gate fitted)")
        if column == "gate":
            ax.axhline(1.0, color="grey", linewidth=0.8, linestyle=":", label="g = 1 (ungated)")
            ax.set_ylim(-0.05, 2.05)
        else:
            ax.axhline(0.0, color="grey", linewidth=0.8, linestyle=":")
        _mark_blocks(ax, training, label=ax is axes[0, 0])
        ax.set_ylabel(LABELS[column])
        ax.legend(fontsize=8, loc="upper right")
    axes[-1, 0].set_xlabel(f"{trial} (index over the whole sequence)")
    names = " and ".join({"gate": "DA-SSDP gate g", "dopamine": "DA-STDP dopamine DA"}[c] for _, c in panels)
    fig.suptitle(f"{names} over training (running mean per seed)")
    return _save(fig, stem)


def weight_changes(weights: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Per block and variant, the norm of the weight change since the previous block and the
    range of the weights, one column per layer whose weights change at all (the weights table:
    ``variant``, ``seed``, ``block``, ``trained_task``, ``layer``, ``stat``, ``value``)."""
    _check("weights", weights, stem, ["variant", "seed", "block", "trained_task", "layer", "stat", "value"])
    missing = sorted(set(WEIGHT_STATS) - set(weights["stat"]))
    if missing:
        raise ValueError(f"weights: column 'stat' lacks the statistics {missing}")
    wide = weights.pivot_table(
        index=["variant", "seed", "block", "trained_task", "layer"], columns="stat", values="value", observed=True
    ).reset_index()
    moving = wide.groupby("layer").change_from_previous.max()
    layers = [layer for layer in pd.unique(wide.layer) if moving[layer] > 0] or list(pd.unique(wide.layer))
    variants, palette = _variants(weights), _palette(weights)
    blocks = wide.groupby("block").trained_task.first()
    step = 0.8 / max(len(variants), 1)
    fig, axes = plt.subplots(
        2, len(layers), figsize=(max(4.2 * len(layers) + 1, 7), 6.5), sharex=True, squeeze=False, layout="constrained"
    )
    for col, layer in enumerate(layers):
        top, bottom = axes[0, col], axes[1, col]
        for k, variant in enumerate(variants):
            rows = wide[(wide.layer == layer) & (wide.variant == variant)]
            per_block = rows.groupby("block")
            x = per_block.size().index.to_numpy() + (k - (len(variants) - 1) / 2) * step
            change = per_block.change_from_previous
            top.errorbar(
                x, change.mean(), yerr=change.std().fillna(0), fmt="o", color=palette[variant], capsize=2, label=variant
            )
            bottom.vlines(x, per_block["min"].mean(), per_block["max"].mean(), color=palette[variant], linewidth=1)
            bottom.errorbar(
                x,
                per_block["mean"].mean(),
                yerr=per_block["std"].mean(),
                fmt="s",
                markersize=4,
                color=palette[variant],
                capsize=2,
            )
        top.set_title(layer, fontsize=10)
        top.set_ylabel("||dW|| since previous block\n(Frobenius norm, weight units)" if col == 0 else "")
        bottom.set_ylabel("weight (weight units):\nmin-max line, mean \u00b1 SD" if col == 0 else "")
        bottom.set_xticks(blocks.index, [block_label(b, t) for b, t in blocks.items()])
        bottom.set_xlabel("after block")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"Weight change and weight range per block: mean (\u00b1 SD) over {_seeds_note(weights)}")
    return _save(fig, stem)


def gate_warmup(warmup: pd.DataFrame, stem: str | Path, max_panels: int = 12) -> list[Path]:
    """The warm-up records (S, L) of each DA-SSDP run, coloured by their order in the warm-up,
    with the relation the fitted gate implies: ``L = mean(L) - k sd(L) (S - mu) / s``, the
    regression line of L on S when ``k = -corr(S, L)`` (columns ``run``, ``seed``, ``trial``,
    ``synchrony``, ``loss`` and the run's fit ``k``, ``mu``, ``s``; optional ``k_detrended``,
    ``trend_S``, ``trend_L`` of `dassdp.analysis.gate_diagnostics`). One panel per run, the first
    ``max_panels`` runs by seed."""
    _check("warmup", warmup, stem, ["run", "seed", "trial", "synchrony", "loss", "k", "mu", "s"])
    check_count("max_panels", max_panels, minimum=1)
    every = warmup.groupby("run").seed.first().sort_values().index
    runs = every[:max_panels]
    ncols = min(4, len(runs))
    nrows = math.ceil(len(runs) / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.3 * ncols + 1, 2.9 * nrows + 0.6), squeeze=False, layout="constrained"
    )
    scatter = None
    for ax, run in zip(axes.flat, runs, strict=False):
        rows = warmup[warmup.run == run].sort_values("trial")
        s, loss = rows.synchrony.to_numpy(dtype=float), rows.loss.to_numpy(dtype=float)
        order = np.arange(len(rows)) / max(len(rows) - 1, 1)
        scatter = ax.scatter(s, loss, c=order, cmap="viridis", vmin=0, vmax=1, s=14, linewidth=0)
        first = rows.iloc[0]
        grid = np.linspace(s.min(), s.max(), 2)
        implied = loss.mean() - first.k * loss.std(ddof=0) * (grid - first.mu) / first.s
        ax.plot(grid, implied, color="crimson", linewidth=1.4)
        title = f"seed {first.seed}: k = {first.k:+.2f}"
        if {"k_published", "k_detrended"} <= set(rows.columns):
            title += f"\nrecomputed {first.k_published:+.2f}, detrended {first.k_detrended:+.2f}"
        ax.set_title(title, fontsize=9)
        if {"trend_S", "trend_L"} <= set(rows.columns):
            ax.text(
                0.02,
                0.97,
                f"corr(S, trial) {first.trend_S:+.2f}\ncorr(L, trial) {first.trend_L:+.2f}",
                transform=ax.transAxes,
                fontsize=7,
                va="top",
            )
        ax.set_xlabel("synchrony S (dimensionless)")
        ax.set_ylabel("loss L (nats)")
    for ax in list(axes.flat)[len(runs) :]:
        ax.set_visible(False)
    fig.colorbar(scatter, ax=axes, label="position in warm-up (0 first, 1 last)", fraction=0.02, pad=0.02)
    shown = f" (the first {len(runs)} of {len(every)} runs by seed)" if len(every) > len(runs) else ""
    fig.suptitle(
        f"DA-SSDP warm-up: loss L against synchrony S per run{shown}; red: the relation the fitted gate implies"
    )
    return _save(fig, stem)


def gate_warmup_trends(warmup: pd.DataFrame, stem: str | Path, trial: str = "trial") -> list[Path]:
    """S and L against the trial index over each DA-SSDP run's warm-up: each seed's records thin,
    its least-squares line dashed, the mean over seeds bold (columns ``run``, ``seed``, ``trial``,
    ``synchrony``, ``loss``)."""
    _check("warmup", warmup, stem, ["run", "seed", "trial", "synchrony", "loss"])
    seeds = sorted(warmup.seed.unique())
    colours = dict(zip(seeds, sns.color_palette("viridis", len(seeds)), strict=True))
    ordered = warmup.sort_values("trial").assign(step=lambda t: t.groupby("run").cumcount())
    fig, axes = plt.subplots(2, 1, figsize=(8, 5.5), sharex=True, layout="constrained")
    for ax, column in zip(axes, ("synchrony", "loss"), strict=True):
        slopes = []
        for _, rows in ordered.groupby("run"):
            step, values = rows.step.to_numpy(), rows[column].to_numpy(dtype=float)
            colour = colours[rows.seed.iloc[0]]
            ax.plot(step, values, color=colour, linewidth=0.6, alpha=0.3)
            if len(step) >= 2 and np.ptp(values) > 0:
                ax.plot(
                    step,
                    np.polyval(np.polyfit(step, values, 1), step),
                    color=colour,
                    linestyle="--",
                    linewidth=1.2,
                    label=f"seed {rows.seed.iloc[0]}",
                )
                slopes.append(np.corrcoef(step, values)[0, 1])
        mean = ordered.groupby("step")[column].mean()
        ax.plot(mean.index, mean.to_numpy(), color="black", linewidth=1.8, label="mean over seeds")
        if slopes:
            ax.text(
                0.01,
                0.97,
                f"median corr with the trial index: {np.median(slopes):+.2f}",
                transform=ax.transAxes,
                va="top",
                fontsize=8,
            )
    axes[0].set_ylabel(LABELS["synchrony"].replace(" (", "\n("))
    axes[1].set_ylabel(LABELS["loss"].replace(" (", "\n("))
    axes[1].set_xlabel(f"warm-up {trial} (from the first)")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right center", fontsize=7)
    fig.suptitle("DA-SSDP warm-up: S and L per seed (thin), their linear trend (dashed) and mean (bold)")
    return _save(fig, stem)


def window_rasters(rasters: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Spikes of a few training windows per variant (columns of the Brian2 phase's ``rasters``
    table: ``variant``, ``seed``, ``block``, ``task``, ``label``, ``position``, ``population``,
    ``neuron``, ``step``), first seed of each variant: one row per variant, one column per window
    (the first and last training window of every block); hidden neurons in grey, the label neurons
    above them, the correct one in red."""
    _check(
        "rasters",
        rasters,
        stem,
        ["variant", "seed", "block", "task", "label", "position", "population", "neuron", "step"],
    )
    variants = _variants(rasters)
    windows = rasters[["block", "task", "position"]].drop_duplicates().sort_values(["block", "position"])
    n_hidden = int(rasters.loc[rasters.population == "hidden", "neuron"].max()) + 1
    steps = int(rasters.step.max()) + 1
    fig, axes = plt.subplots(
        len(variants),
        len(windows),
        figsize=(1.6 * len(windows) + 1, 1.5 * len(variants) + 1),
        sharex=True,
        sharey=True,
        squeeze=False,
        layout="constrained",
    )
    for row, variant in enumerate(variants):
        table = rasters[(rasters.variant == variant) & (rasters.seed == rasters[rasters.variant == variant].seed.min())]
        for col, window in enumerate(windows.itertuples()):
            ax = axes[row, col]
            spikes = table[(table.block == window.block) & (table.position == window.position)]
            hidden, labels = spikes[spikes.population == "hidden"], spikes[spikes.population == "label"]
            correct = labels.neuron == labels.label
            ax.scatter(hidden.step, hidden.neuron, s=2, color="grey", linewidths=0)
            ax.scatter(
                labels.step[~correct], n_hidden + 2 + labels.neuron[~correct], s=6, color="tab:blue", linewidths=0
            )
            ax.scatter(labels.step[correct], n_hidden + 2 + labels.neuron[correct], s=8, color="tab:red", linewidths=0)
            ax.axhline(n_hidden + 0.5, color="black", linewidth=0.5)
            ax.set_xlim(-0.5, steps - 0.5)
            if row == 0:
                label = int(spikes.label.iloc[0]) if len(spikes) else "?"
                ax.set_title(
                    f"{block_label(window.block, window.task)}: {window.position}\n(label {label})", fontsize=8
                )
            if col == 0:
                ax.set_ylabel(f"{variant}\nneuron", fontsize=8)
            if row == len(variants) - 1:
                ax.set_xlabel("time step in the window", fontsize=8)
    fig.suptitle(
        f"Spikes of the first and last training window of each block (first seed)\n{n_hidden} hidden "
        "neurons (grey); label neurons above the line (red: the window's class)"
    )
    return _save(fig, stem)


def gate_per_block(diagnostics: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Per block after warm-up, DA-SSDP's mean gate and the fraction of windows with g < 0.1
    (columns ``seed``, ``block``, ``task``, ``mean_gate``, ``closed`` of
    `dassdp.analysis.gate_diagnostics`): one point per seed, the mean as a bar."""
    _check("diagnostics", diagnostics, stem, ["seed", "block", "task", "mean_gate", "closed"])
    labels = diagnostics.assign(
        label=[block_label(b, t) for b, t in zip(diagnostics.block, diagnostics.task, strict=True)]
    )
    order = [block_label(b, t) for b, t in diagnostics.groupby("block").task.first().items()]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
    for ax, column, label in (
        (axes[0], "mean_gate", "mean gate g (dimensionless, 0-2)"),
        (axes[1], "closed", "fraction of windows with g < 0.1"),
    ):
        sns.barplot(data=labels, x="label", y=column, order=order, errorbar=None, color="lightsteelblue", ax=ax)
        sns.stripplot(data=labels, x="label", y=column, order=order, color="black", size=4, ax=ax)
        ax.set(xlabel="block", ylabel=label)
    axes[0].axhline(1.0, color="grey", linestyle=":", linewidth=0.8)
    axes[0].set_ylim(0, 2.05)
    axes[1].set_ylim(0, 1.02)
    fig.suptitle(f"DA-SSDP gate per block after warm-up ({diagnostics.seed.nunique()} seeds; dots: seeds)")
    return _save(fig, stem)


def calibration_curves(calibration: pd.DataFrame, stem: str | Path) -> list[Path]:
    """The validation criterion against the learning-rate scale, per variant (columns
    ``variant``, ``rate_scale``, ``seed``, ``criterion``, ``value``, ``chosen``): the mean over
    calibration seeds as a line, each seed as a dot, the chosen scale ringed; log x."""
    _check("calibration", calibration, stem, ["variant", "rate_scale", "seed", "criterion", "value", "chosen"])
    palette = _palette(calibration)
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    for variant in _variants(calibration):
        rows = calibration[calibration.variant == variant]
        mean = rows.groupby("rate_scale").value.mean()
        ax.plot(mean.index, mean.to_numpy(), marker="o", color=palette[variant], label=variant)
        ax.scatter(rows.rate_scale, rows.value, color=palette[variant], s=10, alpha=0.5)
        chosen = rows[rows.chosen].rate_scale.unique()
        ax.scatter(chosen, mean.loc[chosen], s=160, facecolors="none", edgecolors=palette[variant], linewidths=2)
    ax.set_xscale("log")
    criterion = calibration.criterion.iloc[0]
    ax.set(
        xlabel="learning-rate scale (x the base amplitudes, log scale)",
        ylabel=f"validation {criterion} (fraction correct)",
    )
    ax.legend(fontsize=8)
    ax.set_title(f"Calibration: validation {criterion} per learning-rate scale (ringed: chosen)")
    return _save(fig, stem)


def raster(spikes: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Spike raster (time in s vs neuron), one colour per population, window starts as lines
    (from the table's window definition, ``attrs``)."""
    from dassdp.analysis.spikes import validate, window_definition

    check_path("stem", stem)
    validate(spikes)
    definition = window_definition(spikes)
    if "window" in definition:
        check_positive("window", definition["window"])
        check_finite("t0", definition.get("t0", 0.0))
    fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    hue = "population" if "population" in spikes.columns else None
    sns.scatterplot(data=spikes, x="time", y="neuron", hue=hue, s=4, linewidth=0, ax=ax)
    if "window" in spikes.attrs:
        w, t0 = spikes.attrs["window"], spikes.attrs.get("t0", 0.0)
        n = spikes.attrs.get("n_windows", int(np.ceil((spikes["time"].max() - t0) / w)))
        ax.vlines(
            t0 + w * np.arange(n + 1), 0, 1, transform=ax.get_xaxis_transform(), color="grey", linewidth=0.5, alpha=0.6
        )
    ax.set(xlabel="time (s)", ylabel="neuron index", title="Spike raster")
    return _save(fig, stem)


def latency_distributions(table: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Histograms of first-spike latency in ms (column ``latency``, in s; hue ``population``)."""
    _check("table", table, stem, ["latency"])
    latency = numeric_column("table", table, "latency")
    if not np.isfinite(latency).all():
        raise ValueError("table: column 'latency' has NaN or infinite values")
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
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
    ax.set(xlabel="first-spike latency (ms)", ylabel="density (1/ms)", title="First-spike latencies")
    return _save(fig, stem)
