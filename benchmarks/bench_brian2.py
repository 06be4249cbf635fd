"""``dassdp bench brian2``: static synapses vs STDP vs DA-SSDP, side by side, on each target
(numpy, cpp_standalone, and cuda_standalone where a GPU is found).

Same network and activity for every variant: Poisson inputs (a NeuronGroup firing with
``rand() < rate * dt``, seeded) into current-based LIF neurons, all-to-all or sparse (p = 0.1),
at about 1e5 and 1e6 synapses; DA-SSDP with windows of 20 ms and 100 ms (`WINDOW_MS`). Reports
compile and run time separately, synaptic events per second, and the ratios DA-SSDP/static and
cpp_standalone/numpy; plus compile-once-run-many: one build and 10 seeds through ``run_args``
against one build-and-run (and 10 independent builds, extrapolated from it).

Standalone binaries run `RUN_REPEATS` times, the variants of a size taking turns
(`repeat_runs`), and the shortest times count: ``run_s`` is the wall time of the process
(start-up, connecting, the loop, writing results), ``loop_s`` Brian2's own time of the
simulation loop, which events per second use (numpy's ``run_s`` is its loop). Smaller networks
simulate proportionally longer (`_standalone_duration`). Set ``DASSDP_BENCH_QUICK=1`` for a
small, fast version.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time

import numpy as np

QUICK = os.environ.get("DASSDP_BENCH_QUICK") == "1"
RATE_HZ = 10.0
DT_MS = 0.1
DURATION = {
    "numpy": 0.05 if QUICK else 0.2,
    "cpp_standalone": 0.2 if QUICK else 1.0,
    "cuda_standalone": 0.2 if QUICK else 1.0,
}  # seconds
#: runs of each standalone binary, the variants of a size taking turns; times are the shortest
RUN_REPEATS = 1 if QUICK else 7
SIZES = {  # name: (n_pre, n_post, p)
    "1e5_all": (1000, 100, None),
    "1e5_sparse": (1000, 1000, 0.1),
    "1e6_all": (1000, 1000, None),
    "1e6_sparse": (10000, 1000, 0.1),
}
if QUICK:
    SIZES = {"1e4_all": (200, 50, None), "1e4_sparse": (500, 200, 0.1)}
VARIANTS = ("static", "stdp", "dassdp", "dassdp_100ms")
#: DA-SSDP window (one sample presentation): 20 ms (about 0.2 input spikes per neuron and window,
#: the costliest regime per spike) and 100 ms
WINDOW_MS = {"dassdp": 20, "dassdp_100ms": 100}


def _network(variant: str, n_pre: int, n_post: int, p: float | None, seed: int):
    """Build groups and the synapses of ``variant``; returns (objects, synapses, input group)."""
    from brian2 import Hz, NeuronGroup, Synapses, ms
    from brian2 import seed as brian_seed

    from dassdp.models import current_lif
    from dassdp.rules import reference as ref
    from dassdp.rules.brian2 import DASSDPSynapses, ExternalLoss, STDPSynapses, neuron_variables

    brian_seed(seed)
    source = NeuronGroup(
        n_pre, neuron_variables("pre"), threshold="rand() < rate * dt", namespace={"rate": RATE_HZ * Hz}, name="inputs"
    )
    post = current_lif(tau_m=10 * ms).group(n_post, extra=neuron_variables("post"), name="lif")
    connect = {"p": p} if p else {}
    transmission = "I_syn_post += w * 0.5*mV"
    if variant == "static":
        syn = Synapses(source, post, "w : 1", on_pre=transmission, name="static")
        syn.connect(**connect)
        syn.w = 1.0
        return [source, post, syn], syn, source
    if variant == "stdp":
        rule = STDPSynapses(source, post, ref.STDPParams(), connect=connect, on_pre=transmission, w0=1.0)
    else:
        n_windows = 1000
        rule = DASSDPSynapses(
            source,
            post,
            WINDOW_MS[variant] * ms,
            ref.DASSDPParams(sigma=1 / DT_MS),
            warmup=5,
            connect=connect,
            on_pre=transmission,
            w0=1.0,
            loss=ExternalLoss(np.random.default_rng(seed).normal(size=n_windows)),
        )
    return [source, post, *rule.objects], rule.synapses, source


def _standalone_duration(target: str, size: str) -> float:
    """Simulated seconds on a standalone target: ``DURATION`` at 1e6 synapses, longer for smaller
    networks in proportion, so that every binary runs long enough to time (a 1e5 network runs
    1 s in about 20 ms)."""
    n_pre, n_post, p = SIZES[size]
    return DURATION[target] * max(1, round(1e6 / (n_pre * n_post * (p or 1.0))))


def _events(spike_count: int, n_syn: int, n_pre: int) -> float:
    return float(spike_count) * n_syn / n_pre  # Python floats: the product overflows int32


def _measure_runtime(variant, n_pre, n_post, p, duration):
    from brian2 import Network, SpikeMonitor, defaultclock, ms, second

    from dassdp.models.targets import use_target

    with use_target("numpy"):
        defaultclock.dt = DT_MS * ms
        objects, syn, source = _network(variant, n_pre, n_post, p, seed=1)
        mon = SpikeMonitor(source)
        net = Network(*objects, mon)
        start = time.perf_counter()
        net.run(defaultclock.dt)  # first run: code generation (numpy's "compile")
        generated = time.perf_counter()
        net.run(duration * second)
        elapsed = time.perf_counter() - generated
        return {
            "compile_s": generated - start,
            "run_s": elapsed,
            "synapses": int(len(syn)),
            "events_per_s": _events(mon.num_spikes, len(syn), n_pre) / elapsed,
        }


def _measure_standalone(target, variant, n_pre, n_post, p, duration, directory):
    """Build ``variant`` in ``directory`` and run it once; `repeat_runs` runs it again and
    completes the row (it needs the build directory until then)."""
    from brian2 import Network, SpikeMonitor, defaultclock, ms, second

    from dassdp.models.standalone import StandaloneNetwork

    with StandaloneNetwork(target, directory) as sim:
        defaultclock.dt = DT_MS * ms
        objects, syn, source = _network(variant, n_pre, n_post, p, seed=1)
        mon = SpikeMonitor(source)
        sim.build(Network(*objects, mon), duration * second)
        run_s = sim.run("bench0")
        n_syn = int(len(syn))
        return {
            "compile_s": sim.timings["build"],
            "run_s": run_s,
            "loop_s": sim.timings["loop"],
            "synapses": n_syn,
            "events": _events(mon.num_spikes, n_syn, n_pre),
            "directory": str(sim.directory),
        }


def repeat_runs(rows: dict, repeats: int = RUN_REPEATS) -> dict:
    """Run the binaries of ``rows`` ({variant: `_measure_standalone` row}) ``repeats - 1`` times
    more, the variants taking turns in alternating order so that changes in the load of a shared
    machine affect all alike; keep each variant's shortest times and set its events per second
    from the loop time."""
    names = list(rows)
    for k in range(1, repeats):
        for name in names if k % 2 == 0 else names[::-1]:
            run_s, loop_s = _run_binary(rows[name]["directory"], f"bench{k}")
            rows[name]["run_s"] = min(rows[name]["run_s"], run_s)
            rows[name]["loop_s"] = min(rows[name]["loop_s"], loop_s)
    for row in rows.values():
        del row["directory"]
        row["events_per_s"] = row.pop("events") / row["loop_s"]
    return rows


def _run_binary(directory: str, name: str) -> tuple[float, float]:
    """Run a built standalone binary again, as Brian2 does, into ``results/<name>``:
    (wall time of the process, Brian2's loop time) in seconds."""
    from dassdp.models.standalone import loop_time

    results = os.path.join("results", name)
    os.makedirs(os.path.join(directory, results), exist_ok=True)
    start = time.perf_counter()
    subprocess.run(["./main", "--results_dir", results + os.sep], cwd=directory, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    return wall, loop_time(os.path.join(directory, results))


def _compile_once(directory: str, n_seeds: int = 10) -> dict:
    """One build + n seeds via run_args, against one build-and-run of the same small network."""
    from brian2 import Network, NeuronGroup, TimedArray, defaultclock, ms

    from dassdp.models import current_lif
    from dassdp.models.standalone import StandaloneNetwork
    from dassdp.rules.brian2 import DASSDPSynapses, ExternalLoss, neuron_variables
    from dassdp.rules.reference import DASSDPParams

    n_pre, n_post, steps = 100, 10, 5000
    patterns = [
        (np.random.default_rng(s).random((steps, n_pre)) < RATE_HZ * DT_MS * 1e-3 * 5).astype(float)
        for s in range(n_seeds)
    ]

    def build(sim, name):
        defaultclock.dt = DT_MS * ms
        table = TimedArray(patterns[0], dt=DT_MS * ms)
        pre = NeuronGroup(n_pre, neuron_variables("pre"), threshold="pattern(t, i) > 0.5", namespace={"pattern": table})
        post = current_lif(tau_m=10 * ms).group(n_post, extra=neuron_variables("post"))
        rule = DASSDPSynapses(
            pre,
            post,
            20 * ms,
            DASSDPParams(sigma=1 / DT_MS),
            warmup=5,
            on_pre="I_syn_post += w * 2*mV",
            w0=1.0,
            loss=ExternalLoss(np.zeros(25)),
        )
        start = time.perf_counter()
        sim.build(Network(pre, post, *rule.objects), rule.duration(24))
        sim.run(name, {table: patterns[0]})
        return table, time.perf_counter() - start

    with StandaloneNetwork("cpp_standalone", os.path.join(directory, "single")) as sim:
        _, one_build_and_run = build(sim, "seed0")
    with StandaloneNetwork("cpp_standalone", os.path.join(directory, "many")) as sim:
        start = time.perf_counter()
        table, _ = build(sim, "seed0")
        for s in range(1, n_seeds):
            sim.run(f"seed{s}", {table: patterns[s]})
        compile_once = time.perf_counter() - start
    return {
        "seeds": n_seeds,
        "one_build_and_run_s": one_build_and_run,
        "compile_once_all_seeds_s": compile_once,
        "independent_builds_s_extrapolated": n_seeds * one_build_and_run,
        "ratio_compile_once_vs_one_build": compile_once / one_build_and_run,
        "ratio_independent_vs_compile_once": n_seeds * one_build_and_run / compile_once,
    }


def run(json_out: bool = False) -> dict:
    from rich.progress import Progress

    results: dict = {
        "config": {
            "rate_hz": RATE_HZ,
            "dt_ms": DT_MS,
            "quick": QUICK,
            "run_repeats": RUN_REPEATS,
            "duration_s": {
                t: {size: _standalone_duration(t, size) if t != "numpy" else DURATION[t] for size in SIZES}
                for t in DURATION
            },
        },
        "targets": {},
    }
    from dassdp.models.cuda import gpu_compute_capability

    targets = ("numpy", "cpp_standalone") + (("cuda_standalone",) if gpu_compute_capability() else ())
    with tempfile.TemporaryDirectory(prefix="dassdp-bench-") as tmp, Progress(transient=True) as progress:
        task = progress.add_task("brian2 benchmark", total=len(targets) * len(SIZES) * len(VARIANTS) + 1)
        for target in targets:
            for size in SIZES:
                n_pre, n_post, p = SIZES[size]
                rows = {}
                for variant in VARIANTS:
                    if target == "numpy":
                        rows[variant] = _measure_runtime(variant, n_pre, n_post, p, DURATION[target])
                    else:
                        rows[variant] = _measure_standalone(
                            target,
                            variant,
                            n_pre,
                            n_post,
                            p,
                            _standalone_duration(target, size),
                            os.path.join(tmp, f"{target}_{size}_{variant}"),
                        )
                    progress.advance(task)
                results["targets"].setdefault(target, {})[size] = rows if target == "numpy" else repeat_runs(rows)
        results["compile_once_run_many"] = _compile_once(tmp)
        progress.advance(task)
    results["ratios"] = _ratios(results["targets"])
    return results


def _ratios(targets: dict) -> dict:
    out = {}
    for size in SIZES:
        for target, table in targets.items():
            rows = table[size]
            for variant in (*WINDOW_MS, "stdp"):
                for measure in ("run", "loop"):
                    if f"{measure}_s" in rows[variant]:
                        out[f"{target}/{size}/{variant}_over_static_{measure}"] = (
                            rows[variant][f"{measure}_s"] / rows["static"][f"{measure}_s"]
                        )
        for variant in VARIANTS:
            rate = {t: targets[t][size][variant]["events_per_s"] for t in targets}
            out[f"{size}/{variant}/cpp_over_numpy_events_per_s"] = rate["cpp_standalone"] / rate["numpy"]
            if "cuda_standalone" in rate:
                out[f"{size}/{variant}/cuda_over_cpp_events_per_s"] = rate["cuda_standalone"] / rate["cpp_standalone"]
    return out
