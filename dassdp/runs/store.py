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
end in ``.tmp``, so no ``*.parquet`` glob matches them (`remove_temporaries` clears those a killed
process left). A run's manifest records the SHA-256 and size of each of its tables (`file_digest`);
a run is ``done`` when its manifest says so and every table matches it, ``damaged`` when the
manifest says done but a table is missing or differs (or the manifest is not valid JSON) and
``pending`` otherwise (`run_state`). Any run that is not done is removed (`clean_partial`) before
it is redone. A manifest that exists but cannot be read (permissions, I/O error) raises
`StoreError`: it never counts as "not done", so a finished run is never removed because of a
passing file-system problem.

Writers hold `lock` on the directory (``DIR/.lock``, an advisory ``flock``), so a second ``dassdp
run``/``resume`` on the same directory is refused instead of duplicating or deleting the first
one's work.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import shutil
import time
import uuid
from pathlib import Path
from typing import Any, Literal

import pandas as pd

__all__ = [
    "LOCK",
    "MANIFEST",
    "RUNS",
    "RunState",
    "StoreError",
    "clean_partial",
    "damaged_tables",
    "file_digest",
    "file_digests",
    "is_done",
    "lock",
    "read_manifest",
    "read_run_table",
    "remove_temporaries",
    "run_state",
    "verify_files",
    "versions",
    "write_atomic",
    "write_json_atomic",
    "write_parquet_atomic",
]

RUNS = "runs"
MANIFEST = "manifest.json"
LOCK = ".lock"
RunState = Literal["done", "damaged", "pending"]


class StoreError(OSError):
    """A results directory that cannot be read or written, or that another process holds."""


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


def file_digest(path: Path) -> dict[str, Any]:
    """``{"sha256": hex digest, "bytes": size}`` of a file."""
    with open(path, "rb") as handle:
        return {"sha256": hashlib.file_digest(handle, "sha256").hexdigest(), "bytes": os.fstat(handle.fileno()).st_size}


def file_digests(directory: Path, names) -> dict[str, dict[str, Any]]:
    """`file_digest` of each named file in ``directory``, by name (recorded in manifests)."""
    return {name: file_digest(Path(directory) / name) for name in names}


def verify_files(directory: Path, digests: dict[str, dict[str, Any]]) -> list[str]:
    """The names in ``digests`` whose file in ``directory`` is missing or differs from its record."""
    damaged = []
    for name, expected in digests.items():
        path = Path(directory) / name
        try:
            if path.stat().st_size != expected["bytes"] or file_digest(path) != expected:
                damaged.append(name)
        except FileNotFoundError:
            damaged.append(name)
        except OSError as err:
            raise StoreError(f"cannot read {str(path)!r}: {err.strerror or err}") from None
    return damaged


def read_manifest(run_dir: Path) -> dict | None:
    """The run's manifest; None when there is none or it is not a valid JSON object (a damaged
    manifest). Raises `StoreError` when it exists but cannot be read."""
    path = Path(run_dir) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (ValueError, UnicodeDecodeError):
        return None
    except OSError as err:
        raise StoreError(f"cannot read {str(path)!r}: {err.strerror or err}") from None
    return manifest if isinstance(manifest, dict) else None


def run_state(run_dir: Path) -> RunState:
    """``done`` (manifest says done, every table it lists is intact), ``damaged`` (manifest says
    done, or is unparsable, but a table is missing or differs; manifests without checksums count
    as damaged) or ``pending``."""
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    if manifest is None:
        return "damaged" if (run_dir / MANIFEST).exists() else "pending"
    if manifest.get("status") != "done":
        return "pending"
    files = manifest.get("files")
    if not isinstance(files, dict) or not files or verify_files(run_dir, files):
        return "damaged"
    return "done"


def damaged_tables(directory: Path) -> list[str]:
    """The files listed in ``directory``'s manifest (a study's aggregate tables) that are
    missing or differ from their checksum; empty when there is no manifest yet."""
    manifest = read_manifest(directory)
    if manifest is None:
        return [MANIFEST] if (Path(directory) / MANIFEST).exists() else []
    return verify_files(directory, manifest.get("files") or {})


def is_done(run_dir: Path) -> bool:
    return run_state(run_dir) == "done"


def clean_partial(run_dir: Path) -> bool:
    """Remove a run directory that is not done (pending or damaged); True if something was removed."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not is_done(run_dir):
        shutil.rmtree(run_dir)
        return True
    return False


def remove_temporaries(directory: Path) -> int:
    """Remove the temporary files (``.*.tmp``) a killed writer left in ``directory`` and its
    sub-directories; returns how many. Call it only while holding `lock`."""
    removed = 0
    for path in Path(directory).rglob(".*.tmp"):
        if path.is_file():
            path.unlink(missing_ok=True)
            removed += 1
    return removed


_held: dict[Path, list] = {}


@contextlib.contextmanager
def lock(directory: Path):
    """Hold ``DIR/.lock`` exclusively while the block runs (re-entrant within a process; the
    lock is released when the process ends, however it ends). Raises `StoreError` naming the
    holder's pid when another process holds it, or when the directory cannot be written."""
    directory = Path(directory)
    key = directory.resolve()
    if key in _held:
        _held[key][1] += 1
        try:
            yield
        finally:
            _held[key][1] -= 1
        return
    path = directory / LOCK
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise StoreError(f"cannot write to {str(directory)!r}: {err.strerror or err}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise StoreError(
            f"{str(directory)!r} is in use by {holder}; wait for it to finish (or stop it) and try again"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"dassdp pid {os.getpid()} on {platform.node()} since {time.strftime('%H:%M:%S')}\n".encode(), 0)
    _held[key] = [fd, 1]
    try:
        yield
    finally:
        _held[key][1] -= 1
        if not _held[key][1]:
            del _held[key]
            os.close(fd)


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
