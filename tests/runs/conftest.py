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
