"""Compiled CPU kernels (numba) of the binned DA-SSDP update, the PyTorch plug-in's hot path.

`side_bins` and `bag_sum_into` compute what `dassdp.rules.torch.binned_update` computes,
``sum_b g_b E[q_bj, p_bi]`` over the bins ``q = 2 t + fired`` of post and ``p`` of pre neurons,
with the eligibility table ``E`` of that module (its docstring counts the cost). One side is taken as the
*bag* side, its silent bin ``r = 2 T`` as the reference, and ``D[q, .] = E[q, .] - E[r, .]``,
which vanishes on ``r``::

    sum_b g_b E[q_bo, p_bn] = sum_b g_b E[r, p_bn]  +  sum_{b: q_bo != r} g_b D[q_bo, p_bn]

The first term is one vector over ``n``; the second adds, for every neuron ``o`` of the bag side
that spiked in sample ``b``, the row ``g_b D[q_bo, p_b.]``, precomputed per sample and bin. The
cost is one row of the other side per spiking (sample, neuron) pair, so the bag side should be the
one where that is cheaper: for a wide layer with sparse input, the pre side, which the tensor path
avoids because preparing its indices costs more than it saves.

`dassdp.rules.torch.binned_update` calls the two kernels (its ``"numba"`` backend), on NumPy
views of contiguous CPU tensors it allocates (scratch included), in one thread, in the dtype of
``table`` (float32 or float64), and bags the side that `bags_pre` picks.

The PyTorch plug-in closes each window with one call, `window_update` (through
`dassdp.rules.torch.kernel_window`): the bins straight from the `dassdp.rules.torch.RunningActivity`
scores (`score_bins`), ``S_b``, the gate, the sum and the clipped update added into the weight
(`add_window_update`). After a training step has evicted the caches, every distinct tensor
operation costs some 10-20 us before it does any work, so one call instead of some twenty is what
makes the plug-in cheap there. That fusion is why this module decodes latencies and computes
``S_b`` and ``g_b`` itself rather than calling `dassdp.rules.torch.RunningActivity.finish`,
`dassdp.rules.torch.sample_synchrony` and `dassdp.rules.torch.gate_values`, the one torch
function of each; ``tests/torch/test_kernels.py`` checks it against those three.

The kernels check only that every bin lies in the table (`_tally`); numba does not check bounds,
so the shapes, dtypes and numbers they are given (``clip``, the gate's ``line``, the scores of one
window) are checked by their callers in `dassdp.rules.torch` (`dassdp.rules.torch.kernel_window`,
`dassdp.rules.torch.binned_update`) before the call, not per element here.
"""

from __future__ import annotations

import numba
import numpy as np

#: Bag neurons accumulated together in `bag_sum_into` (a tile of its ``acc`` scratch array).
TILE = 16


@numba.njit(cache=True, nogil=True)
def side_bins(fired, latency, out, seen):
    """``out[b, n] = 2 latency + fired`` (integer steps and 0/1 flags) into an int32 array, marking
    in ``seen`` the bins that occur; returns how many entries lie outside the silent bin
    ``2 T = len(seen) - 2``. Entries outside the table raise."""
    n_batch, n = fired.shape
    for b in range(n_batch):
        for k in range(n):
            out[b, k] = np.int32(2.0 * latency[b, k] + fired[b, k])
    return _tally(out, seen)


@numba.njit(cache=True, nogil=True)
def score_bins(score, first, top, out, seen, fired_count):
    """`side_bins` of a `dassdp.rules.torch.RunningActivity` score ``[B, N]`` after ``T = len(seen) // 2 - 1``
    steps, decoded as its ``finish`` does (the fused copy of it, tested against it): silent where 0,
    else the spike step ``top - score`` (``first``) or ``score - 1``. Also counts each sample's
    fired neurons into ``fired_count``."""
    n_steps = np.float32(seen.shape[0] // 2 - 1)
    slope, offset = (np.float32(-1.0), np.float32(top)) if first else (np.float32(1.0), np.float32(-1.0))
    n_batch, n = score.shape
    for b in range(n_batch):
        count = 0
        for k in range(n):  # branchless, so that it vectorises
            s = score[b, k]
            fired = s > 0
            step = slope * s + offset if fired else n_steps
            out[b, k] = np.int32(np.float32(2.0) * step) + np.int32(fired)
            count += np.int32(fired)
        fired_count[b] = count
    return _tally(out, seen)


@numba.njit(cache=True, nogil=True)
def _tally(bins, seen):
    """Mark in ``seen`` the bins that occur in ``bins[B, N]`` and return how many entries lie outside
    the silent bin ``len(seen) - 2``; entries outside the table raise."""
    n_bins = seen.shape[0]
    ref = np.int32(n_bins - 2)
    n_batch, n = bins.shape
    outside = lowest = highest = 0
    occupied = np.uint64(0)  # bit q set if bin q occurs (up to 64 bins)
    for b in range(n_batch):
        row_outside, row_lowest, row_highest, row_occupied = 0, np.int32(0), np.int32(0), np.uint64(0)
        for k in range(n):  # vectorisable reductions over a row
            q = bins[b, k]
            row_lowest, row_highest = min(row_lowest, q), max(row_highest, q)
            row_outside += np.int32(q != ref)
            row_occupied |= np.uint64(1) << np.uint64(q & 63)
        outside += row_outside
        lowest, highest, occupied = min(lowest, row_lowest), max(highest, row_highest), occupied | row_occupied
    if lowest < 0 or highest >= n_bins:
        raise ValueError("fired flags must be 0/1 and latencies integer steps in [0, n_steps]")
    if n_bins <= 64:
        for q in range(n_bins):
            seen[q] = (occupied >> np.uint64(q)) & np.uint64(1)
    else:
        for b in range(n_batch):
            for k in range(n):
                seen[bins[b, k]] = True
    return outside


@numba.njit(cache=True, nogil=True)
def n_slots(seen):
    """Bins that occur other than the silent one, ``2 T = len(seen) - 2``."""
    return seen.sum() - seen[-2]


@numba.njit(cache=True, nogil=True)
def bags_pre(pre_bins, pre_seen, pre_outside, post_bins, post_seen, post_outside):
    """Whether the pre side should be `bag_sum_into`'s bag side: the one whose sum takes fewer
    multiply-adds, a row of the other side per entry outside the silent bin and per (sample, bin)
    that occurs."""
    n_batch, n_pre = pre_bins.shape
    n_post = post_bins.shape[1]
    pre_cost = (pre_outside + n_batch * n_slots(pre_seen)) * n_post
    return pre_cost < (post_outside + n_batch * n_slots(post_seen)) * n_pre


@numba.njit(cache=True, nogil=True)
def scratch_shapes(bag_bins, seen, other_bins):
    """Shapes of `bag_sum_into`'s scratch arrays ``rows``, ``by_bag`` and ``acc``."""
    n_batch, n_bag = bag_bins.shape
    n_other = other_bins.shape[1]
    return (n_batch * max(n_slots(seen), 1), n_other), (n_bag, n_batch), (TILE + 1, n_other)


@numba.njit(cache=True, nogil=True, fastmath=True)
def bag_sum_into(bag_bins, seen, other_bins, g, table, rows, by_bag, acc, out, transposed):
    """``out[o, n]`` (``out[n, o]`` if ``transposed``) ``= sum_b g_b table[bag_bins[b, o],
    other_bins[b, n]]``, by the split at the silent bin of the module docstring.

    Scratch arrays come from the caller, so that its memory accounting sees them: ``rows``
    ``[B * S, N]`` with ``S`` the bag side's bins in ``seen`` other than the silent one,
    ``by_bag`` ``[O, B]`` (int32) and ``acc`` ``[TILE + 1, N]`` (a tile of bag neurons and the
    shared first term).
    """
    n_batch, n_bag = bag_bins.shape
    n_other = other_bins.shape[1]
    n_bins = table.shape[0]
    ref = n_bins - 2
    slot = np.full(n_bins, -1, np.int64)
    n_slots = 0
    for q in range(n_bins):
        if seen[q] and q != ref:
            slot[q] = n_slots
            n_slots += 1
    tile = acc.shape[0] - 1  # TILE bag neurons accumulated together, written as one tile
    base = acc[tile]  # sum_b g_b E[r, p_b.]
    base[:] = 0
    for b in range(n_batch):
        gb = g[b]
        for n in range(n_other):
            base[n] += gb * table[ref, other_bins[b, n]]
        for q in range(n_bins):
            s = slot[q]
            if s >= 0:  # g_b D[q, p_b.] at row b * n_slots + slot[q]
                for n in range(n_other):
                    p = other_bins[b, n]
                    rows[b * n_slots + s, n] = gb * (table[q, p] - table[ref, p])
    for b in range(n_batch):
        for o in range(n_bag):
            by_bag[o, b] = bag_bins[b, o]
    picked = np.empty(n_batch, np.int64)
    for o0 in range(0, n_bag, tile):
        o1 = min(o0 + tile, n_bag)
        for o in range(o0, o1):
            m = 0
            for b in range(n_batch):  # the rows to add, without a branch per sample
                s = slot[by_bag[o, b]]
                picked[m] = b * n_slots + s
                m += s >= 0
            a = acc[o - o0]
            a[:] = base
            k = 0
            while k + 4 <= m:  # four rows per pass over the accumulator
                r0, r1, r2, r3 = picked[k], picked[k + 1], picked[k + 2], picked[k + 3]
                for n in range(n_other):
                    a[n] += (rows[r0, n] + rows[r1, n]) + (rows[r2, n] + rows[r3, n])
                k += 4
            for r in picked[k:m]:  # the rest, one row at a time
                for n in range(n_other):
                    a[n] += rows[r, n]
        if transposed:  # a tile's consecutive columns in each row of out
            for n in range(n_other):
                for o in range(o0, o1):
                    out[n, o] = acc[o - o0, n]
        else:
            for o in range(o0, o1):
                for n in range(n_other):
                    out[o, n] = acc[o - o0, n]


@numba.njit(cache=True, nogil=True)
def window_update(pre_score, post_score, first, top, line, table, clip, weight, apply, synchrony, gate):
    """Close a window of `dassdp.rules.torch.RunningActivity` scores ``pre_score[B, Cin]`` and
    ``post_score[B, Cout]`` (decoded by `score_bins` with ``first`` and ``top``; ``T = len(table) // 2 - 1``):
    ``synchrony[b] = S_b = mean_j fired_bj * mean_i fired_bi`` (as `dassdp.rules.torch.sample_synchrony`),
    then if ``apply``, ``gate[b] = g_b = clip(1 + slope (S_b - mu), lo, hi)`` with ``line = (slope,
    mu, lo, hi)`` of `dassdp.rules.torch.gate_line` (as `dassdp.rules.torch.gate_values`, in
    float64), and `add_window_update` of ``g_b / B`` (in the dtype of ``table``) to
    ``weight[Cout, Cin, taps]``."""
    n_batch, n_pre = pre_score.shape
    n_post = post_score.shape[1]
    sides = []
    counts = np.empty((2, n_batch))
    for k, score in enumerate((pre_score, post_score)):
        bins, seen = np.empty(score.shape, np.int32), np.zeros(table.shape[0], np.bool_)
        sides.append((bins, seen, score_bins(score, first, top, bins, seen, counts[k])))
    for b in range(n_batch):
        synchrony[b] = (counts[1, b] / n_post) * (counts[0, b] / n_pre)
    if not apply:
        return
    slope, mu, lo, hi = line
    g = np.empty(n_batch, table.dtype)
    for b in range(n_batch):
        gate[b] = lo if lo == hi else min(max(1.0 + slope * (synchrony[b] - mu), lo), hi)
        g[b] = table.dtype.type(gate[b]) / table.dtype.type(n_batch)
    (pre_bins, pre_seen, pre_outside), (post_bins, post_seen, post_outside) = sides
    add_window_update(pre_bins, pre_seen, pre_outside, post_bins, post_seen, post_outside, g, table, clip, weight)


@numba.njit(cache=True, nogil=True)
def add_window_update(pre_bins, pre_seen, pre_outside, post_bins, post_seen, post_outside, g, table, clip, weight):
    """``weight[j, i, :] += clip(sum_b g_b table[post_bins[b, j], pre_bins[b, i]], -clip, clip)``:
    the plug-in's update added in place to a weight ``[Cout, Cin, taps]`` (each tap of a
    convolution's kernel gets its channel pair's update), by `bag_sum_into` on the side that
    `bags_pre` picks, with its scratch allocated here. ``g`` holds ``g_b / B``."""
    if bags_pre(pre_bins, pre_seen, pre_outside, post_bins, post_seen, post_outside):
        bag, seen, other, bag_table, transposed = pre_bins, pre_seen, post_bins, table.T.copy(), True
    else:
        bag, seen, other, bag_table, transposed = post_bins, post_seen, pre_bins, table.copy(), False
    rows_shape, by_bag_shape, acc_shape = scratch_shapes(bag, seen, other)
    n_post, n_pre, n_taps = weight.shape
    out = np.empty((n_post, n_pre), table.dtype)
    bag_sum_into(
        bag,
        seen,
        other,
        g,
        bag_table,
        np.empty(rows_shape, table.dtype),
        np.empty(by_bag_shape, np.int32),
        np.empty(acc_shape, table.dtype),
        out,
        transposed,
    )
    if n_taps == 1:  # a linear layer: rows of unit stride, so that the loop vectorises
        flat = weight.reshape(n_post, n_pre)
        for j in range(n_post):
            for i in range(n_pre):
                flat[j, i] += min(max(out[j, i], -clip), clip)
        return
    for j in range(n_post):
        for i in range(n_pre):
            d = min(max(out[j, i], -clip), clip)
            for tap in range(n_taps):
                weight[j, i, tap] += d
