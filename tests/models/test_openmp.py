"""cpp_standalone with OpenMP threads: the same numbers as one thread, and the thread count set,
checked and restored by `use_target` and `StandaloneNetwork`."""

import gc
import re

import numpy as np
import pytest

N_IN, N_OUT, STEPS, N_WINDOWS, DT = 40, 3, 20, 60, 0.5e-3


def _simulate(directory, threads):
    """A DA-SSDP network (40 pattern inputs, 3 LIF readouts driven through the plastic synapses,
    spike-count loss, gate fitted after 20 windows) built and run by `use_target` with
    ``threads``; every random number is drawn here, none in the network."""
    from brian2 import Network, NeuronGroup, SpikeMonitor, StateMonitor, TimedArray, defaultclock, second

    from dassdp.models.targets import use_target
    from dassdp.rules.brian2 import DASSDPSynapses, SpikeCountLoss, neuron_variables
    from dassdp.rules.reference import DASSDPParams

    gc.collect()  # free the groups of an earlier call: auto-numbered names would differ otherwise
    rng = np.random.default_rng(3)
    labels = rng.integers(0, N_OUT, size=N_WINDOWS)
    shown = (np.arange(N_IN) * N_OUT // N_IN)[None, :] == labels[:, None]  # [window, input]
    rate = np.repeat(np.where(shown, 0.15, 0.03), STEPS, axis=0)  # spike probability per step
    rate = np.vstack([rate, rate[-1:]])  # the rule runs one step more, in which the last window ends
    pattern = (rng.random(rate.shape) < rate).astype(float)
    with use_target("cpp_standalone", directory, threads=threads):
        defaultclock.dt = DT * second
        inputs = NeuronGroup(
            N_IN,
            neuron_variables("pre"),
            threshold="pattern(t, i) > 0.5",
            reset="",
            namespace={"pattern": TimedArray(pattern, dt=DT * second)},
        )
        readout = NeuronGroup(
            N_OUT,
            "dv/dt = (I - v) / (10 * ms) : volt\ndI/dt = -I / (5 * ms) : volt\n"
            + neuron_variables("post")
            + neuron_variables("readout"),
            threshold="v > 10 * mV",
            reset="v = 0 * mV",
            method="exact",
        )
        rule = DASSDPSynapses(
            inputs,
            readout,
            STEPS * DT * second,
            DASSDPParams(sigma=4.0, a_plus=0.015, a_base=0.005),
            warmup=20,
            loss=SpikeCountLoss(readout, labels),
            on_pre="I_post += w * 3 * mV",  # the readouts sum their input spikes' weights
            w0=rng.uniform(0.5, 1.5, size=(N_OUT, N_IN)),
        )
        spikes, potential = SpikeMonitor(readout), StateMonitor(readout, "v", record=True)
        Network(inputs, readout, *rule.objects, spikes, potential).run(rule.duration(N_WINDOWS))
        gate = rule.fitted_gate()
        return {
            "i": np.asarray(spikes.i[:]),
            "t": np.asarray(spikes.t_[:]),
            "v": np.asarray(potential.v_[:]),
            "w": rule.weight_matrix(),
            "gate": np.array([gate.k, gate.mu, gate.s]),
        }


@pytest.mark.slow  # two cpp_standalone builds, about 70 s: `make test-slow`
@pytest.mark.standalone
def test_two_threads_give_the_numbers_of_one_thread(tmp_path):
    """Spikes, membrane potentials, weights and the fitted gate are bit for bit those of one
    thread. Both builds use one directory: the second, for 2 threads, recompiles every object
    with OpenMP (the count is compiled in, not a run-time setting)."""
    from brian2 import prefs

    build = tmp_path / "build"
    one = _simulate(build, 1)
    serial = {path: path.stat().st_mtime_ns for path in build.rglob("*.o")}
    assert (
        "omp_set_num_threads" not in (build / "main.cpp").read_text()
        and "-fopenmp" not in (build / "makefile").read_text()
    )
    two = _simulate(build, 2)
    assert prefs.devices.cpp_standalone.openmp_threads == 0  # restored after the block
    assert "omp_set_num_threads(2);" in (build / "main.cpp").read_text()
    assert "-fopenmp" in (build / "makefile").read_text()
    assert len(one["i"]) > 100 and not np.allclose(one["w"], 1.0)  # the readouts fire, the weights move
    for key in one:
        np.testing.assert_array_equal(two[key], one[key], err_msg=key)
    # the same files (no renamed objects), every C++ one recompiled (C files never use OpenMP)
    sources = re.search(r"^SRCS = (.*)$", (build / "makefile").read_text(), re.M).group(1).split()
    objects = {source: build / (source.rsplit(".", 1)[0] + ".o") for source in sources}
    assert len(objects) > 20 and set(objects.values()) == set(serial)
    stale = [s for s, path in objects.items() if s.endswith(".cpp") and path.stat().st_mtime_ns <= max(serial.values())]
    assert not stale


@pytest.mark.parametrize(
    ("threads", "error"), [(0, ValueError), (-2, ValueError), (2.0, TypeError), (True, TypeError), ("2", TypeError)]
)
def test_threads_is_checked(tmp_path, threads, error):
    from dassdp.models.standalone import StandaloneNetwork
    from dassdp.models.targets import use_target

    with pytest.raises(error, match="threads"):
        with use_target("cpp_standalone", tmp_path, threads=threads):
            pass
    with pytest.raises(error, match="threads"):
        StandaloneNetwork("cpp_standalone", tmp_path, threads=threads)


def test_threads_set_and_restore_brians_preference(tmp_path):
    """cpp_standalone with more than one thread sets ``openmp_threads``; one thread, None and the
    other targets leave OpenMP off; the preference is restored afterwards."""
    from brian2 import prefs

    from dassdp.models.standalone import StandaloneNetwork
    from dassdp.models.targets import use_target

    seen = {}
    for name, threads in (("numpy", 4), ("cpp_standalone", None), ("cpp_standalone", 1), ("cpp_standalone", 3)):
        with use_target(name, tmp_path / "build", threads=threads):
            seen[name, threads] = prefs.devices.cpp_standalone.openmp_threads
    with StandaloneNetwork("cpp_standalone", tmp_path / "sim", threads=4):
        seen["sim", 4] = prefs.devices.cpp_standalone.openmp_threads
    with StandaloneNetwork("cpp_standalone", tmp_path / "sim"):
        seen["sim", None] = prefs.devices.cpp_standalone.openmp_threads
    assert seen == {
        ("numpy", 4): 0,
        ("cpp_standalone", None): 0,
        ("cpp_standalone", 1): 0,
        ("cpp_standalone", 3): 3,
        ("sim", 4): 4,
        ("sim", None): 0,
    }
    assert prefs.devices.cpp_standalone.openmp_threads == 0


def test_default_threads_share_the_usable_cores(monkeypatch):
    from dassdp.models import targets

    monkeypatch.setattr(targets.os, "sched_getaffinity", lambda pid: set(range(6)), raising=False)
    assert targets.usable_cores() == 6
    assert [targets.default_threads(n) for n in (1, 2, 4, 6, 12)] == [6, 3, 1, 1, 1]
    with pytest.raises(ValueError, match="concurrent"):
        targets.default_threads(0)
