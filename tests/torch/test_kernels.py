"""The compiled CPU kernels of the binned update (`dassdp.rules.kernels`, the ``numba`` backend)
against the tensor operations (the ``tensor`` backend), and their fused decoding of latencies,
``S_b`` and ``g_b`` against the one torch function of each."""

import numpy as np
import pytest
import torch

from dassdp.rules import kernels
from dassdp.rules import torch as rt
from dassdp.rules.reference import A_BASE, A_PLUS, Gate


def _random_bins(rng, n_batch, n, n_steps, fired_rate):
    """Bins ``2 t + f`` of a side where a fraction ``fired_rate`` spiked (the rest silent, bin 2T),
    plus a few entries in every other bin, so that every bin and both flags occur."""
    fired = rng.random((n_batch, n)) < fired_rate
    bins = np.where(fired, 2 * rng.integers(0, n_steps, (n_batch, n)) + 1, 2 * n_steps)
    bins.flat[: 2 * (n_steps + 1)] = np.arange(2 * (n_steps + 1))
    return bins.astype(np.int32)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("transposed", [False, True])
def test_bag_sum_matches_one_hot_product(dtype, transposed):
    """Each bag side (pre bags write the transposed result) equals the tensor path's dense
    one-hot product ``sum_b g_b table[bag_bj, other_bi]``."""
    rng = np.random.default_rng([int(transposed), dtype.itemsize])
    n_batch, n_bag, n_other, n_steps = 9, 37, 21, 4
    bag = _random_bins(rng, n_batch, n_bag, n_steps, 0.3)
    other = _random_bins(rng, n_batch, n_other, n_steps, 0.6)
    g = torch.from_numpy(rng.uniform(-1.0, 2.0, n_batch)).to(dtype)
    table = rt._eligibility_table(n_steps, 0.8, A_PLUS, A_BASE, dtype, torch.device("cpu"))
    expected = rt._dense_sum(torch.from_numpy(bag).long(), torch.from_numpy(other).long(), g, table)
    n_bins = table.shape[0]
    seen = np.ones(n_bins, dtype=bool)  # every bin occurs (_random_bins)
    work = table.numpy().dtype
    rows_shape, by_bag_shape, acc_shape = kernels.scratch_shapes(bag, seen, other)
    assert rows_shape == (n_batch * (n_bins - 1), n_other)
    out = np.empty((n_other, n_bag) if transposed else (n_bag, n_other), work)
    kernels.bag_sum_into(
        bag,
        seen,
        other,
        g.numpy(),
        table.numpy(),
        np.empty(rows_shape, work),
        np.empty(by_bag_shape, np.int32),
        np.empty(acc_shape, work),
        out,
        transposed,
    )
    got = out.T if transposed else out
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    np.testing.assert_allclose(got, expected.numpy(), rtol=tol, atol=tol * float(expected.abs().max()))


@pytest.mark.parametrize("n_steps", [5, 40])
@pytest.mark.parametrize("pre_rate, post_rate", [(0.05, 0.9), (0.9, 0.05), (0.0, 0.0)])
def test_kernel_equals_tensor_path_whichever_side_it_bags(pre_rate, post_rate, n_steps):
    """Sparse pre with dense post makes the pre side the bags, the reverse the post side; both,
    and all-silent input, give the tensor path's result, with up to 64 bins and more."""
    rng = np.random.default_rng([int(100 * pre_rate), n_steps])
    n_batch, n_pre, n_post = 16, 300, 40

    def side(n, rate):
        fired = rng.random((n_batch, n)) < rate
        latency = np.where(fired, rng.integers(0, n_steps, (n_batch, n)), n_steps)
        return torch.from_numpy(fired * 1.0), torch.from_numpy(latency * 1.0)

    (pre_f, pre_t), (post_f, post_t) = side(n_pre, pre_rate), side(n_post, post_rate)
    g = torch.from_numpy(rng.uniform(0.0, 2.0, n_batch))
    args = (pre_f, post_f, pre_t, post_t, g, n_steps)
    got = rt.binned_update(*args, backend="numba")
    expected = rt.binned_update(*args, backend="tensor")
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("fired, latency", [(1.0, 9.0), (0.0, -1.0), (1.0, 4.5)])
def test_kernel_rejects_bins_outside_the_table(fired, latency):
    """Unchecked input (``check_latencies=False``) that falls outside the table fails cleanly
    instead of reading past it."""
    pre_f, pre_t = torch.zeros(2, 3), torch.full((2, 3), 4.0)
    pre_f[1, 2], pre_t[1, 2] = fired, latency
    post_f, post_t = torch.ones(2, 5), torch.zeros(2, 5)
    with pytest.raises(ValueError, match="latencies integer steps"):
        rt.binned_update(pre_f, post_f, pre_t, post_t, torch.ones(2), 4, check_latencies=False, backend="numba")


def test_kernel_takes_other_float_dtypes():
    """bfloat16 flags and latencies (e.g. from autocast) are converted, as the tensor path does."""
    gen = torch.Generator().manual_seed(2)
    fired = (torch.rand(6, 12, generator=gen) < 0.4).double()
    latency = torch.where(fired > 0, torch.randint(0, 3, (6, 12), generator=gen).double(), 3.0)
    g = torch.rand(6, generator=gen).double()
    expected = rt.binned_update(fired, fired[:, :5], latency, latency[:, :5], g, 3, backend="tensor")
    got = rt.binned_update(
        *(x.bfloat16() for x in (fired, fired[:, :5], latency, latency[:, :5])), g.float(), 3, backend="numba"
    )
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), expected, rtol=1e-6, atol=1e-9)


def _trackers(gen, mode, n_steps, n_batch, n_neurons, rate, positions=()):
    """A `RunningActivity` fed ``n_steps`` random steps of spikes ``[B, N, *positions]``."""
    tracker = rt.RunningActivity(mode)
    for _ in range(n_steps):
        tracker.update((torch.rand(1, n_batch, n_neurons, *positions, generator=gen) < rate).float(), len(positions))
    return tracker


@pytest.mark.parametrize("mode", ["first", "last"])
@pytest.mark.parametrize("n_steps", [1, 5, 40])
def test_score_bins_decode_the_score_as_finish(mode, n_steps):
    """The kernels' fused decoding of a `RunningActivity` score (`kernels.score_bins`) gives the bins
    ``2 t + fired`` of the flags and latencies of its `finish`, each sample's count of fired
    neurons, the bins that occur and the count outside the silent bin ``2 T`` (with up to 64 bins
    and more)."""
    gen = torch.Generator().manual_seed(n_steps)
    n_batch, n = 7, 50
    tracker = _trackers(gen, mode, n_steps, n_batch, n, 0.05)
    fired, latency = tracker.finish()
    expected = (2 * latency + fired).int().numpy()
    assert 0 < fired.mean() < 1
    bins, seen, counts = np.empty((n_batch, n), np.int32), np.zeros(2 * (n_steps + 1), bool), np.empty(n_batch)
    outside = kernels.score_bins(tracker.score.numpy(), mode == "first", rt.RunningActivity.FIRST, bins, seen, counts)
    np.testing.assert_array_equal(bins, expected)
    np.testing.assert_array_equal(counts, fired.sum(1).numpy())
    np.testing.assert_array_equal(seen, np.isin(np.arange(len(seen)), expected))
    assert outside == int((expected != 2 * n_steps).sum())


@pytest.mark.parametrize("gate", ["continuous", "sign", "off"])
@pytest.mark.parametrize("mode", ["first", "last"])
@pytest.mark.parametrize(
    "taps, dtype, pre_rate, post_rate",
    [(1, torch.float32, 0.05, 0.4), (9, torch.float32, 0.3, 0.02), (1, torch.float64, 0.2, 0.2)],
)
def test_kernel_window_equals_the_tensor_operations(gate, mode, taps, dtype, pre_rate, post_rate):
    """`rt.kernel_window` (one compiled call) gives `sample_synchrony` of the trackers' `finish` and
    `gate_values`, adds `dassdp_update` of the tensor backend (in float32) to every tap of the
    weight, whichever side it bags, and bumps the weight's autograd version; during warm-up it
    changes nothing and returns no gate."""
    gen = torch.Generator().manual_seed(taps + int(100 * pre_rate))
    n_batch, n_pre, n_post, n_steps = 24, 70, 30, 5
    pre = _trackers(gen, mode, n_steps, n_batch, n_pre, pre_rate)
    post = _trackers(gen, mode, n_steps, n_batch, n_post, post_rate)
    (pre_f, pre_t), (post_f, post_t) = pre.finish(), post.finish()
    synchrony = rt.sample_synchrony(pre_f, post_f)
    fitted = Gate(k=-0.6, mu=float(synchrony.mean()), s=float(synchrony.std()) + 1e-3)
    g = rt.gate_values(synchrony, fitted, gate)
    update = rt.dassdp_update(
        pre_f, post_f, pre_t, post_t, g.float(), 0.8, 0.02, 0.01, n_steps=n_steps, backend="tensor"
    )
    clip = 0.8 * float(update.abs().max())  # so that the largest entries are clipped
    dw = rt.dassdp_update(
        pre_f, post_f, pre_t, post_t, g.float(), 0.8, 0.02, 0.01, clip, n_steps=n_steps, backend="tensor"
    )
    assert 0 < float((dw.abs() == clip).float().mean()) < 0.5
    weight = torch.nn.Parameter(torch.randn(n_post, n_pre, taps, generator=gen, dtype=dtype) * 1e-3)
    expected = weight.detach() + dw.to(dtype).unsqueeze(2)

    before, version = weight.detach().clone(), weight._version
    got, no_gate = rt.kernel_window(pre, post, weight, None)
    torch.testing.assert_close(got, synchrony, rtol=1e-15, atol=0)
    assert no_gate is None and torch.equal(weight.detach(), before) and weight._version == version

    got, got_g = rt.kernel_window(pre, post, weight, rt.gate_line(fitted, gate), 0.8, 0.02, 0.01, clip)
    torch.testing.assert_close(got, synchrony, rtol=1e-15, atol=0)
    torch.testing.assert_close(got_g, g, rtol=1e-15, atol=0)
    assert weight._version > version
    torch.testing.assert_close(weight.detach(), expected, rtol=0, atol=1e-6 * float(dw.abs().max()))


def test_gate_values_off_and_sign_are_constants_even_without_synchrony():
    """The constant gates do not depend on ``S`` (reports read them before the first window, S = NaN)."""
    nan = torch.tensor([float("nan")], dtype=torch.float64)
    assert float(rt.gate_values(nan, None, "off")[0]) == 1.0
    assert float(rt.gate_values(nan, Gate(k=-0.3, mu=0.1, s=0.2), "sign")[0]) == -1.0
