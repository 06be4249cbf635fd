"""Continual-learning metrics reproduce hand-computed values."""

import numpy as np
import pandas as pd
import pytest

from dassdp.analysis.continual import (
    accuracy_matrix,
    continual_metrics,
    metrics_from_matrix,
)

# R[i, j]: accuracy on task j after training through task i. Task A improves after training B
# (0.7 -> 0.9), so the maximum over earlier steps (0.9) differs from the first step (0.7).
R = np.array([[0.7, 0.2, 0.1], [0.9, 0.8, 0.3], [0.6, 0.5, 0.85]])
BASELINE = {"A": 0.1, "B": 0.1, "C": 0.05}
TASKS = ["A", "B", "C"]


def results_table(matrices):
    rows = [
        {
            "run": f"r{seed}",
            "seed": seed,
            "variant": variant,
            "trained_task": TASKS[i],
            "eval_task": TASKS[j],
            "accuracy": m[i, j],
        }
        for (variant, seed), m in matrices.items()
        for i in range(3)
        for j in range(3)
    ]
    return pd.DataFrame(rows).sample(frac=1.0, random_state=0)  # order must not matter


def test_metrics_hand_values():
    m = metrics_from_matrix(R, baseline=[0.1, 0.1, 0.05])
    assert m["ACC"] == pytest.approx((0.6 + 0.5 + 0.85) / 3)
    assert m["BWT"] == pytest.approx(((0.6 - 0.7) + (0.5 - 0.8)) / 2)  # divided by T - 1 = 2, not 3
    assert m["FWT"] == pytest.approx(((0.2 - 0.1) + (0.3 - 0.05)) / 2)
    # f_A = max(0.7, 0.9) - 0.6 = 0.3 (not 0.7 - 0.6), f_B = max(0.2, 0.8) - 0.5 = 0.3
    assert m["forgetting"] == pytest.approx(0.3)
    assert m["learning_accuracy"] == pytest.approx((0.7 + 0.8 + 0.85) / 3)
    assert np.isnan(metrics_from_matrix(R)["FWT"])


def test_accuracy_matrix_from_tidy_table():
    table = results_table({("ssdp", 0): R})
    np.testing.assert_array_equal(accuracy_matrix(table), R)
    # a custom order permutes rows and columns together
    np.testing.assert_array_equal(accuracy_matrix(table, ["C", "B", "A"]), R[::-1, ::-1])


def test_continual_metrics_per_seed():
    other = R.copy()
    other[2] = [0.8, 0.7, 0.9]
    table = results_table({("ssdp", 0): R, ("ssdp", 1): other, ("stdp", 0): R})
    metrics = continual_metrics(table, baseline=BASELINE)
    assert set(metrics.columns) == {"variant", "seed", "run", "metric", "value"}
    got = metrics.set_index(["variant", "seed", "metric"])["value"]
    assert got[("ssdp", 1, "BWT")] == pytest.approx(((0.8 - 0.7) + (0.7 - 0.8)) / 2)
    assert got[("ssdp", 1, "forgetting")] == pytest.approx(((0.9 - 0.8) + (0.8 - 0.7)) / 2)
    assert got[("stdp", 0, "FWT")] == pytest.approx(0.175)


def test_bad_results_tables():
    table = results_table({("ssdp", 0): R})
    with pytest.raises(ValueError, match="'accuracy'"):
        accuracy_matrix(table.drop(columns="accuracy"))
    with pytest.raises(ValueError, match="duplicated"):
        accuracy_matrix(pd.concat([table, table.iloc[:1]]))
    with pytest.raises(ValueError, match="not in"):
        accuracy_matrix(table, ["A", "B"])
    with pytest.raises(ValueError, match="at least 2 tasks"):
        accuracy_matrix(table[table.eval_task == "A"])
    with pytest.raises(ValueError, match=r"\[T, T\]"):
        metrics_from_matrix(np.ones((2, 3)))
    # a missing evaluation is NaN in R and in the metrics that need it, not an error
    partial = table[~((table.trained_task == "C") & (table.eval_task == "A"))]
    m = metrics_from_matrix(accuracy_matrix(partial))
    assert np.isnan(m["ACC"]) and not np.isnan(m["learning_accuracy"])
