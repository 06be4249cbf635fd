"""Run a study: expand it into runs, execute them (in this process, in local worker processes or
on a Dask cluster), store each run atomically, then aggregate and summarise.

A study with ``[calibration]`` runs in two stages: first its calibration runs (every calibrated
variant x grid value x calibration seed, scored on a validation split), then, with each variant's
chosen learning-rate scale (`calibrate`, recorded in ``DIR/calibration.json``), the study's own
runs. Both stages are resumable in the same way.

A run is executed by `run_one`, a plain top-level function of picklable arguments, so the same
code runs in a ``ProcessPoolExecutor`` worker and on a Dask worker; it writes its tables into the
shared results directory itself and returns its manifest. Runs whose manifest says ``done`` are
skipped; any other run directory (pending, or damaged: a table that no longer matches the
checksum in its manifest) is removed and the run redone, so a study killed at any moment (``kill
-9``) resumes without losing completed runs and without reading a partial table.

`prepare_dir` and `run_study` hold the directory's lock (`dassdp.runs.store.lock`) while they
write. A ``KeyboardInterrupt`` (Ctrl-C) in `run_study` starts no further run, stops the local
worker processes' running runs (their directories are removed on resume, like any unfinished
run) and propagates; the runs already stored stay done.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
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
    calibrated_variants,
    expand_calibration,
    expand_runs,
    parse_study,
    study_hash,
)
from dassdp.runs.study import (
    first_pass as tasks_of_first_pass,
)

__all__ = [
    "RUN_TABLES",
    "StudyRuns",
    "aggregate",
    "calibrate",
    "calibration_table",
    "check_execution",
    "load_dir",
    "metrics_table",
    "prepare_dir",
    "run_calibration",
    "run_one",
    "run_states",
    "run_study",
]

#: tables every run writes (``<name>.parquet``)
RUN_TABLES = ("training", "evaluations", "weights", "gate", "rasters")
STUDY_TOML, STUDY_JSON = "study.toml", "study.json"
#: the calibration's choice of ``brian2.rate_scale`` per variant (written when calibration ends)
CALIBRATION_JSON = "calibration.json"
#: standalone projects of the Brian2 phase, reused across seeds (see `brian2_phase.build_directory`)
BUILDS = "builds"
#: pretrained networks of the Brian2 phase, shared by the variants of a seed (`brian2_phase.pretrained`)
PRETRAINED = "pretrained"


@dataclass
class StudyRuns:
    """A study bound to its results directory, with its expanded runs: ``calibration`` (empty
    without ``[calibration]``) and the study's own ``runs``, known once calibration has chosen
    the scales (``scales``; until then ``runs`` is empty and ``n_runs`` says how many will come)."""

    study: Study
    out: Path
    hash: str = ""
    calibration: list[tuple[int, dict, RunSpec]] = field(default_factory=list)
    runs: list[tuple[int, dict, RunSpec]] = field(default_factory=list)
    scales: dict[str, float] | None = None

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.hash = study_hash(self.study)
        self.calibration = expand_calibration(self.study)
        if not self.calibration:
            self.runs = expand_runs(self.study)
        elif (self.out / CALIBRATION_JSON).is_file():
            self.use_scales(json.loads((self.out / CALIBRATION_JSON).read_text())["scales"])

    @property
    def n_runs(self) -> int:
        return len(self.runs) if self.runs else len(expand_runs(self.study))

    def use_scales(self, scales: dict[str, float]) -> None:
        """Expand the study's runs with the calibrated ``scales`` (variant -> rate_scale)."""
        self.scales = {variant: float(scales[variant]) for variant in calibrated_variants(self.study)}
        self.runs = expand_runs(self.study, self.scales)

    def run_dir(self, spec: RunSpec) -> Path:
        return self.out / store.RUNS / spec.run_id


#: what a `prepare_dir` killed before it wrote ``study.json`` can have left (besides ``.*.tmp`` files)
_PREPARE_LEFTOVERS = {store.LOCK, store.RUNS, STUDY_TOML}


def _interrupted_prepare(out: Path) -> bool:
    """True if ``out`` holds nothing but what an interrupted `prepare_dir` leaves."""
    for path in out.iterdir():
        if path.name.startswith(".") and path.name.endswith(".tmp"):
            continue
        if path.name not in _PREPARE_LEFTOVERS or (path.name == store.RUNS and any(path.iterdir())):
            return False
    return True


def prepare_dir(study: Study, text: str, out: Path, resume: bool) -> StudyRuns:
    """Create ``out`` (or check that it holds this study when resuming) and record the study
    (``study.json`` last: a directory without it holds no study). Raises `StudyError` naming
    ``--out`` when ``out`` is a file, cannot be written, holds another study or other files."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise StudyError("--out", f"{str(out)!r} is a file, not a directory")
    runs = StudyRuns(study, out)
    try:
        with store.lock(out):
            if (out / STUDY_JSON).is_file():
                try:
                    recorded = json.loads((out / STUDY_JSON).read_text())
                except ValueError:
                    raise StudyError("--out", f"{str(out / STUDY_JSON)!r} is damaged (not JSON)") from None
                if recorded.get("hash") != runs.hash:
                    raise StudyError(
                        "--out",
                        f"{str(out)!r} holds results of a different study (hash {recorded.get('hash')}); "
                        "choose another directory",
                    )
                if not resume:
                    raise StudyError(
                        "--out", f"{str(out)!r} already holds this study's results; use --resume (or `dassdp resume`)"
                    )
                return runs
            if not _interrupted_prepare(out):
                raise StudyError("--out", f"{str(out)!r} exists, is not empty and holds no study")
            (out / store.RUNS).mkdir(exist_ok=True)
            store.write_atomic(out / STUDY_TOML, lambda tmp: Path(tmp).write_text(text))
            store.write_json_atomic({"hash": runs.hash, "study": study.model_dump(mode="json")}, out / STUDY_JSON)
    except store.StoreError as err:
        raise StudyError("--out", str(err)) from None
    except OSError as err:
        raise StudyError("--out", f"cannot write to {str(out)!r}: {err.strerror or err}") from None
    return runs


def load_dir(out: Path) -> tuple[StudyRuns, str]:
    """The study recorded in a results directory (for `dassdp resume` and `dassdp status`)."""
    out = Path(out)
    try:
        recorded = json.loads((out / STUDY_JSON).read_text())
        text = (out / STUDY_TOML).read_text()
    except (OSError, ValueError):
        if out.is_dir() and _interrupted_prepare(out):
            raise StudyError(
                "DIR", f"{str(out)!r} holds no study: it was interrupted before it started; run the study file again"
            ) from None
        raise StudyError("DIR", f"{str(out)!r} is not a study results directory (no readable {STUDY_JSON})") from None
    return StudyRuns(parse_study(recorded["study"], source=out / STUDY_JSON), out), text


# ------------------------------------------------------------------------------------------
# one run
# ------------------------------------------------------------------------------------------


def _worker_init() -> None:
    """Worker processes: one torch thread, ignore Ctrl-C (the parent stops them, see `_execute`)
    and die with the parent (Linux) so that a killed study leaves no orphan writing into its
    directory."""
    import torch

    torch.set_num_threads(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:
            pass


def run_one(spec_data: dict, out: str, hash_: str, concurrent: int = 1) -> dict:
    """Execute one run (unless done) and store it; returns its manifest. ``concurrent``: how many
    runs execute at once on this host (``brian2.threads = "auto"`` shares the cores among them)."""
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
        tables = execute_brian2(
            spec, build_root=Path(out) / BUILDS, pretrained_root=Path(out) / PRETRAINED, concurrent=concurrent
        )
    else:
        tables = execute(spec)
    files = [f"{name}.parquet" for name in RUN_TABLES]
    for name, file in zip(RUN_TABLES, files):
        store.write_parquet_atomic(tables[name], run_dir / file)
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
        "files": store.file_digests(run_dir, files),
        "worker": {"host": os.uname().nodename, "pid": os.getpid()},
    }
    store.write_json_atomic(manifest, run_dir / store.MANIFEST)
    return manifest


def run_states(runs: StudyRuns) -> pd.DataFrame:
    """One row per run: stage (``calibration`` or ``study``), point, variant, seed, run, state
    (`dassdp.runs.store.run_state`: done, damaged or pending) and done; the study's runs appear
    once calibration has chosen their scales."""
    stages = [("calibration", runs.calibration), ("study", runs.runs)]
    rows = [
        {
            "stage": stage,
            "point": point,
            "variant": spec.variant,
            "seed": spec.seed,
            "run": spec.run_id,
            "state": store.run_state(runs.run_dir(spec)),
        }
        for stage, specs in stages
        for point, _, spec in specs
    ]
    table = pd.DataFrame(rows, columns=["stage", "point", "variant", "seed", "run", "state"])
    return table.assign(done=table.state == "done")


def calibration_table(runs: StudyRuns) -> pd.DataFrame:
    """The finished calibration runs' criterion: one row per (variant, rate_scale, seed) with
    ``criterion``, ``value`` and ``chosen`` (whether it is the variant's chosen scale, once
    `calibrate` has chosen), as `aggregate` writes ``calibration.parquet``."""
    spec = runs.study.calibration
    evaluations = pd.concat(
        [store.read_run_table(runs.run_dir(s), "evaluations") for _, _, s in runs.calibration], ignore_index=True
    )
    scale_of = {s.run_id: overrides["brian2.rate_scale"] for _, overrides, s in runs.calibration}
    metrics = metrics_table(evaluations, None, runs.calibration[0][2].resolved())  # its sequence may be cut short
    scores = metrics[metrics.metric == spec.criterion].assign(rate_scale=lambda m: m.run.map(scale_of))
    table = scores[["variant", "rate_scale", "seed", "value"]].assign(criterion=spec.criterion)
    table["chosen"] = table.rate_scale == table.variant.map(runs.scales or {})
    return table[["variant", "rate_scale", "seed", "criterion", "value", "chosen"]].sort_values(
        ["variant", "rate_scale", "seed"], ignore_index=True
    )


def calibrate(runs: StudyRuns) -> None:
    """Choose each calibrated variant's ``brian2.rate_scale`` from its finished calibration runs:
    the grid value with the highest mean criterion over the calibration seeds (the first such
    value in grid order on a tie). Records the choice in ``DIR/calibration.json`` (with the
    variants whose choice is the grid's smallest or largest value: the grid may not bracket their
    best rate) and expands the study's runs with it."""
    spec = runs.study.calibration
    means = calibration_table(runs).groupby(["variant", "rate_scale"], sort=False).value.mean()
    chosen = {}
    for variant in calibrated_variants(runs.study):
        if variant not in means.index.get_level_values("variant"):
            raise StudyError(
                "calibration", f"no {spec.criterion} for variant {variant!r}: every calibration run failed"
            )
        chosen[variant] = float(means.loc[variant].reindex(spec.grid).idxmax())
    edges = (min(spec.grid), max(spec.grid))
    at_edge = sorted(variant for variant, scale in chosen.items() if scale in edges)
    store.write_json_atomic(
        {"criterion": spec.criterion, "grid": list(spec.grid), "scales": chosen, "at_edge": at_edge},
        runs.out / CALIBRATION_JSON,
    )
    runs.use_scales(chosen)


# ------------------------------------------------------------------------------------------
# executing a study
# ------------------------------------------------------------------------------------------


def check_execution(workers: int, local_cluster: int | None, scheduler: str | None = None) -> None:
    """Raise `StudyError` for fewer than one local worker or Dask ``LocalCluster`` worker, or a
    Dask scheduler that cannot be reached (checked before anything is written)."""
    if workers < 1:
        raise StudyError("--workers", f"must be >= 1, got {workers}")
    if local_cluster is not None and local_cluster < 1:
        raise StudyError("--local-cluster", f"must be >= 1, got {local_cluster}")
    if scheduler is not None:
        client, _ = _dask_client(scheduler, None)
        client.close()


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
    """Execute every pending run, calibration first; returns the failures ``(run_id,
    exception)``. Completed runs are stored as they finish; ``on_done(manifest)`` is called for
    each (also for skipped runs). The study's runs start only once every calibration run is done.

    Local workers are forked on Linux (``start_method`` None: they inherit the imported modules
    and the data set, loaded here first, and start in milliseconds; call this from a process
    without other threads, e.g. no auto-refreshing progress bar) and spawned elsewhere.

    Holds the directory's lock throughout (`dassdp.runs.store.lock`, which raises
    `dassdp.runs.store.StoreError` if another process holds it) and first removes the temporary
    files a killed writer left."""
    on_done = on_done or (lambda manifest: None)
    with store.lock(runs.out):
        store.remove_temporaries(runs.out)
        failures = run_calibration(runs, workers, scheduler, local_cluster, on_done, start_method)
        if failures:
            return failures
        return _execute(runs, runs.runs, workers, scheduler, local_cluster, on_done, start_method)


def run_calibration(
    runs: StudyRuns,
    workers: int = 1,
    scheduler: str | None = None,
    local_cluster: int | None = None,
    on_done: Callable[[dict], None] | None = None,
    start_method: str | None = None,
) -> list[tuple[str, BaseException]]:
    """The calibration stage of `run_study`: run the pending calibration runs and, once all are
    done, `calibrate` (which expands the study's runs with the chosen scales)."""
    failures = _execute(
        runs, runs.calibration, workers, scheduler, local_cluster, on_done or (lambda m: None), start_method
    )
    if not failures and runs.calibration and runs.scales is None:
        calibrate(runs)
    return failures


def _execute(runs: StudyRuns, specs, workers, scheduler, local_cluster, on_done, start_method):
    """Run the pending ones of ``specs`` (``(point, overrides, RunSpec)``); see `run_study`."""
    pending = []
    for _, _, spec in specs:
        run_dir = runs.run_dir(spec)
        if store.is_done(run_dir):
            on_done(store.read_manifest(run_dir))
        else:
            store.clean_partial(run_dir)
            pending.append(spec)
    failures: list[tuple[str, BaseException]] = []
    if not pending:
        return failures

    def arguments(concurrent: int) -> list[tuple]:
        concurrent = max(1, min(concurrent, len(pending)))
        return [(spec.model_dump(mode="json"), str(runs.out.resolve()), runs.hash, concurrent) for spec in pending]

    if scheduler is not None or local_cluster is not None:
        client, cluster = _dask_client(scheduler, local_cluster)
        try:
            from distributed import as_completed as dask_completed

            args = arguments(_runs_per_host(client))
            futures = {
                client.submit(run_one, *a, pure=False, key=f"dassdp-{spec.run_id}"): spec
                for a, spec in zip(args, pending)
            }
            for future in dask_completed(futures):
                try:
                    on_done(future.result())
                except Exception as err:  # noqa: BLE001 - reported per run
                    failures.append((futures[future].run_id, err))
        finally:
            client.close()  # cancels the runs not started
            if cluster is not None:
                cluster.close()
    elif workers <= 1:
        _worker_init_torch_only()
        for a, spec in zip(arguments(1), pending):
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
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_init)
        queue = list(zip(arguments(workers), pending))
        running = {}
        try:
            while queue or running:
                while queue and len(running) < workers:  # submitted one by one: Ctrl-C starts none
                    a, spec = queue.pop(0)
                    try:
                        running[pool.submit(run_one, *a)] = spec
                    except BrokenProcessPool as err:  # a worker died: the rest fail, resume redoes them
                        failures.append((spec.run_id, err))
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    spec = running.pop(future)
                    try:
                        on_done(future.result())
                    except Exception as err:  # noqa: BLE001 - reported per run
                        failures.append((spec.run_id, err))
        except BaseException:  # Ctrl-C: stop the running runs now
            _terminate_workers(pool)
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
    return failures


def _runs_per_host(client) -> int:
    """The most runs a Dask cluster executes at once on one host: the worker threads of its
    busiest host (each thread runs one task)."""
    per_host: dict[str, int] = {}
    for worker in client.scheduler_info().get("workers", {}).values():
        host = worker.get("host", "")
        per_host[host] = per_host.get(host, 0) + int(worker.get("nthreads", 1))
    return max(per_host.values(), default=1)


def _terminate_workers(pool: ProcessPoolExecutor) -> None:
    """Terminate the pool's worker processes (``terminate_workers`` from Python 3.14 on)."""
    if hasattr(pool, "terminate_workers"):
        pool.terminate_workers()
        return
    for process in list((pool._processes or {}).values()):  # noqa: SLF001 - no public way before 3.14
        process.terminate()


def _worker_init_torch_only() -> None:
    import torch

    torch.set_num_threads(1)


# ------------------------------------------------------------------------------------------
# aggregation
# ------------------------------------------------------------------------------------------


def _sweep_columns(runs: StudyRuns) -> pd.DataFrame:
    rows = [
        {"run": spec.run_id, "point": point, **{f"sweep.{k}": v for k, v in overrides.items()}}
        for point, overrides, spec in runs.runs
    ]
    return pd.DataFrame(rows)


def metrics_table(evaluations: pd.DataFrame, training: pd.DataFrame | None, study: Study) -> pd.DataFrame:
    """Continual-learning metrics per run (tidy: run, variant, seed, metric, value).

    ACC, BWT, FWT, forgetting and learning accuracy come from the first pass through the tasks
    (`dassdp.analysis.continual`; FWT against the untrained model, ``block = -1``), and
    ``learned_<task>`` is the accuracy on each task right after its first block (``R[j, j]``). Sequences that
    revisit tasks (``A -> B -> A``) add ``final_ACC`` (mean accuracy over all tasks after the last
    block) and ``final_forgetting`` (mean over tasks not trained last of the best earlier accuracy
    minus the final one). ``synchrony`` is the mean training S of the plastic layer (not without
    ``training``).
    """
    from dassdp.analysis.continual import continual_metrics

    blocks = study.blocks
    first_pass = tasks_of_first_pass(study)
    frames = []
    trained = evaluations[evaluations.block >= 0]
    if len(first_pass) >= 2:
        rows = trained[trained.block < len(first_pass)]
        rows = rows[rows.eval_task.isin(first_pass)]
        for run, table in rows.groupby("run", sort=True):
            base = evaluations[(evaluations.run == run) & (evaluations.block == -1)].set_index("eval_task").accuracy
            metrics = continual_metrics(
                table.assign(trained_task=table.block.map(dict(enumerate(first_pass)))),
                task_order=first_pass,
                baseline=base,
            )
            ident = table.iloc[0]
            learned = table[table.eval_task == table.block.map(dict(enumerate(first_pass)))]
            metrics = pd.concat(
                [
                    metrics,
                    pd.DataFrame(
                        [
                            {
                                "variant": ident.variant,
                                "seed": ident.seed,
                                "run": run,
                                "metric": f"learned_{row.eval_task}",
                                "value": float(row.accuracy),
                            }
                            for row in learned.itertuples()
                        ]
                    ),
                ],
                ignore_index=True,
            )
            frames.append(metrics)
    if len(blocks) > len(first_pass):
        last = len(blocks) - 1
        for run, table in trained.groupby("run", sort=True):
            matrix = table.pivot_table(index="block", columns="eval_task", values="accuracy")
            final = matrix.loc[last]
            earlier = matrix.drop(index=last).max()
            others = [t for t in matrix.columns if t != blocks[-1].task]
            ident = table.iloc[0]
            frames.append(
                pd.DataFrame(
                    [
                        {
                            "variant": ident.variant,
                            "seed": ident.seed,
                            "run": run,
                            "metric": "final_ACC",
                            "value": float(final.mean()),
                        },
                        {
                            "variant": ident.variant,
                            "seed": ident.seed,
                            "run": run,
                            "metric": "final_forgetting",
                            "value": float((earlier[others] - final[others]).mean()) if others else np.nan,
                        },
                    ]
                )
            )
    if training is not None:
        synchrony = training.groupby(["variant", "seed", "run"], sort=True).synchrony.mean().rename("value")
        synchrony = synchrony.reset_index()
        frames.append(synchrony.assign(metric="synchrony"))
        ids = evaluations[["variant", "seed", "run"]].drop_duplicates()
        missing = ids[~ids.run.isin(synchrony.run)]  # runs without training rows (frozen)
        frames.append(missing.assign(metric="synchrony", value=np.nan))
    metrics = pd.concat([f for f in frames if len(f)], ignore_index=True)
    return metrics[["variant", "seed", "run", "metric", "value"]].sort_values(["run", "metric"], ignore_index=True)


def aggregate(runs: StudyRuns, started: float | None = None) -> dict[str, pd.DataFrame]:
    """Concatenate every run's tables into ``DIR/<table>.parquet`` (with ``point`` and the swept
    parameters as columns), compute ``metrics.parquet``, ``summary.parquet`` (t-intervals and
    paired differences to the study's reference variant, `dassdp.analysis.stats.summarise`),
    ``gate_diagnostics.parquet`` (`dassdp.analysis.gate_diagnostics`) and, with calibration,
    ``calibration.parquet`` (`calibrate`), and write the study manifest last, with the tables'
    checksums (`dassdp.runs.store.damaged_tables` checks them)."""
    from dassdp.analysis.gate_diagnostics import gate_diagnostics
    from dassdp.analysis.stats import summarise

    sweep = _sweep_columns(runs)
    tables = {}
    for name in RUN_TABLES:
        parts = [store.read_run_table(runs.run_dir(spec), name) for _, _, spec in runs.runs]
        parts = [p for p in parts if len(p)] or parts[:1]
        tables[name] = pd.concat(parts, ignore_index=True).merge(sweep, on="run", how="left")
    metrics = metrics_table(tables["evaluations"], tables["training"], runs.study).merge(sweep, on="run", how="left")
    tables["metrics"] = metrics
    tables["gate_diagnostics"] = gate_diagnostics(tables["training"], tables["gate"])
    if runs.calibration:
        tables["calibration"] = calibration_table(runs)
    by = ["point", *[c for c in sweep.columns if c.startswith("sweep.")], "variant", "metric"]
    summary = summarise(metrics, by=by, reference=runs.study.reference)
    rank = summary.variant.map({v: k for k, v in enumerate(runs.study.variants)})
    tables["summary"] = summary.assign(_rank=rank).sort_values(["point", "_rank", "metric"]).drop(columns="_rank")
    tables["summary"] = tables["summary"].reset_index(drop=True)
    for name, frame in tables.items():
        store.write_parquet_atomic(frame, runs.out / f"{name}.parquet")
    files = store.file_digests(runs.out, [f"{name}.parquet" for name in tables])
    manifests = [store.read_manifest(runs.run_dir(spec)) for _, _, spec in runs.runs]
    store.write_json_atomic(
        {
            "status": "done",
            "study": runs.study.name,
            "study_hash": runs.hash,
            "seeds": list(runs.study.seeds),
            "variants": list(runs.study.variants),
            "rate_scales": runs.scales,
            "runs": [spec.run_id for _, _, spec in runs.runs],
            "calibration_runs": [spec.run_id for _, _, spec in runs.calibration],
            "versions": store.versions(),
            "run_seconds": float(sum(m["timings"]["seconds"] for m in manifests)),
            "wall_seconds": None if started is None else time.time() - started,
            "files": files,
        },
        runs.out / store.MANIFEST,
    )
    return tables
