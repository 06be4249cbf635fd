"""The results store: one directory per study, one sub-directory per run, nothing half-written.

Layout of a results directory ``DIR``::

    DIR/study.toml             the study file, verbatim (shown by `dassdp report`)
    DIR/study.json             the validated study and its hash (what `dassdp resume` reruns)
    DIR/runs/<run_id>/*.parquet   the run's tidy tables
    DIR/runs/<run_id>/manifest.json   written last: status "done", study hash, versions, timings
    DIR/<table>.parquet        every run's table concatenated (written when all runs are done)
    DIR/pretrained/*.pt        Brian2 phase: pretrained networks shared by the runs of a seed
    DIR/builds/                Brian2 phase: standalone projects, compiled once per variant
    DIR/metrics.parquet, DIR/summary.parquet, DIR/manifest.json

Every file is written to a temporary name in its final directory and renamed into place
(`os.replace`), so a reader only ever sees complete files; temporary names start with ``.`` and
end in ``.tmp``, so no ``*.parquet`` glob matches them. A run counts as done only when its
manifest says so; any other run directory is removed before the run is redone.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import uuid
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "MANIFEST",
    "RUNS",
    "clean_partial",
    "is_done",
    "read_manifest",
    "read_run_table",
    "versions",
    "write_atomic",
    "write_json_atomic",
    "write_parquet_atomic",
]

RUNS = "runs"
MANIFEST = "manifest.json"


def write_atomic(path: Path, write) -> Path:
    """Call ``write(tmp_path)`` for a temporary file beside ``path``, fsync it, rename it to ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_parquet_atomic(frame: pd.DataFrame, path: Path) -> Path:
    return write_atomic(path, lambda tmp: frame.to_parquet(tmp, index=False))


def write_json_atomic(value: Any, path: Path) -> Path:
    return write_atomic(
        path, lambda tmp: Path(tmp).write_text(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")
    )


def read_manifest(run_dir: Path) -> dict | None:
    """The run's manifest, or None when absent or unreadable."""
    try:
        return json.loads((Path(run_dir) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def is_done(run_dir: Path) -> bool:
    manifest = read_manifest(run_dir)
    return bool(manifest) and manifest.get("status") == "done"


def clean_partial(run_dir: Path) -> bool:
    """Remove a run directory that is not done; True if something was removed."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not is_done(run_dir):
        shutil.rmtree(run_dir)
        return True
    return False


def read_run_table(run_dir: Path, table: str) -> pd.DataFrame:
    return pd.read_parquet(Path(run_dir) / f"{table}.parquet")


def versions() -> dict[str, str]:
    """Versions of what determines the numbers."""
    import numpy as np
    import torch

    import dassdp

    return {
        "python": platform.python_version(),
        "dassdp": dassdp.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "platform": platform.platform(),
    }
