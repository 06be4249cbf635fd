"""Run a study: expand it into runs, execute them (in this process, in local worker processes or
on a Dask cluster), store each run atomically, then aggregate and summarise.

A run is executed by `run_one`, a plain top-level function of picklable arguments, so the same
code runs in a ``ProcessPoolExecutor`` worker and on a Dask worker; it writes its tables into the
shared results directory itself and returns its manifest. Runs whose manifest says ``done`` are
skipped; any other run directory is removed and the run redone, so a study killed at any moment
(``kill -9``) resumes without losing completed runs and without reading a partial table.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dassdp.extras import install_hint
from dassdp.runs import store
from dassdp.runs.study import (
    RunSpec,
    Study,
    StudyError,
    expand_runs,
    parse_study,
    study_hash,
)

__all__ = [
    "RUN_TABLES",
    "StudyRuns",
    "aggregate",
    "check_execution",
    "load_dir",
    "metrics_table",
    "prepare_dir",
    "run_one",
    "run_states",
    "run_study",
]

#: tables every run writes (``<name>.parquet``)
RUN_TABLES = ("training", "evaluations", "weights", "gate")
STUDY_TOML, STUDY_JSON = "study.toml", "study.json"
#: standalone projects of the Brian2 phase, reused across seeds (see `brian2_phase.build_directory`)
BUILDS = "builds"


@dataclass
class StudyRuns:
    """A study bound to its results directory, with its expanded runs."""

    study: Study
    out: Path
    hash: str = ""
    runs: list[tuple[int, dict, RunSpec]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.hash = study_hash(self.study)
        self.runs = expand_runs(self.study)

    def run_dir(self, spec: RunSpec) -> Path:
        return self.out / store.RUNS / spec.run_id


def prepare_dir(study: Study, text: str, out: Path, resume: bool) -> StudyRuns:
    """Create ``out`` (or check that it holds this study when resuming) and record the study."""
    out = Path(out)
    runs = StudyRuns(study, out)
    if (out / STUDY_JSON).is_file():
        recorded = json.loads((out / STUDY_JSON).read_text())
        if recorded.get("hash") != runs.hash:
            raise StudyError("--out", f"{str(out)!r} holds results of a different study (hash {recorded.get('hash')}); "
                             "choose another directory")
        if not resume:
            raise StudyError("--out", f"{str(out)!r} already holds this study's results; use --resume (or `dassdp resume`)")
    elif out.exists() and any(out.iterdir()):
        raise StudyError("--out", f"{str(out)!r} exists, is not empty and holds no study")
    (out / store.RUNS).mkdir(parents=True, exist_ok=True)
    store.write_atomic(out / STUDY_TOML, lambda tmp: Path(tmp).write_text(text))
    store.write_json_atomic({"hash": runs.hash, "study": study.model_dump(mode="json")}, out / STUDY_JSON)
    return runs


def load_dir(out: Path) -> tuple[StudyRuns, str]:
    """The study recorded in a results directory (for `dassdp resume` and `dassdp status`)."""
    out = Path(out)
    try:
        recorded = json.loads((out / STUDY_JSON).read_text())
        text = (out / STUDY_TOML).read_text()
    except (OSError, ValueError):
        raise StudyError("DIR", f"{str(out)!r} is not a study results directory (no readable {STUDY_JSON})") from None
    return StudyRuns(parse_study(recorded["study"], source=out / STUDY_JSON), out), text


# ------------------------------------------------------------------------------------------
# one run
# ------------------------------------------------------------------------------------------


def _worker_init() -> None:
    """Worker processes: one torch thread, and die with the parent (Linux) so that a killed
    study leaves no orphan writing into its directory."""
    import torch

    torch.set_num_threads(1)
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:
            pass


def run_one(spec_data: dict, out: str, hash_: str) -> dict:
    """Execute one run (unless done) and store it; returns its manifest."""
    from dassdp.runs.brian2_phase import execute_brian2
    from dassdp.runs.tasks import execute

    spec = RunSpec.model_validate(spec_data)
    run_dir = Path(out) / store.RUNS / spec.run_id
    if store.is_done(run_dir):
        return store.read_manifest(run_dir)
    store.clean_partial(run_dir)
    run_dir.mkdir(parents=True)
    started = time.time()
    if spec.resolved().phase == "brian2":
        tables = execute_brian2(spec, build_root=Path(out) / BUILDS)
    else:
        tables = execute(spec)
    for name in RUN_TABLES:
        store.write_parquet_atomic(tables[name], run_dir / f"{name}.parquet")
    finished = time.time()
    manifest = {
        "run_id": spec.run_id,
        "status": "done",
        "study_hash": hash_,
        "variant": spec.variant,
        "seed": spec.seed,
        "spec": spec.model_dump(mode="json"),
        "versions": store.versions(),
        "timings": {"started": started, "finished": finished, "seconds": finished - started},
        "tables": {name: len(tables[name]) for name in RUN_TABLES},
        "worker": {"host": os.uname().nodename, "pid": os.getpid()},
    }
    store.write_json_atomic(manifest, run_dir / store.MANIFEST)
    return manifest


def run_states(runs: StudyRuns) -> pd.DataFrame:
    """One row per run: point, variant, seed, run, done."""
    return pd.DataFrame(
        [
            {"point": point, "variant": spec.variant, "seed": spec.seed, "run": spec.run_id,
             "done": store.is_done(runs.run_dir(spec))}
            for point, _, spec in runs.runs
        ],
        columns=["point", "variant", "seed", "run", "done"],
    )


# ------------------------------------------------------------------------------------------
# executing a study
# ------------------------------------------------------------------------------------------


def check_execution(workers: int, local_cluster: int | None) -> None:
    """Raise `StudyError` for fewer than one local worker or Dask ``LocalCluster`` worker."""
    if workers < 1:
        raise StudyError("--workers", f"must be >= 1, got {workers}")
    if local_cluster is not None and local_cluster < 1:
        raise StudyError("--local-cluster", f"must be >= 1, got {local_cluster}")


def _dask_client(scheduler: str | None, local_cluster: int | None):
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise StudyError("--scheduler", f"Dask is not installed: {install_hint('distributed')}") from None
    if local_cluster is not None:
        cluster = LocalCluster(n_workers=local_cluster, processes=True, threads_per_worker=1, dashboard_address=None)
        return Client(cluster), cluster
    try:
        return Client(scheduler, timeout="10s"), None
    except (OSError, TimeoutError, ValueError) as err:
        raise StudyError("--scheduler", f"cannot reach the Dask scheduler {scheduler!r}: {err}") from None


def run_study(
    runs: StudyRuns,
    workers: int = 1,
    scheduler: str | None = None,
    local_cluster: int | None = None,
    on_done: Callable[[dict], None] | None = None,
    start_method: str | None = None,
) -> list[tuple[str, BaseException]]:
    """Execute every pending run; returns the failures ``(run_id, exception)``. Completed runs
    are stored as they finish; ``on_done(manifest)`` is called for each (also for skipped runs).

    Local workers are forked on Linux (``start_method`` None: they inherit the imported modules
    and the data set, loaded here first, and start in milliseconds; call this from a process
    without other threads, e.g. no auto-refreshing progress bar) and spawned elsewhere."""
    on_done = on_done or (lambda manifest: None)
    pending = []
    for _, _, spec in runs.runs:
        run_dir = runs.run_dir(spec)
        if store.is_done(run_dir):
            on_done(store.read_manifest(run_dir))
        else:
            store.clean_partial(run_dir)
            pending.append(spec)
    args = [(spec.model_dump(mode="json"), str(runs.out.resolve()), runs.hash) for spec in pending]
    failures: list[tuple[str, BaseException]] = []
    if not pending:
        return failures
    if scheduler is not None or local_cluster is not None:
        client, cluster = _dask_client(scheduler, local_cluster)
        try:
            from distributed import as_completed as dask_completed

            futures = {client.submit(run_one, *a, pure=False, key=f"dassdp-{spec.run_id}"): spec
                       for a, spec in zip(args, pending)}
            for future in dask_completed(futures):
                try:
                    on_done(future.result())
                except Exception as err:  # noqa: BLE001 - reported per run
                    failures.append((futures[future].run_id, err))
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    elif workers <= 1:
        _worker_init_torch_only()
        for a, spec in zip(args, pending):
            try:
                on_done(run_one(*a))
            except Exception as err:  # noqa: BLE001 - reported per run
                failures.append((spec.run_id, err))
    else:
        if start_method is None:
            start_method = "fork" if sys.platform.startswith("linux") else "spawn"
        if start_method == "fork":
            from dassdp.runs.tasks import make_tasks

            make_tasks(pending[0].resolved())  # cached, inherited by the forked workers
        context = multiprocessing.get_context(start_method)
        with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_init) as pool:
            futures = {pool.submit(run_one, *a): spec for a, spec in zip(args, pending)}
            for future in as_completed(futures):
                try:
                    on_done(future.result())
                except Exception as err:  # noqa: BLE001 - reported per run
                    failures.append((futures[future].run_id, err))
    return failures


def _worker_init_torch_only() -> None:
    import torch

    torch.set_num_threads(1)


# ------------------------------------------------------------------------------------------
# aggregation
# ------------------------------------------------------------------------------------------


def _sweep_columns(runs: StudyRuns) -> pd.DataFrame:
    rows = [{"run": spec.run_id, "point": point, **{f"sweep.{k}": v for k, v in overrides.items()}}
            for point, overrides, spec in runs.runs]
    return pd.DataFrame(rows)


def metrics_table(evaluations: pd.DataFrame, training: pd.DataFrame, study: Study) -> pd.DataFrame:
    """Continual-learning metrics per run (tidy: run, variant, seed, metric, value).

    ACC, BWT, FWT, forgetting and learning accuracy come from the first pass through the tasks
    (`dassdp.analysis.continual`; FWT against the untrained model, ``block = -1``). Sequences that
    revisit tasks (``A -> B -> A``) add ``final_ACC`` (mean accuracy over all tasks after the last
    block) and ``final_forgetting`` (mean over tasks not trained last of the best earlier accuracy
    minus the final one). ``synchrony`` is the mean training S of the plastic layer.
    """
    from dassdp.analysis.continual import continual_metrics

    blocks = study.blocks
    first_pass: list[str] = []
    for block in blocks:
        if block.task in first_pass:
            break
        first_pass.append(block.task)
    frames = []
    trained = evaluations[evaluations.block >= 0]
    if len(first_pass) >= 2:
        rows = trained[trained.block < len(first_pass)]
        rows = rows[rows.eval_task.isin(first_pass)]
        for run, table in rows.groupby("run", sort=True):
            base = evaluations[(evaluations.run == run) & (evaluations.block == -1)].set_index("eval_task").accuracy
            metrics = continual_metrics(table.assign(trained_task=table.block.map(dict(enumerate(first_pass)))),
                                        task_order=first_pass, baseline=base)
            frames.append(metrics)
    if len(blocks) > len(first_pass):
        last = len(blocks) - 1
        for run, table in trained.groupby("run", sort=True):
            matrix = table.pivot_table(index="block", columns="eval_task", values="accuracy")
            final = matrix.loc[last]
            earlier = matrix.drop(index=last).max()
            others = [t for t in matrix.columns if t != blocks[-1].task]
            ident = table.iloc[0]
            frames.append(pd.DataFrame([
                {"variant": ident.variant, "seed": ident.seed, "run": run, "metric": "final_ACC", "value": float(final.mean())},
                {"variant": ident.variant, "seed": ident.seed, "run": run, "metric": "final_forgetting",
                 "value": float((earlier[others] - final[others]).mean()) if others else np.nan},
            ]))
    synchrony = training.groupby(["variant", "seed", "run"], sort=True).synchrony.mean().rename("value").reset_index()
    frames.append(synchrony.assign(metric="synchrony"))
    ids = evaluations[["variant", "seed", "run"]].drop_duplicates()
    missing = ids[~ids.run.isin(synchrony.run)]  # runs without training rows (frozen)
    frames.append(missing.assign(metric="synchrony", value=np.nan))
    metrics = pd.concat([f for f in frames if len(f)], ignore_index=True)
    return metrics[["variant", "seed", "run", "metric", "value"]].sort_values(["run", "metric"], ignore_index=True)


def aggregate(runs: StudyRuns, started: float | None = None) -> dict[str, pd.DataFrame]:
    """Concatenate every run's tables into ``DIR/<table>.parquet`` (with ``point`` and the swept
    parameters as columns), compute ``metrics.parquet`` and ``summary.parquet`` (bootstrap CIs
    per point, variant and metric) and write the study manifest last."""
    from dassdp.analysis.stats import summarise

    sweep = _sweep_columns(runs)
    tables = {}
    for name in RUN_TABLES:
        parts = [store.read_run_table(runs.run_dir(spec), name) for _, _, spec in runs.runs]
        parts = [p for p in parts if len(p)] or parts[:1]
        tables[name] = pd.concat(parts, ignore_index=True).merge(sweep, on="run", how="left")
    metrics = metrics_table(tables["evaluations"], tables["training"], runs.study).merge(sweep, on="run", how="left")
    tables["metrics"] = metrics
    by = ["point", *[c for c in sweep.columns if c.startswith("sweep.")], "variant", "metric"]
    summary = summarise(metrics, by=by, reference=getattr(runs.study, "reference", "none"))
    rank = summary.variant.map({v: k for k, v in enumerate(runs.study.variants)})
    tables["summary"] = summary.assign(_rank=rank).sort_values(["point", "_rank", "metric"]).drop(columns="_rank")
    tables["summary"] = tables["summary"].reset_index(drop=True)
    for name, frame in tables.items():
        store.write_parquet_atomic(frame, runs.out / f"{name}.parquet")
    manifests = [store.read_manifest(runs.run_dir(spec)) for _, _, spec in runs.runs]
    store.write_json_atomic(
        {
            "status": "done",
            "study": runs.study.name,
            "study_hash": runs.hash,
            "seeds": list(runs.study.seeds),
            "variants": list(runs.study.variants),
            "runs": [spec.run_id for _, _, spec in runs.runs],
            "versions": store.versions(),
            "run_seconds": float(sum(m["timings"]["seconds"] for m in manifests)),
            "wall_seconds": None if started is None else time.time() - started,
        },
        runs.out / store.MANIFEST,
    )
    return tables
