"""Every ```python block of README.md runs as written, in a fresh process in an empty directory, and
prints a result that is not degenerate (a fitted gate, weights that moved, an accuracy above
chance, the tables of every variant).

The README reads a study's tables from ``results/<study>/`` after ``make demo`` (minutes); here a
tiny study of the same kind (Brian2 phase, A -> B -> A on digits, two variants, two seeds) is run
into that directory first, so the block reads real tables of the same schema in seconds."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.S | re.M)
NUMBER = r"([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"
GATE = rf"Gate\(k={NUMBER}, mu={NUMBER}, s={NUMBER}\)"

TINY_STUDY = """
name = "readme_tables"
phase = "brian2"
variants = ["none", "dassdp"]
reference = "none"
seeds = [0, 1]
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
pretrain = ["A"]
pretrain_epochs = 2
head = "masked"
train_samples = 30
eval_samples = 30
[brian2.dassdp]
warmup = 10
"""


def check_brian2_rule(stdout: str) -> None:
    """The gate was fitted (k, s not 0) and the weights moved."""
    found = re.search(GATE + r" " + NUMBER, stdout)
    assert found, stdout
    k, mu, s, change = map(float, found.groups())
    assert 0 < abs(k) <= 1 and 0 < mu < 1 and s > 1e-6, (k, mu, s)
    assert 0 < change < 1, change


def check_plugin(stdout: str) -> None:
    """Warm-up ended (a gate was fitted and applied: ``g`` is not None) and the model learnt."""
    found = re.search(GATE + rf" last mean gate {NUMBER}, test accuracy {NUMBER}", stdout)
    assert found, stdout
    k, _, s, gate, accuracy = map(float, found.groups())
    assert k != 0 and s > 1e-6 and 0 < gate <= 2, (k, s, gate)
    assert accuracy > 0.5, accuracy  # chance is 0.1


def check_tables(stdout: str) -> None:
    """Both variants' accuracy matrices and the summary's metrics were printed."""
    for word in ("eval_task", "none", "dassdp", "ACC", "BWT", "forgetting"):
        assert word in stdout, stdout
    assert len(re.findall(r"\b0\.\d+", stdout)) > 10, stdout


#: a marker that identifies a README block -> the check of its output
CHECKS = {"DASSDPSynapses(": check_brian2_rule, "DASSDPPlugin(": check_plugin, "read_parquet(": check_tables}


def block_id(block: str) -> str:
    names = [check.__name__.removeprefix("check_") for marker, check in CHECKS.items() if marker in block]
    return names[0] if len(names) == 1 else block.splitlines()[0]


def run_tiny_study(cwd: Path, out: str) -> None:
    study = cwd / "tiny_study.toml"
    study.write_text(TINY_STUDY)
    result = subprocess.run(
        [sys.executable, "-m", "dassdp.cli", "run", str(study), "--out", out, "--quiet"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]


def test_the_readme_has_its_python_blocks():
    assert len(BLOCKS) >= 3 and all(block_id(b) in {"brian2_rule", "plugin", "tables"} for b in BLOCKS)


@pytest.mark.parametrize("block", BLOCKS, ids=block_id)
def test_readme_block_runs_and_gives_a_result(block, tmp_path):
    checks = [check for marker, check in CHECKS.items() if marker in block]
    assert len(checks) == 1, f"give this README block one check in CHECKS:\n{block}"
    for directory in sorted(set(re.findall(r"[\"'](results/[\w.-]+)/", block))):
        run_tiny_study(tmp_path, directory)
    (tmp_path / "snippet.py").write_text(block)
    env = {**os.environ, "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, "snippet.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"README block failed:\n{block}\n{result.stderr[-4000:]}"
    checks[0](result.stdout)
