"""Compile once, run many: parameter sets change through run_args, never through a rebuild."""

import numpy as np
import pytest

from dassdp.rules import reference as ref

DT, STEPS, N_WINDOWS, N_PRE, N_POST = 1e-3, 5, 10, 5, 4


def _pattern(rng, n):
    return (rng.random((N_WINDOWS * STEPS + 1, n)) < 0.3).astype(float)


def _expected(pre_pattern, post_pattern, loss, w0, a_plus, sigma_steps):
    acts = []
    for pattern, n in ((pre_pattern, N_PRE), (post_pattern, N_POST)):
        step, idx = np.nonzero(pattern[: N_WINDOWS * STEPS])
        acts.append(ref.activity_from_spike_times(idx, step * DT, n, STEPS * DT, N_WINDOWS, dt=DT))
    params = ref.DASSDPParams(sigma=sigma_steps * DT, a_plus=a_plus)
    return ref.simulate_dassdp(acts[0], acts[1], loss, w0, params, warmup=3).weights


@pytest.mark.standalone
def test_ten_parameter_sets_one_compilation(tmp_path):
    from brian2 import Network, NeuronGroup, TimedArray, defaultclock, second

    from dassdp.models.standalone import StandaloneNetwork
    from dassdp.rules.brian2 import DASSDPSynapses, ExternalLoss, neuron_variables

    rng = np.random.default_rng(7)
    sets = [
        dict(
            pre=_pattern(rng, N_PRE),
            post=_pattern(rng, N_POST),
            loss=rng.normal(size=N_WINDOWS),
            w0=rng.normal(size=(N_POST, N_PRE)),
            a_plus=float(rng.uniform(0.1, 1.0)),
            sigma_steps=float(rng.uniform(0.5, 3.0)),
        )
        for _ in range(10)
    ]
    with StandaloneNetwork("cpp_standalone", tmp_path / "build") as sim:
        defaultclock.dt = DT * second
        pre_ta = TimedArray(sets[0]["pre"], dt=DT * second)
        post_ta = TimedArray(sets[0]["post"], dt=DT * second)
        pre = NeuronGroup(
            N_PRE, neuron_variables("pre"), threshold="pre_pattern(t, i) > 0.5", namespace={"pre_pattern": pre_ta}
        )
        post = NeuronGroup(
            N_POST, neuron_variables("post"), threshold="post_pattern(t, i) > 0.5", namespace={"post_pattern": post_ta}
        )
        loss = ExternalLoss(sets[0]["loss"])
        rule = DASSDPSynapses(pre, post, STEPS * DT * second, warmup=3, loss=loss, w0=sets[0]["w0"])
        sim.build(Network(pre, post, *rule.objects), rule.duration(N_WINDOWS))
        binary = sim.binary.stat()

        def arg_set(s):
            return {
                pre_ta: s["pre"],
                post_ta: s["post"],
                loss.table: s["loss"],
                **rule.run_args(a_plus=s["a_plus"], w0=s["w0"], sigma=s["sigma_steps"]),
            }

        results = sim.run_many({f"set{k}": arg_set(s) for k, s in enumerate(sets)}, rule.weight_matrix)
        assert sim.binary.stat().st_mtime_ns == binary.st_mtime_ns  # never rebuilt
        parallel = sim.run_many({f"par{k}": arg_set(s) for k, s in enumerate(sets[:4])}, rule.weight_matrix, workers=2)

    for k, s in enumerate(sets):
        expected = _expected(s["pre"], s["post"], s["loss"], s["w0"], s["a_plus"], s["sigma_steps"])
        np.testing.assert_allclose(results[f"set{k}"], expected, rtol=1e-9)
    for k in range(4):
        np.testing.assert_array_equal(parallel[f"par{k}"], results[f"set{k}"])
    assert len({r.tobytes() for r in results.values()}) == 10  # the sets really differ


def test_run_args_are_validated(tmp_path):
    from brian2 import NeuronGroup, ms

    from dassdp.models.targets import use_target
    from dassdp.rules.brian2 import SSDPSynapses, neuron_variables

    with use_target("numpy"):
        pre = NeuronGroup(3, neuron_variables("pre"), threshold="False")
        post = NeuronGroup(2, neuron_variables("post"), threshold="False")
        rule = SSDPSynapses(pre, post, 5 * ms)
        with pytest.raises(ValueError, match="sigma"):
            rule.run_args(sigma=-1.0)
        with pytest.raises(ValueError, match="unknown"):
            rule.run_args(tau=1)
        with pytest.raises(ValueError, match="w0"):
            rule.run_args(w0=np.zeros((3, 2)))
        other_post = NeuronGroup(2, neuron_variables("post"), threshold="False")
        rule_matrix = SSDPSynapses(pre, other_post, 5 * ms, w0=np.ones((2, 3)))
        with pytest.raises(ValueError, match=r"shape \(2, 3\)"):
            rule_matrix.run_args(w0=np.zeros((3, 2)))


def test_scalar_w0_is_a_table_of_one_value():
    """A scalar w0 gives the weights of the equal matrix (against the reference), and changes
    through run_args as a one-value table; the weight recording reads the same weights."""
    from brian2 import Network, NeuronGroup, TimedArray, defaultclock, second

    from dassdp.models.targets import use_target
    from dassdp.rules.brian2 import DASSDPSynapses, ExternalLoss, neuron_variables

    rng = np.random.default_rng(3)
    pre_pattern, post_pattern, loss = _pattern(rng, N_PRE), _pattern(rng, N_POST), rng.normal(size=N_WINDOWS)
    with use_target("numpy"):
        defaultclock.dt = DT * second
        pre = NeuronGroup(
            N_PRE,
            neuron_variables("pre"),
            threshold="pre_pattern(t, i) > 0.5",
            namespace={"pre_pattern": TimedArray(pre_pattern, dt=DT * second)},
        )
        post = NeuronGroup(
            N_POST,
            neuron_variables("post"),
            threshold="post_pattern(t, i) > 0.5",
            namespace={"post_pattern": TimedArray(post_pattern, dt=DT * second)},
        )
        rule = DASSDPSynapses(
            pre, post, STEPS * DT * second, ref.DASSDPParams(a_plus=0.5), warmup=3, loss=ExternalLoss(loss), w0=0.7
        )
        assert rule.w0_table.values.size == 1
        np.testing.assert_array_equal(rule.run_args(w0=0.2)[rule.w0_table], [[0.2]])
        recorded = rule.monitor_weights(STEPS * DT * second)
        Network(pre, post, *rule.objects, *recorded.objects).run(rule.duration(N_WINDOWS))
        measured = rule.weight_matrix()
        # the recording sums the stored weights and the post shares like weights() does
        np.testing.assert_array_equal(recorded.w[:, 0], 0.7)
        np.testing.assert_array_equal(recorded.w[:, -1], rule.weights())
        np.testing.assert_array_equal(rule.weights(), rule.synapses.w[:])  # the subexpression, on numpy
    expected = _expected(pre_pattern, post_pattern, loss, np.full((N_POST, N_PRE), 0.7), 0.5, 1.0)
    np.testing.assert_allclose(measured, expected, rtol=1e-12)
    assert np.abs(expected - 0.7).max() > 1e-3  # the weights moved
