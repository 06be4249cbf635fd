"""A synthetic results directory with the files and table schemas of a finished study
(`dassdp.runs.runner.aggregate`), for the report tests: built in well under a second, with the
inputs of every report section. ``summary`` and ``gate_diagnostics`` come from the real
`dassdp.analysis.stats.summarise` and `dassdp.analysis.gate_diagnostics.gate_diagnostics`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dassdp.analysis.gate_diagnostics import gate_diagnostics
from dassdp.analysis.stats import summarise

STATS = ("mean", "std", "abs_mean", "min", "max", "norm", "change_from_initial", "change_from_previous")
TRIALS = 24  # training rows per block
WARMUP = 8  # warm-up rows of a gated run, at the start of its first block


def _runs(variants, seeds, points):
    return [
        (point, variant, seed, f"{variant}-s{seed}-p{point}")
        for point in points
        for variant in variants
        for seed in seeds
    ]


def write_results(
    root: Path,
    phase: str = "brian2",
    points=(0,),
    calibration: bool = True,
    variants: list[str] | None = None,
    seeds=(0, 1, 2),
) -> Path:
    """Write the results directory of a synthetic study into ``root`` and return it.

    ``phase = "brian2"``: A -> B -> A, task-incremental, variants none, stdp, dastdp, ssdp, dassdp,
    a ``dopamine`` column, learning windows, the plastic readout. ``"torch"``: permuted P0 -> P1
    (domain-incremental), variants frozen, none, ssdp, dassdp, no ``dopamine`` column, mini-batches,
    every layer trained. More than one of ``points`` adds a sweep over ``training.lr``."""
    rng = np.random.default_rng(0)
    brian2 = phase == "brian2"
    variants = variants or (
        ["none", "stdp", "dastdp", "ssdp", "dassdp"] if brian2 else ["frozen", "none", "ssdp", "dassdp"]
    )
    sequence = ["A", "B", "A"] if brian2 else ["P0", "P1"]
    tasks = list(dict.fromkeys(sequence))
    layers = ["fc.0", "fc.1", "readout"]
    gated = [v for v in variants if v == "dassdp" or (not brian2 and v == "ssdp")]
    training, evaluations, weights, gate, metrics = [], [], [], [], []
    for point, variant, seed, run in _runs(variants, seeds, points):
        ident = {"run": run, "variant": variant, "seed": seed, "point": point}
        learns = variant not in ("none", "frozen")
        k, mu, s = -0.4, 0.1, 0.02
        for block, task in enumerate(sequence):
            for step in range(TRIALS):
                trial = block * TRIALS + step
                sync = float(rng.normal(0.1 + 0.03 * block, 0.02))
                warm = variant in gated and trial < WARMUP
                g = float(np.clip(1 + k * (sync - mu) / s, 0, 2)) if variant in gated and not warm else np.nan
                if variant in gated and not brian2 and variant == "ssdp" and not warm:
                    g = 1.0
                row = {
                    **ident,
                    "block": block,
                    "task": task,
                    "epoch": 0,
                    "batch": step,
                    "trial": trial,
                    "loss": float(2.0 * np.exp(-step / 10) + rng.uniform(0, 0.1)),
                    "accuracy": float(rng.uniform(0.3, 1.0)),
                    "synchrony": sync,
                    "gate": g,
                    "warmup": warm,
                    "label": int(rng.integers(10)),
                    "prediction": int(rng.integers(10)),
                }
                if brian2:
                    row["dopamine"] = {"dassdp": 0.0 if warm else g, "dastdp": float(rng.normal(0, 30))}.get(
                        variant, np.nan
                    )
                training.append(row)
        for block in range(-1, len(sequence)):
            for task in tasks:
                trained = sequence[block] if block >= 0 else ""
                evaluations.append(
                    {
                        **ident,
                        "block": block,
                        "trained_task": trained,
                        "eval_task": task,
                        "accuracy": float(rng.uniform(0.2, 1.0)),
                        "synchrony": 0.1,
                    }
                )
        for block, task in enumerate(sequence):
            for layer in layers:
                moves = learns and (layer == "readout" or not brian2)
                values = dict(zip(STATS, (0.0, 0.1, 0.08, -0.3, 0.3, 6.0, 0.0, 0.0), strict=True))
                if moves:
                    values["change_from_previous"] = float(rng.uniform(0.5, 3.0))
                    values["change_from_initial"] = values["change_from_previous"] * (block + 1)
                weights.extend(
                    {**ident, "block": block, "trained_task": task, "layer": layer, "stat": stat, "value": value}
                    for stat, value in values.items()
                )
        if variant in gated:
            gate.append({**ident, "layer": "readout" if brian2 else "lif.1", "k": k, "mu": mu, "s": s})
        names = [
            "ACC",
            "BWT",
            "FWT",
            "forgetting",
            "learning_accuracy",
            *(f"learned_{t}" for t in tasks),
            "final_ACC",
            "final_forgetting",
            "synchrony",
        ]
        metrics.extend(
            {**ident, "metric": name, "value": float(rng.normal(0.5 + 0.05 * learns, 0.05))} for name in names
        )
    sweep = {p: 10.0 ** -(p + 2) for p in points}
    frames = {"training": training, "evaluations": evaluations, "weights": weights, "gate": gate, "metrics": metrics}
    frames = {name: pd.DataFrame(rows) for name, rows in frames.items()}
    frames["gate"] = pd.DataFrame(gate, columns=["run", "variant", "seed", "point", "layer", "k", "mu", "s"])
    if len(points) > 1:
        frames = {name: t.assign(**{"sweep.training.lr": t.point.map(sweep)}) for name, t in frames.items()}
    reference = "none"
    by = ["point", *(["sweep.training.lr"] if len(points) > 1 else []), "variant", "metric"]
    frames["summary"] = summarise(frames["metrics"], by=by, reference=reference)
    frames["gate_diagnostics"] = gate_diagnostics(frames["training"], frames["gate"])
    study = {
        "name": f"synthetic_{phase}",
        "description": f"Does DA-SSDP forget less? (synthetic, {phase})",
        "phase": phase,
        "variants": variants,
        "reference": reference,
        "seeds": list(seeds),
        "sequence": [{"task": t, "epochs": 1} for t in sequence],
        "tasks": (
            {"kind": "classes", "scenario": "task", "classes": {"A": [0, 1, 2, 3, 4], "B": [5, 6, 7, 8, 9]}}
            if brian2
            else {"kind": "permuted", "scenario": "task", "classes": {}}
        ),
        "training": {"lr": 0.005},
        "plasticity": {"layer": None if brian2 else "lif.1"},
        "brian2": {"pretrain": ["A"], "rate_scale": 1.0},
        "calibration": None,
    }
    root.mkdir(parents=True, exist_ok=True)
    if calibration:
        grid, plastic = [1.0, 10.0, 100.0], [v for v in variants if v not in ("none", "frozen")]
        rows = pd.DataFrame(
            [
                {"variant": v, "rate_scale": g, "seed": 100, "criterion": "ACC", "value": float(rng.uniform(0.3, 0.8))}
                for v in plastic
                for g in grid
            ]
        )
        best = rows.loc[rows.groupby("variant").value.idxmax()].set_index("variant").rate_scale
        frames["calibration"] = rows.assign(chosen=rows.rate_scale == rows.variant.map(best))
        study["calibration"] = {"grid": grid, "seeds": [100], "validation_fraction": 0.2, "criterion": "ACC"}
        (root / "calibration.json").write_text(json.dumps({"criterion": "ACC", "scales": best.to_dict()}))
    for name, frame in frames.items():
        frame.to_parquet(root / f"{name}.parquet")
    (root / "study.json").write_text(json.dumps({"hash": "0", "study": study}))
    (root / "study.toml").write_text(f'name = "{study["name"]}"\nphase = "{phase}"\n')
    (root / "manifest.json").write_text(
        json.dumps(
            {
                "status": "done",
                "seeds": list(seeds),
                "run_seconds": 12.0,
                "wall_seconds": 3.0,
                "versions": {"brian2": "2.10.1"},
            }
        )
    )
    return root


@pytest.fixture
def synthetic_results(tmp_path):
    """``write_results`` into a fresh directory under tmp_path (keyword arguments as write_results')."""
    counter = iter(range(1000))
    return lambda **kw: write_results(tmp_path / f"results{next(counter)}", **kw)
