"""Run a study: expand it into runs, execute them (in this process, in local worker processes or
on a Dask cluster), store each run atomically, then aggregate and summarise.

A study with ``[calibration]`` runs in two stages: first its calibration runs (every calibrated
variant x grid value x calibration seed, scored on a validation split), then, with each variant's
chosen learning-rate scale (`calibrate`, recorded in ``DIR/calibration.json``), the study's own
runs. Both stages are resumable in the same way.

A run is executed by `run_one`, a plain top-level function of picklable arguments, so the same
code runs in a ``ProcessPoolExecutor`` worker and on a Dask worker; it writes its tables into the
shared results directory itself and returns its manifest. Brian2-phase runs that differ only in
their seed and ``brian2.rate_scale`` (same variant) execute in batches, as replicas of one Brian2
network in one simulation (`run_batch`, ``brian2.replicas``, `batches`); each run of a batch is
stored as if it had run alone, its manifest naming the batch. Runs whose manifest says ``done``
are skipped; any other run directory (pending, or damaged: a table that no longer matches the
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
    batch_key,
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
    "AUTO_REPLICAS",
    "RUN_TABLES",
    "StudyRuns",
    "aggregate",
    "available_memory",
    "batches",
    "calibrate",
    "calibration_table",
    "check_execution",
    "load_dir",
    "metrics_table",
    "prepare_dir",
    "replica_bytes",
    "run_batch",
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
    runs (or batches) execute at once on this host (``brian2.threads = "auto"`` shares the cores
    among them)."""
    from dassdp.runs.brian2_phase import execute_brian2
    from dassdp.runs.tasks import execute

    spec = RunSpec.model_validate(spec_data)
    run_dir = Path(out) / store.RUNS / spec.run_id
    if store.is_done(run_dir):
        return store.read_manifest(run_dir)
    store.clean_partial(run_dir)
    started = time.time()
    phase: dict = {}
    if spec.resolved().phase == "brian2":
        tables = execute_brian2(
            spec,
            build_root=Path(out) / BUILDS,
            pretrained_root=Path(out) / PRETRAINED,
            concurrent=concurrent,
            timings=phase,
        )
    else:
        tables = execute(spec)
    return _store_runs([spec], [tables], out, hash_, started, phase)[0]


def run_batch(spec_datas: list[dict], out: str, hash_: str, concurrent: int = 1) -> list[dict | Exception]:
    """Execute a batch of Brian2-phase runs (`batches`: same variant, resolved studies that differ
    only in seed, ``brian2.rate_scale`` and `dassdp.runs.study.EXECUTION_FIELDS`) as replicas of
    one network in one simulation (`dassdp.runs.brian2_phase.execute_brian2_batch`) and store
    each; returns their manifests in the order of ``spec_datas``. ``concurrent``: how many batches
    execute at once on this host (as for `run_one`).

    Runs already done are skipped (their manifests returned); the others' directories are
    cleaned, and only they execute (one left: `dassdp.runs.brian2_phase.execute_brian2`; a batch
    of one spec is `run_one`). Nothing is written until the whole batch has computed; then every
    run's tables are written, and only then every run's manifest, so a batch that is killed
    before its manifests leaves its runs pending (a kill among the manifests leaves the rest
    pending). If the simulation raises, each pending run is executed alone (`run_one`), so that one
    run's fault (a bound below its own pretrained weights, a failed pretraining, memory) fails that
    run only: its entry in the result is then its exception instead of a manifest. Each manifest
    records ``replicas`` (how many runs executed together), ``batch`` (their run ids) and the
    batch's wall time (``timings.batch_seconds``; ``timings.seconds`` is its share, the wall time
    over ``replicas``; ``timings.brian2``: the simulation's own timings, shared by the batch)."""
    if len(spec_datas) == 1:
        return [run_one(spec_datas[0], out, hash_, concurrent)]
    specs = [RunSpec.model_validate(data) for data in spec_datas]
    manifests: dict[str, dict | Exception] = {}
    pending = []
    for spec in specs:
        run_dir = Path(out) / store.RUNS / spec.run_id
        if store.is_done(run_dir):
            manifests[spec.run_id] = store.read_manifest(run_dir)
        else:
            store.clean_partial(run_dir)
            pending.append(spec)
    if pending:
        phase: dict = {}
        roots = {
            "build_root": Path(out) / BUILDS,
            "pretrained_root": Path(out) / PRETRAINED,
            "concurrent": concurrent,
            "timings": phase,
        }
        started = time.time()
        if len(pending) == 1:
            from dassdp.runs.brian2_phase import execute_brian2

            tables = [execute_brian2(pending[0], **roots)]
        else:
            from dassdp.runs.brian2_phase import execute_brian2_batch  # resolved per call

            try:
                tables = list(execute_brian2_batch(pending, **roots))
            except Exception:  # noqa: BLE001 - one run's fault must not fail the others: run each alone
                for spec in pending:
                    try:
                        manifests[spec.run_id] = run_one(spec.model_dump(mode="json"), out, hash_, concurrent)
                    except Exception as error:  # noqa: BLE001 - returned in the run's place
                        manifests[spec.run_id] = error
                return [manifests[spec.run_id] for spec in specs]
        for spec, manifest in zip(pending, _store_runs(pending, tables, out, hash_, started, phase)):
            manifests[spec.run_id] = manifest
    return [manifests[spec.run_id] for spec in specs]


def _store_runs(
    specs: list[RunSpec], tables: list[dict], out: str, hash_: str, started: float, phase: dict | None = None
) -> list[dict]:
    """Write the tables of runs executed together (every run's tables first, then every run's
    manifest, each atomically); returns the manifests. ``phase``: the Brian2 phase's timings of
    the simulation they shared (`dassdp.runs.brian2_phase.execute_brian2_batch`), recorded as
    ``timings.brian2`` where given."""
    files = [f"{name}.parquet" for name in RUN_TABLES]
    run_dirs = [Path(out) / store.RUNS / spec.run_id for spec in specs]
    for run_dir, run_tables in zip(run_dirs, tables):
        run_dir.mkdir(parents=True, exist_ok=True)
        for name, file in zip(RUN_TABLES, files):
            store.write_parquet_atomic(run_tables[name], run_dir / file)
    finished = time.time()
    batch = [spec.run_id for spec in specs]
    manifests = []
    for spec, run_dir, run_tables in zip(specs, run_dirs, tables):
        manifest = {
            "run_id": spec.run_id,
            "status": "done",
            "study_hash": hash_,
            "variant": spec.variant,
            "seed": spec.seed,
            "spec": spec.model_dump(mode="json"),
            "versions": store.versions(),
            "timings": {
                "started": started,
                "finished": finished,
                "seconds": (finished - started) / len(specs),
                "batch_seconds": finished - started,
                **({"brian2": phase} if phase else {}),
            },
            "replicas": len(specs),
            "batch": batch,
            "tables": {name: len(run_tables[name]) for name in RUN_TABLES},
            "files": store.file_digests(run_dir, files),
            "worker": {"host": os.uname().nodename, "pid": os.getpid()},
        }
        store.write_json_atomic(manifest, run_dir / store.MANIFEST)
        manifests.append(manifest)
    return manifests


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

    Brian2-phase runs execute in `batches` (``brian2.replicas``; ``workers``, or on Dask the
    cluster's worker threads, size the ``"auto"`` batches); a batch that fails is a failure of
    each of its runs (all with the batch's exception), and none of them is stored.

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


#: the largest batch ``brian2.replicas = "auto"`` makes on each Brian2 target (`batches`): the
#: runtime targets simulate replicas one vector operation at a time in Python, so a few suffice;
#: a compiled project amortises its build over more; a GPU needs many replicas to fill its cores
AUTO_REPLICAS = {"numpy": 16, "cython": 16, "cpp_standalone": 64, "cuda_standalone": 1024}
#: targets that compile a project per simulation: ``"auto"`` puts a group into as few batches as
#: `AUTO_REPLICAS` allows (compiling costs far more than simulating the demo's network; OpenMP
#: threads, ``brian2.threads = "auto"``, then use the cores the other workers leave free)
COMPILED = ("cpp_standalone", "cuda_standalone")


def _split_evenly(group: list, size: int) -> list[list]:
    """``group`` cut, in order, into ``ceil(len / size)`` consecutive parts whose lengths differ
    by at most one (8 runs with size 3: 3, 3, 2; 7 runs with size 6: 4, 3)."""
    n_parts = -(-len(group) // size)
    base, extra = divmod(len(group), n_parts)
    parts, start = [], 0
    for k in range(n_parts):
        stop = start + base + (k < extra)
        parts.append(group[start:stop])
        start = stop
    return parts


def batches(specs: list[RunSpec], workers: int = 1, memory: int | None = None) -> list[list[RunSpec]]:
    """The units of execution of ``specs`` (pending runs), in their order: each PyTorch-phase run
    alone; Brian2-phase runs grouped by `dassdp.runs.study.batch_key` (same variant; seeds and
    rate scales differ) in the order of each group's first run, each group cut into batches of
    at most ``brian2.replicas`` runs whose sizes differ by at most one (`_split_evenly`). With
    ``"auto"`` the most is ``ceil(group size / workers)`` (``workers``: the runs executing at
    once, so each group spreads over all of them) on the runtime targets and the whole group on
    the `COMPILED` ones, capped by `AUTO_REPLICAS` for the target and by the memory: a batch
    must fit into ``memory`` bytes (default: this host's `available_memory` shared by the
    ``workers``) at `replica_bytes` per replica."""
    groups: dict[str, list[RunSpec]] = {}
    order: list[tuple[bool, list[RunSpec]]] = []  # (groupable, runs) in the order of first runs
    for spec in specs:
        key = batch_key(spec)
        if key is None:
            order.append((False, [spec]))
        elif key in groups:
            groups[key].append(spec)
        else:
            groups[key] = [spec]
            order.append((True, groups[key]))
    units: list[list[RunSpec]] = []
    for groupable, group in order:
        if not groupable:
            units.append(group)
            continue
        b2 = group[0].study["brian2"]
        replicas = b2.get("replicas", "auto")  # a study recorded before replicas existed: "auto"
        if replicas == "auto":
            target = b2.get("target", "numpy")
            spread = 1 if target in COMPILED else max(1, workers)
            budget = available_memory() // max(1, workers) if memory is None else memory
            try:
                fits = budget // replica_bytes(group[0].resolved())
            except Exception:  # noqa: BLE001 - the data cannot be read here: its runs will say why
                fits = AUTO_REPLICAS[target]
            replicas = max(1, min(-(-len(group) // spread), AUTO_REPLICAS[target], fits))
        units.extend(_split_evenly(group, int(replicas)))
    return units


def replica_bytes(study: Study) -> int:
    """A generous estimate of the memory one replica of a Brian2-phase simulation needs (bytes):
    float64 values of every step (the input features, twice: encoded and side by side with the
    other replicas; the input current of the first hidden layer; the teacher's current; the
    label neurons' potential; a spike of every neuron, as monitors hold them), the readout
    weights of every window, and the samples of its windows, three times over (built in Python,
    held by the simulation, read back). Reads the data set's sizes (`dassdp.runs.tasks.make_tasks`,
    cached)."""
    from dassdp.runs.tasks import make_tasks

    net, b2 = study.network, study.brian2
    tasks, labels = make_tasks(study)
    n_in = next(iter(tasks.values())).x_train.shape[1]
    windows = (len(study.blocks) + 1) * len(tasks) * b2.eval_samples
    windows += sum(block.epochs for block in study.blocks) * b2.train_samples
    per_step = 2 * n_in + net.hidden[0] + 2 * labels + sum(net.hidden) + labels
    return 3 * 8 * (windows * net.n_steps * per_step + windows * (net.hidden[-1] * labels + n_in))


def available_memory() -> int:
    """The memory this host can give new work (bytes): ``MemAvailable`` of ``/proc/meminfo``,
    else half the physical memory."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2


def _execute(runs: StudyRuns, specs, workers, scheduler, local_cluster, on_done, start_method):
    """Run the pending ones of ``specs`` (``(point, overrides, RunSpec)``) in `batches`; see
    `run_study`. Each run of a failed batch is a failure of its own (with the batch's
    exception)."""
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

    def arguments(units: list[list[RunSpec]], concurrent: int) -> list[tuple]:
        """``(function, arguments)`` per unit: `run_one` for one run, `run_batch` for more."""
        concurrent = max(1, min(concurrent, len(units)))
        out = str(runs.out.resolve())
        return [
            (run_one, (unit[0].model_dump(mode="json"), out, runs.hash, concurrent))
            if len(unit) == 1
            else (run_batch, ([spec.model_dump(mode="json") for spec in unit], out, runs.hash, concurrent))
            for unit in units
        ]

    def finish(unit: list[RunSpec], result: dict | list) -> None:
        """``on_done`` for each manifest of a unit (`run_one`: one, `run_batch`: a list, where a
        run that failed on its own has its exception in its place: a failure of that run)."""
        for spec, manifest in zip(unit, result if isinstance(result, list) else [result], strict=True):
            if isinstance(manifest, Exception):
                failures.append((spec.run_id, manifest))
            else:
                on_done(manifest)

    def fail(unit: list[RunSpec], err: BaseException) -> None:
        failures.extend((spec.run_id, err) for spec in unit)

    if scheduler is not None or local_cluster is not None:
        client, cluster = _dask_client(scheduler, local_cluster)
        try:
            from distributed import as_completed as dask_completed

            units = batches(pending, _cluster_threads(client), _memory_per_task(client))
            futures = {}
            for unit, (function, a) in zip(units, arguments(units, _runs_per_host(client))):
                key = f"dassdp-{unit[0].run_id}" if len(unit) == 1 else f"dassdp-batch{len(unit)}-{unit[0].run_id}"
                futures[client.submit(function, *a, pure=False, key=key)] = unit
            for future in dask_completed(futures):
                try:
                    finish(futures[future], future.result())
                except Exception as err:  # noqa: BLE001 - reported per run
                    fail(futures[future], err)
        finally:
            client.close()  # cancels the runs not started
            if cluster is not None:
                cluster.close()
    elif workers <= 1:
        _worker_init_torch_only()
        units = batches(pending, 1)
        for unit, (function, a) in zip(units, arguments(units, 1)):
            try:
                finish(unit, function(*a))
            except Exception as err:  # noqa: BLE001 - reported per run
                fail(unit, err)
    else:
        if start_method is None:
            start_method = "fork" if sys.platform.startswith("linux") else "spawn"
        if start_method == "fork":
            from dassdp.runs.tasks import make_tasks

            make_tasks(pending[0].resolved())  # cached, inherited by the forked workers
        context = multiprocessing.get_context(start_method)
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_init)
        units = batches(pending, workers)
        queue = list(zip(units, arguments(units, workers)))
        running = {}
        try:
            while queue or running:
                while queue and len(running) < workers:  # submitted one by one: Ctrl-C starts none
                    unit, (function, a) = queue.pop(0)
                    try:
                        running[pool.submit(function, *a)] = unit
                    except BrokenProcessPool as err:  # a worker died: the rest fail, resume redoes them
                        fail(unit, err)
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    unit = running.pop(future)
                    try:
                        finish(unit, future.result())
                    except Exception as err:  # noqa: BLE001 - reported per run
                        fail(unit, err)
        except BaseException:  # Ctrl-C: stop the running runs now
            _terminate_workers(pool)
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
    return failures


def _cluster_threads(client) -> int:
    """The most runs a Dask cluster executes at once: the worker threads of all its hosts."""
    workers = client.scheduler_info().get("workers", {}).values()
    return max(1, sum(int(worker.get("nthreads", 1)) for worker in workers))


def _memory_per_task(client) -> int | None:
    """The memory a Dask task may use: the smallest ``memory_limit`` per worker thread over the
    cluster's workers (None if a worker has no limit: this host's memory is the guess then)."""
    workers = list(client.scheduler_info().get("workers", {}).values())
    limits = [int(w.get("memory_limit") or 0) // max(1, int(w.get("nthreads", 1))) for w in workers]
    return min(limits) if limits and min(limits) > 0 else None


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
