"""One synchrony S and one latency computation per representation, and all of them agree.

The same random spike rasters go to the NumPy reference (`dassdp.rules.reference`, also what
`dassdp.analysis` exports), to the PyTorch functions (`dassdp.rules.torch`) and to the Brian2 rule
(`dassdp.rules.brian2.SSDPSynapses` between two groups that spike where a `TimedArray` pattern says so,
read through its ``monitor(("S",))`` and the groups' window variables). The NumPy functions are
checked against the definitions written out as loops.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dassdp.analysis import synchrony as analysis_synchrony
from dassdp.rules import reference as ref

DT = 1e-3

#: pre and post rasters ``[T, W, N]`` over the same T steps and W windows
raster_pairs = st.tuples(st.integers(1, 5), st.integers(1, 4), st.integers(1, 4), st.integers(1, 4)).flatmap(
    lambda s: st.tuples(arrays(bool, (s[0], s[1], s[2])), arrays(bool, (s[0], s[1], s[3])))
)
latency_modes = st.sampled_from(["first", "last"])


def loop_activity(raster, latency):
    """Fired flags and latencies by the definition: first (last) step with a spike, T if none."""
    n_steps, n_windows, n_neurons = raster.shape
    fired, lat = np.zeros((n_windows, n_neurons)), np.full((n_windows, n_neurons), float(n_steps))
    for w in range(n_windows):
        for n in range(n_neurons):
            steps = [t for t in range(n_steps) if raster[t, w, n]]
            if steps:
                fired[w, n], lat[w, n] = 1.0, steps[0] if latency == "first" else steps[-1]
    return fired, lat


def loop_synchrony(pre_fired, post_fired, mask):
    """S_w, the mean of ``f_wj f_wi`` over the synapses ``mask[j, i]``, by loops."""
    return np.array(
        [
            np.mean([post_fired[w, j] * pre_fired[w, i] for j, i in zip(*np.nonzero(mask))])
            for w in range(pre_fired.shape[0])
        ]
    )


def test_analysis_exports_the_reference_synchrony():
    assert analysis_synchrony.sample_synchrony is ref.sample_synchrony


@settings(max_examples=60, deadline=None)
@given(raster_pairs, latency_modes, st.data())
def test_numpy_and_torch_agree_with_the_definition(rasters, latency, data):
    torch = pytest.importorskip("torch")
    from dassdp.rules import torch as rt

    pre_raster, post_raster = rasters
    pre, post = ref.activity_from_raster(pre_raster, latency), ref.activity_from_raster(post_raster, latency)
    for activity, raster in ((pre, pre_raster), (post, post_raster)):
        fired, lat = loop_activity(raster, latency)
        np.testing.assert_array_equal(activity.fired, fired)
        np.testing.assert_array_equal(activity.latency, lat)
        # PyTorch: the whole raster at once, and chunk by chunk as the plug-in records it
        t_fired, t_lat = rt.activity_from_raster(torch.from_numpy(raster), latency)
        np.testing.assert_array_equal(t_fired.numpy(), fired)
        np.testing.assert_array_equal(t_lat.numpy(), lat)
        tracker = rt.RunningActivity(latency)
        cut = data.draw(st.integers(1, raster.shape[0]), label="chunk boundary")
        for chunk in (raster[:cut], raster[cut:]):
            if len(chunk):
                tracker.update(torch.from_numpy(chunk))
        for got, expected in zip(tracker.finish(), (fired, lat)):
            np.testing.assert_array_equal(got.numpy(), expected)
    everyone = np.ones((post.fired.shape[1], pre.fired.shape[1]), bool)
    s = ref.sample_synchrony(pre, post)
    np.testing.assert_allclose(s, loop_synchrony(pre.fired, post.fired, everyone), rtol=1e-12, atol=0)
    t_s = rt.sample_synchrony(torch.from_numpy(pre.fired), torch.from_numpy(post.fired))
    np.testing.assert_allclose(t_s.numpy(), s, rtol=1e-12, atol=0)
    mask = data.draw(arrays(bool, everyone.shape), label="mask (post, pre)")
    mask[0, 0] = True
    np.testing.assert_allclose(
        ref.sample_synchrony(pre, post, mask), loop_synchrony(pre.fired, post.fired, mask), rtol=1e-12, atol=0
    )


def run_brian2(pre_raster, post_raster, latency, mask):
    """Run `SSDP` between two groups replaying the rasters (window w = steps w T .. w T + T - 1) on
    the numpy target; return S of every window and the fired flags and latencies (seconds) of
    both groups at every window end."""
    from brian2 import Network, NeuronGroup, StateMonitor, TimedArray, defaultclock, second

    from dassdp.models.targets import use_target
    from dassdp.rules.brian2 import SSDPSynapses, neuron_variables
    from dassdp.rules.reference import DASSDPParams

    n_steps, n_windows = pre_raster.shape[:2]
    window = n_steps * DT * second
    with use_target("numpy"):
        defaultclock.dt = DT * second
        groups, monitors = {}, {}
        for role, raster in (("pre", pre_raster), ("post", post_raster)):
            # one row per step, then a silent row for the step past the last window
            rows = np.concatenate(
                [raster.transpose(1, 0, 2).reshape(n_windows * n_steps, -1), np.zeros((1, raster.shape[2]))]
            )
            pattern = TimedArray(rows.astype(float), dt=DT * second)
            groups[role] = NeuronGroup(
                raster.shape[2], neuron_variables(role), threshold="pattern(t, i) > 0.5", namespace={"pattern": pattern}
            )
            # at each window end, before the flags are cleared (as the rule reads them)
            monitors[role] = StateMonitor(
                groups[role], ["ssdp_fired", "ssdp_lat"], record=True, dt=window, when="synapses", order=-35
            )
        connect = None if mask is None else dict(zip(("j", "i"), np.nonzero(mask)))
        rule = SSDPSynapses(
            groups["pre"], groups["post"], window, DASSDPParams(gate="off", latency=latency), connect=connect
        )
        synchrony = rule.monitor(("S",))
        Network(*groups.values(), *monitors.values(), *rule.objects, synchrony).run(rule.duration(n_windows))
    # sample m holds window m - 1
    activity = {
        role: (np.asarray(m.ssdp_fired[:]).T[1:], np.asarray(m.ssdp_lat[:]).T[1:]) for role, m in monitors.items()
    }
    return np.asarray(synchrony.S[0])[1:], activity


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raster_pairs, latency_modes, st.booleans(), st.data())
def test_brian2_agrees_with_numpy(rasters, latency, sparse, data):
    pytest.importorskip("brian2")
    pre_raster, post_raster = rasters
    mask = None
    if sparse:
        mask = data.draw(arrays(bool, (post_raster.shape[2], pre_raster.shape[2])), label="mask (post, pre)")
        mask[0, 0] = True  # the Brian2 rule needs a synapse
    s, activity = run_brian2(pre_raster, post_raster, latency, mask)
    pre, post = ref.activity_from_raster(pre_raster, latency), ref.activity_from_raster(post_raster, latency)
    np.testing.assert_allclose(s, ref.sample_synchrony(pre, post, mask), rtol=1e-12, atol=0)
    for role, expected in (("pre", pre), ("post", post)):
        fired, lat = activity[role]
        np.testing.assert_array_equal(fired, expected.fired)
        # the rule reads T_win for a neuron that did not fire
        silent_is_window = np.where(fired > 0, lat, pre_raster.shape[0] * DT)
        np.testing.assert_allclose(silent_is_window, expected.latency * DT, rtol=0, atol=1e-12)
