"""The PyTorch DA-SSDP update against the NumPy reference (dense formula)."""

import itertools

import numpy as np
import pytest
import torch

from dassdp.rules import reference as ref
from dassdp.rules import torch as rt


def _raster(rng, n_steps, n_batch, n_neurons, rate):
    return (rng.random((n_steps, n_batch, n_neurons)) < rate).astype(np.float64)


def _reference_dw(pre, post, g, sigma, a_plus, a_base, clip):
    e = ref.eligibility(pre, post, sigma, a_plus, a_base)
    return ref.weight_update(e, g, clip)


def _as_torch(activity):
    return torch.from_numpy(activity.fired), torch.from_numpy(activity.latency)


@pytest.mark.parametrize("latency", ["first", "last"])
@pytest.mark.parametrize("gate", ["continuous", "sign", "off"])
def test_update_matches_reference_on_rasters(latency, gate):
    rng = np.random.default_rng([len(latency), len(gate)])
    n_steps, n_batch, n_pre, n_post = 6, 9, 13, 7
    pre = ref.activity_from_raster(_raster(rng, n_steps, n_batch, n_pre, 0.15), latency)
    post = ref.activity_from_raster(_raster(rng, n_steps, n_batch, n_post, 0.2), latency)
    s_ref = ref.sample_synchrony(pre, post)
    loss = rng.random(n_batch)
    gate_ref = ref.fit_gate(s_ref, loss)
    g_ref = ref.gate_values(s_ref, gate_ref, gate)
    sigma, a_plus, a_base = 1.3, 2e-3, 7e-4
    expected = _reference_dw(pre, post, g_ref, sigma, a_plus, a_base, 1.0)

    pre_f, pre_t = _as_torch(pre)
    post_f, post_t = _as_torch(post)
    s = rt.sample_synchrony(pre_f, post_f)
    np.testing.assert_allclose(s.numpy(), s_ref, rtol=1e-12)
    g = rt.gate_values(s, gate_ref, gate)
    np.testing.assert_allclose(g.numpy(), g_ref, rtol=1e-10)
    kwargs = dict(sigma=sigma, a_plus=a_plus, a_base=a_base)
    exact = rt.dassdp_update(pre_f, post_f, pre_t, post_t, g, **kwargs, max_elements=50)
    binned = rt.dassdp_update(pre_f, post_f, pre_t, post_t, g, **kwargs, n_steps=n_steps)
    assert exact.dtype == binned.dtype == torch.float64
    scale = np.abs(expected).max()
    np.testing.assert_allclose(exact.numpy(), expected, rtol=1e-6, atol=1e-6 * scale)
    np.testing.assert_allclose(binned.numpy(), expected, rtol=1e-6, atol=1e-6 * scale)


def test_exact_path_real_latencies_and_inconsistent_flags():
    rng = np.random.default_rng(3)
    n_batch, n_pre, n_post = 5, 11, 4
    pre = ref.WindowActivity((rng.random((n_batch, n_pre)) < 0.5) * 1.0, rng.random((n_batch, n_pre)) * 4, 4.0)
    post = ref.WindowActivity((rng.random((n_batch, n_post)) < 0.5) * 1.0, rng.random((n_batch, n_post)) * 4, 4.0)
    g = rng.random(n_batch) * 2
    expected = _reference_dw(pre, post, g, 0.7, ref.A_PLUS, ref.A_BASE_PAPER, 1.0)
    (pre_f, pre_t), (post_f, post_t) = _as_torch(pre), _as_torch(post)
    got = rt.dassdp_update(
        pre_f, post_f, pre_t, post_t, torch.from_numpy(g), sigma=0.7, a_base=ref.A_BASE_PAPER, max_elements=7
    )
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6, atol=1e-12)


def test_binned_handles_fired_flags_independent_of_latency():
    """Integer latencies with fired flags that do not follow ``t < T`` (e.g. hand-made data)."""
    rng = np.random.default_rng(4)
    n_batch, n_pre, n_post, n_steps = 6, 5, 3, 3
    pre = ref.WindowActivity(
        (rng.random((n_batch, n_pre)) < 0.5) * 1.0, rng.integers(0, n_steps + 1, (n_batch, n_pre)) * 1.0, n_steps
    )
    post = ref.WindowActivity(
        (rng.random((n_batch, n_post)) < 0.5) * 1.0, rng.integers(0, n_steps + 1, (n_batch, n_post)) * 1.0, n_steps
    )
    g = rng.random(n_batch)
    expected = _reference_dw(pre, post, g, 1.0, ref.A_PLUS, ref.A_BASE, 1.0)
    (pre_f, pre_t), (post_f, post_t) = _as_torch(pre), _as_torch(post)
    got = rt.dassdp_update(pre_f, post_f, pre_t, post_t, torch.from_numpy(g), n_steps=n_steps)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6, atol=1e-15)


def _activity(rng, kind, n_steps, n_batch, n_neurons, latency):
    """``(fired, latency)`` arrays of one side: from a raster, all silent, all fired, or fired flags
    independent of the (integer) latencies."""
    if kind == "raster":
        act = ref.activity_from_raster(_raster(rng, n_steps, n_batch, n_neurons, 0.3), latency)
        return act.fired, act.latency
    if kind == "silent":
        return np.zeros((n_batch, n_neurons)), np.full((n_batch, n_neurons), float(n_steps))
    if kind == "fired":
        return np.ones((n_batch, n_neurons)), rng.integers(0, n_steps, (n_batch, n_neurons)) * 1.0
    return (rng.random((n_batch, n_neurons)) < 0.5) * 1.0, rng.integers(0, n_steps + 1, (n_batch, n_neurons)) * 1.0


def _use_path(monkeypatch, path) -> str:
    """The backend of `binned_update` for ``path``: the numba kernel (``kernel``) or the tensor
    backend with its one-hot (``dense``) or sparse product forced by the size threshold."""
    monkeypatch.setattr(rt, "DENSE_PRODUCT_MAX", 0 if path == "sparse" else 1 << 40)
    return "numba" if path == "kernel" else "tensor"


@pytest.mark.parametrize("path", ["kernel", "dense", "sparse"])
@pytest.mark.parametrize("n_pre, n_post", [(13, 7), (6, 11)])
@pytest.mark.parametrize(
    "pre_kind, post_kind",
    [
        ("raster", "raster"),
        ("raster", "silent"),
        ("fired", "fired"),
        ("silent", "raster"),
        ("independent", "independent"),
    ],
)
@pytest.mark.parametrize("latency", ["first", "last"])
def test_binned_update_matches_dense_formula(monkeypatch, path, n_pre, n_post, pre_kind, post_kind, latency):
    """The compiled CPU kernel and both tensor products of the binned path, with post
    (n_post < n_pre) or pre as the sparse side, against the reference's dense ``B x Cout x Cin``
    formula, for gates of either sign."""
    backend = _use_path(monkeypatch, path)
    rng = np.random.default_rng([n_pre, len(pre_kind), len(post_kind), len(latency)])
    n_steps, n_batch = 5, 9
    pre = ref.WindowActivity(*_activity(rng, pre_kind, n_steps, n_batch, n_pre, latency), n_steps)
    post = ref.WindowActivity(*_activity(rng, post_kind, n_steps, n_batch, n_post, latency), n_steps)
    g = rng.uniform(-1.0, 2.0, n_batch)
    expected = _reference_dw(pre, post, g, 1.2, ref.A_PLUS, ref.A_BASE, 1.0)
    (pre_f, pre_t), (post_f, post_t) = _as_torch(pre), _as_torch(post)
    got = rt.dassdp_update(
        pre_f, post_f, pre_t, post_t, torch.from_numpy(g), sigma=1.2, n_steps=n_steps, backend=backend
    )
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())


def test_hand_computed_single_synapse():
    """One sample, pre at step 0, post at step 1 (both fired): e = A_plus exp(-1/2); one silent pre
    (latency T = 2) against the same post: e = -A_base exp(-1/2)."""
    pre_f = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    pre_t = torch.tensor([[0.0, 2.0]], dtype=torch.float64)
    post_f = torch.tensor([[1.0]], dtype=torch.float64)
    post_t = torch.tensor([[1.0]], dtype=torch.float64)
    g = torch.tensor([2.0], dtype=torch.float64)
    want = 2.0 * np.exp(-0.5) * np.array([[ref.A_PLUS, -ref.A_BASE]])
    for n_steps in (None, 2):
        got = rt.dassdp_update(pre_f, post_f, pre_t, post_t, g, n_steps=n_steps)
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-14)


def test_clip_bounds_each_element():
    pre_f = torch.ones(1, 1)
    g = torch.ones(1)
    got = rt.dassdp_update(pre_f, pre_f, torch.zeros(1, 1), torch.zeros(1, 1), g, a_plus=5.0, clip=0.25)
    assert got.item() == 0.25


@pytest.mark.parametrize("path", ["kernel", "dense", "sparse"])
def test_float32_fast_path_close_to_float64(monkeypatch, path):
    backend = _use_path(monkeypatch, path)
    gen = torch.Generator().manual_seed(0)
    spikes_pre = (torch.rand(4, 32, 50, generator=gen) < 0.2).float()
    spikes_post = (torch.rand(4, 32, 20, generator=gen) < 0.2).float()
    pre = rt.activity_from_raster(spikes_pre)
    post = rt.activity_from_raster(spikes_post)
    g = torch.rand(32, generator=gen) * 2
    lo = rt.dassdp_update(pre[0], post[0], pre[1], post[1], g, n_steps=4, backend=backend)
    hi = rt.dassdp_update(pre[0].double(), post[0].double(), pre[1].double(), post[1].double(), g.double())
    assert lo.dtype == torch.float32
    torch.testing.assert_close(lo.double(), hi, rtol=1e-5, atol=1e-9)


def test_torch_activity_matches_reference():
    rng = np.random.default_rng(5)
    raster = _raster(rng, 7, 4, 9, 0.2)
    for mode in ("first", "last"):
        expected = ref.activity_from_raster(raster, mode)
        fired, lat = rt.activity_from_raster(torch.from_numpy(raster), mode)
        np.testing.assert_array_equal(fired.numpy(), expected.fired)
        np.testing.assert_array_equal(lat.numpy(), expected.latency)
        # the same window fed step by step, and in chunks of 3, 1 and 3 steps of bool spikes
        for bounds in (range(raster.shape[0] + 1), (0, 3, 4, 7)):
            tracker = rt.RunningActivity(mode)
            for t0, t1 in itertools.pairwise(bounds):
                tracker.update(torch.from_numpy(raster[t0:t1] > 0))
            fired, lat = tracker.finish()
            np.testing.assert_array_equal(fired.numpy(), expected.fired)
            np.testing.assert_array_equal(lat.numpy(), expected.latency)


def test_activity_over_positions_is_that_of_any_position():
    """With ``positions``, a neuron (a channel of 3 x 2 pixels) fires at a step if any of its
    positions does: the reference's activity of the raster reduced over positions."""
    rng = np.random.default_rng(6)
    raster = (rng.random((5, 4, 3, 3, 2)) < 0.05).astype(np.float32)
    for mode in ("first", "last"):
        expected = ref.activity_from_raster(raster.max(axis=(3, 4)), mode)
        tracker = rt.RunningActivity(mode)
        tracker.update(torch.from_numpy(raster[:2]), positions=2)
        tracker.update(torch.from_numpy(raster[2:]), positions=2)
        fired, lat = tracker.finish()
        np.testing.assert_array_equal(fired.numpy(), expected.fired)
        np.testing.assert_array_equal(lat.numpy(), expected.latency)


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(g=torch.ones(3)), "g must have shape"),
        (dict(pre_latency=torch.zeros(2, 4)), "pre_fired .* and pre_latency"),
        (dict(post_fired=torch.zeros(2, 3, 1)), "post_fired must have shape"),
        (dict(n_steps=1, pre_latency=torch.full((2, 5), 0.5)), "pre_latency must hold integer steps"),
        (dict(sigma=0.0), "sigma"),
    ],
)
def test_bad_inputs_name_the_parameter(bad, match):
    args = dict(
        pre_fired=torch.ones(2, 5),
        post_fired=torch.ones(2, 3),
        pre_latency=torch.zeros(2, 5),
        post_latency=torch.zeros(2, 3),
        g=torch.ones(2),
    )
    args.update(bad)
    with pytest.raises(ValueError, match=match):
        rt.dassdp_update(**args)


@pytest.mark.parametrize(
    "backend, device, n_steps, match",
    [
        ("numba", "meta", 2, "backend 'numba' runs on CPU tensors only, got tensors on meta"),
        ("numba", "cpu", None, "backend 'numba' computes the binned update only: give n_steps"),
        ("cuda", "cpu", 2, "backend must be one of"),
    ],
)
def test_bad_backend_is_named(backend, device, n_steps, match):
    """``numba`` off the CPU (meta tensors stand in for CUDA ones: the check precedes any
    arithmetic), ``numba`` without bins and an unknown backend raise, naming ``backend``."""
    fired, latency = torch.ones(2, 5, device=device), torch.zeros(2, 5, device=device)
    with pytest.raises(ValueError, match=match):
        rt.dassdp_update(
            fired, fired[:, :3], latency, latency[:, :3], torch.ones(2, device=device), n_steps=n_steps, backend=backend
        )


def test_auto_backend_is_numba_on_the_cpu_only():
    assert rt.resolve_backend("auto", torch.device("cpu")) == "numba"
    assert rt.resolve_backend("auto", torch.device("cuda")) == "tensor"
    assert rt.resolve_backend("tensor", torch.device("cpu")) == "tensor"
    with pytest.raises(ValueError, match="backend 'numba' runs on CPU tensors only"):
        rt.resolve_backend("numba", torch.device("cuda"))


def test_graded_spikes_are_rejected():
    with pytest.raises(ValueError, match="spikes must be 0/1"):
        rt.activity_from_raster(torch.full((3, 2, 4), 0.5))


def test_unknown_gate_mode_is_rejected():
    with pytest.raises(ValueError, match="gate must be one of"):
        rt.gate_values(torch.ones(3), None, "bogus")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    gen = torch.Generator().manual_seed(1)
    pre = rt.activity_from_raster((torch.rand(4, 16, 30, generator=gen) < 0.3).double())
    post = rt.activity_from_raster((torch.rand(4, 16, 10, generator=gen) < 0.3).double())
    g = torch.rand(16, generator=gen, dtype=torch.float64)
    cpu = rt.dassdp_update(pre[0], post[0], pre[1].double(), post[1].double(), g, n_steps=4)
    dev = [t.cuda() for t in (pre[0], post[0], pre[1].double(), post[1].double(), g)]
    for n_steps in (4, None):
        torch.testing.assert_close(rt.dassdp_update(*dev, n_steps=n_steps).cpu(), cpu, rtol=1e-6, atol=1e-12)
    with pytest.raises(ValueError, match="backend 'numba' runs on CPU tensors only"):
        rt.dassdp_update(*dev, n_steps=4, backend="numba")
