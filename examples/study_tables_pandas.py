"""
Reading a study's Parquet tables with pandas and seaborn
=======================================================

``dassdp run STUDY.toml --out DIR`` writes tidy Parquet tables, one row per observation, into
``DIR`` (`dassdp.runs.runner.aggregate`): ``evaluations`` (accuracy of each task after each
block), ``training`` (every training trial: loss, accuracy, synchrony, gate, dopamine),
``metrics`` (ACC, BWT, FWT, forgetting per run), ``summary`` (mean, 95 % t-interval and paired
difference to the reference variant), ``weights``, ``gate`` and ``gate_diagnostics``. They load
with ``pandas.read_parquet`` and plot with seaborn without reshaping.

Given a results directory, this script reads it; without one it first runs a tiny version of the
``make demo`` study (digits A -> B -> A in Brian2 after PyTorch pretraining on A; no plasticity,
DA-STDP and DA-SSDP on the readout; task-incremental: chance is 0.2), with ``dassdp run``, into
``OUT/<study name>`` and reads that (a second call reuses the finished runs).

Figure (``study_tables_pandas.png``): per variant, the accuracy matrix (block trained through x
task evaluated, pretraining included); the readout's synchrony over the training trials, mean and
95 % interval over seeds; ACC, BWT and forgetting per seed with their means; the DA-SSDP gate per
block.

What to look for in the tiny study (3 seeds, too few to tell variants apart): DA-STDP forgets
part of A while B is trained and its synchrony climbs; DA-SSDP's gate falls in the B block, where
synchrony and loss change, and recovers when A returns.

Runs in about 30 s on 2 CPU cores with the tiny study (3 variants x 3 seeds, 2 worker
processes); ``DASSDP_EXAMPLE_QUICK=1`` runs 2 variants x 2 seeds with fewer samples in one
process (10-15 s). Reading an existing directory takes seconds. Output: ``--out DIR`` or
``DASSDP_EXAMPLE_OUT`` (default: the current directory).
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

parser = argparse.ArgumentParser(description="Read a study's Parquet tables with pandas and seaborn")
parser.add_argument(
    "results",
    type=Path,
    nargs="?",
    default=None,
    help="a results directory of `dassdp run` (default: run a tiny study first)",
)
parser.add_argument(
    "--out",
    type=Path,
    default=Path(os.environ.get("DASSDP_EXAMPLE_OUT", ".")),
    help="directory of the figure (default: $DASSDP_EXAMPLE_OUT or the current directory)",
)
args = parser.parse_args()
QUICK = os.environ.get("DASSDP_EXAMPLE_QUICK", "0") != "0"

# ---- parameters of the tiny study (used only without a results directory) ----------------------
STUDY = f"""
name = "tiny_digits_ab_brian2{"_quick" if QUICK else ""}"
phase = "brian2"
variants = {'["none", "dassdp"]' if QUICK else '["none", "dastdp", "dassdp"]'}
reference = "none"
seeds = {[0, 1] if QUICK else [0, 1, 2]}
sequence = ["A", "B", "A"]
[dataset]
name = "digits"
[tasks]
kind = "classes"
scenario = "task"
[tasks.classes]
A = [0, 1, 2, 3, 4]
B = [5, 6, 7, 8, 9]
[network]
hidden = [32]
n_steps = 8
encoding = "direct"
[training]
lr = 3e-3
batch_size = 32
[brian2]
target = "numpy"
dt_ms = 1.0
pretrain = ["A"]
pretrain_epochs = 2
head = "masked"
train_samples = {30 if QUICK else 80}
eval_samples = {30 if QUICK else 60}
signal = "teacher"
teacher = 1.0
[brian2.dassdp]
warmup = {10 if QUICK else 20}
"""

results = args.results
if results is None:
    name = STUDY.split('name = "')[1].split('"')[0]
    results = args.out / name
    args.out.mkdir(parents=True, exist_ok=True)
    study = args.out / f"{name}.toml"
    study.write_text(STUDY)
    # --resume: finish (or reuse) the runs already in the directory
    subprocess.run(
        [
            sys.executable,
            "-m",
            "dassdp.cli",
            "run",
            str(study),
            "--out",
            str(results),
            "--resume",
            "--workers",
            "1" if QUICK else "2",
            "--quiet",
        ],
        check=True,
    )

# ---- the tables -------------------------------------------------------------------------------
evaluations = pd.read_parquet(results / "evaluations.parquet")
training = pd.read_parquet(results / "training.parquet")
metrics = pd.read_parquet(results / "metrics.parquet")
summary = pd.read_parquet(results / "summary.parquet")
variants = list(dict.fromkeys(evaluations["variant"]))

# the accuracy matrix: mean over seeds, rows = block trained through, columns = task evaluated
evaluations["after"] = evaluations["block"].map(lambda b: "pretraining" if b < 0 else f"block {b + 1}")
evaluations["after"] += evaluations["trained_task"].map(lambda t: f": {t}" if t else "")
matrix = evaluations.pivot_table(index=["variant", "block", "after"], columns="eval_task", values="accuracy")
print(matrix.round(3).to_string(), "\n")
# the summary: one row per variant and metric, with the paired difference to the reference
table = summary[summary["metric"].isin(["ACC", "BWT", "forgetting"])]
print(
    table[["variant", "metric", "mean", "ci_low", "ci_high", "n", "diff", "diff_low", "diff_high"]]
    .round(3)
    .to_string(index=False)
)

# ---- figure -----------------------------------------------------------------------------------
fig = plt.figure(figsize=(4.2 * max(3, len(variants)), 9), layout="constrained")
top, bottom = fig.subfigures(2, 1)
for ax, variant in zip(top.subplots(1, len(variants)), variants):
    cells = matrix.loc[variant].droplevel("block")
    sns.heatmap(
        cells,
        ax=ax,
        vmin=0,
        vmax=1,
        annot=True,
        fmt=".2f",
        cmap="viridis",
        cbar=variant == variants[-1],
        cbar_kws={"label": "accuracy (fraction)"},
    )
    ax.set(title=f"{variant}: accuracy after each block", xlabel="task evaluated", ylabel="after")
ax_curve, ax_metrics, ax_gate = bottom.subplots(1, 3)

palette = dict(zip(variants, sns.color_palette(n_colors=len(variants))))
curves = training.sort_values(["run", "trial"]).copy()
curves["synchrony (10 trials)"] = curves.groupby("run")["synchrony"].transform(lambda s: s.rolling(10, 1).mean())
sns.lineplot(
    data=curves,
    x="trial",
    y="synchrony (10 trials)",
    hue="variant",
    hue_order=variants,
    palette=palette,
    errorbar=("ci", 95),
    ax=ax_curve,
)
for start in curves.groupby("block")["trial"].min().iloc[1:]:
    ax_curve.axvline(start, color="0.6", lw=0.8, ls=":")
ax_curve.set(
    xlabel="training trial (dotted: next block)",
    ylabel="synchrony S (fraction of synapses)",
    title="Readout synchrony (mean, 95 % CI)",
)

shown = metrics[metrics["metric"].isin(["ACC", "BWT", "forgetting"])]
sns.stripplot(
    data=shown,
    x="metric",
    y="value",
    hue="variant",
    hue_order=variants,
    palette=palette,
    dodge=True,
    ax=ax_metrics,
    alpha=0.6,
)
sns.pointplot(
    data=shown,
    x="metric",
    y="value",
    hue="variant",
    hue_order=variants,
    palette=palette,
    dodge=0.8 - 0.8 / len(variants),
    errorbar=None,
    markers="_",
    markersize=20,
    linestyles="none",
    ax=ax_metrics,
    legend=False,
)
ax_metrics.axhline(0, color="0.7", lw=0.8)
ax_metrics.set(xlabel="", ylabel="value (fraction)", title="Per seed (dashes: mean)")

gate = training[training["variant"] == "dassdp"].dropna(subset=["gate"])
if len(gate):
    gate = gate.assign(**{"block / task": (gate["block"] + 1).astype(str) + ": " + gate["task"]})
    sns.boxplot(data=gate, x="block / task", y="gate", color=palette["dassdp"], ax=ax_gate)
    ax_gate.set(xlabel="block: task", ylabel="gate g (1)", title="DA-SSDP gate after warm-up")
else:
    ax_gate.axis("off")
    ax_gate.text(0.5, 0.5, "no DA-SSDP variant in this study", ha="center")
fig.suptitle(f"Study {results.name}: tables read with pandas, plotted with seaborn")
args.out.mkdir(parents=True, exist_ok=True)
path = args.out / "study_tables_pandas.png"
fig.savefig(path, dpi=100)
print(f"figure written to {path}")
