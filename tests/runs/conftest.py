"""A tiny study (2 tasks, tiny network, 1 epoch per block) for the runner tests."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY = """
name = "tiny"
variants = {variants}
seeds = {seeds}

[tasks]
kind = "classes"
scenario = "task"
[tasks.classes]
A = [0, 1]
B = [2, 3]

[[sequence]]
task = "A"
epochs = {epochs}
[[sequence]]
task = "B"
epochs = {epochs}

[network]
hidden = {hidden}
n_steps = 4

[training]
lr = 5e-3
batch_size = 32

[plasticity]
warmup_epochs = 1
"""


def write_tiny(path: Path, variants=("frozen", "dassdp"), seeds=(0, 1), epochs=1, hidden=(16, 16), extra="") -> Path:
    text = TINY.format(variants=list(variants), seeds=list(seeds), epochs=epochs, hidden=list(hidden))
    path.write_text(text.replace("'", '"') + extra)
    return path


@pytest.fixture
def tiny_study(tmp_path: Path):
    """A function writing the tiny study (with optional overrides) into tmp_path."""
    return lambda name="tiny.toml", **kw: write_tiny(tmp_path / name, **kw)


@pytest.fixture(scope="session")
def write_tiny_study():
    """`write_tiny` itself, for module-scoped fixtures."""
    return write_tiny


def pytorch_predictions(study, spec):
    """The pretrained float64 PyTorch model's logits for every window of a Brian2-phase run, with
    the run's layout (the oracle of the label neurons' own prediction)."""
    import torch

    from dassdp.models.encoders import encode
    from dassdp.runs.brian2_phase import layout, pretrain
    from dassdp.runs.tasks import make_tasks

    tasks, n_classes = make_tasks(study)
    model = pretrain(study, tasks, n_classes, spec.seed).double()
    lay = layout(study, tasks, spec.seed)
    with torch.no_grad():
        logits = model(encode(lay.x.double(), "direct", study.network.n_steps, None)).numpy()
    return logits, lay, tasks, n_classes


def assert_best_within_rounding(predicted, scores, tol=1e-9):
    """Every ``predicted`` class has the best of its row of ``scores`` (to ``tol``): where classes
    tie, as the zero rows of untrained label neurons do, rounding may pick any of them."""
    import numpy as np

    chosen = scores[np.arange(len(predicted)), predicted]
    best = scores.max(1)
    assert np.all(best - chosen <= tol * np.maximum(1.0, np.abs(best))), np.flatnonzero(best - chosen > tol)
    assert (np.sort(scores, 1)[:, -1] - np.sort(scores, 1)[:, -2] > tol).any()  # not every row is a tie
