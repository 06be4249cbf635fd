"""A compiled CPU kernel (numba) of the binned DA-SSDP update, the PyTorch plug-in's hot path.

`binned_sum_into` computes what `dassdp.rules.torch.binned_update` computes,
``sum_b g_b E[q_bj, p_bi]`` over the bins ``q = 2 t + fired`` of post and ``p`` of pre neurons,
with the eligibility table ``E`` of that module (DESIGN.md, "Cost"). One side is taken as the
*bag* side, its silent bin ``r = 2 T`` as the reference, and ``D[q, .] = E[q, .] - E[r, .]``,
which vanishes on ``r``::

    sum_b g_b E[q_bo, p_bn] = sum_b g_b E[r, p_bn]  +  sum_{b: q_bo != r} g_b D[q_bo, p_bn]

The first term is one vector over ``n``; the second adds, for every neuron ``o`` of the bag side
that spiked in sample ``b``, the row ``g_b D[q_bo, p_b.]``, precomputed per sample and bin. The
cost is one row of the other side per spiking (sample, neuron) pair, and the kernel takes as the
bag side the one where that is cheaper: for a wide layer with sparse input, the pre side, which
the tensor path avoids because preparing its indices costs more than it saves.

The kernel runs on NumPy views of contiguous CPU tensors, in one thread, in the dtype of
``table`` (float32 or float64); `dassdp.rules.torch.binned_update` calls it for CPU tensors.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _bins(fired, latency, ref, n_bins, out):
    """``out[b, n] = 2 latency + fired`` (integer steps and 0/1 flags); returns how many entries
    lie outside the reference bin ``ref``."""
    n_batch, n = fired.shape
    outside = 0
    for b in range(n_batch):
        for k in range(n):
            q = np.int32(2.0 * latency[b, k] + fired[b, k])
            if q < 0 or q >= n_bins:
                raise ValueError("fired flags must be 0/1 and latencies integer steps in [0, n_steps]")
            out[b, k] = q
            outside += q != ref
    return outside


@numba.njit(cache=True, nogil=True, fastmath=True)
def _bag_sum_into(bag_bins, other_bins, g, table, ref, out, transposed):
    """``out[o, n]`` (``out[n, o]`` if ``transposed``) ``= sum_b g_b table[bag_bins[b, o],
    other_bins[b, n]]``, by the split at ``ref`` of the module docstring."""
    n_batch, n_bag = bag_bins.shape
    n_other = other_bins.shape[1]
    n_bins = table.shape[0]
    by_bag = np.empty((n_bag, n_batch), bag_bins.dtype)
    seen = np.zeros(n_bins, np.bool_)
    for b in range(n_batch):
        for o in range(n_bag):
            by_bag[o, b] = bag_bins[b, o]
            seen[bag_bins[b, o]] = True
    slot = np.full(n_bins, -1, np.int64)
    n_slots = 0
    for q in range(n_bins):
        if seen[q] and q != ref:
            slot[q] = n_slots
            n_slots += 1
    rows = np.empty((n_batch * max(n_slots, 1), n_other), table.dtype)  # g_b D[q, p_b.] at b * n_slots + slot[q]
    base = np.zeros(n_other, table.dtype)  # sum_b g_b E[r, p_b.]
    for b in range(n_batch):
        gb = g[b]
        for n in range(n_other):
            base[n] += gb * table[ref, other_bins[b, n]]
        for q in range(n_bins):
            s = slot[q]
            if s >= 0:
                for n in range(n_other):
                    p = other_bins[b, n]
                    rows[b * n_slots + s, n] = gb * (table[q, p] - table[ref, p])
    tile = 16  # bag neurons accumulated together, written as one tile (transposed: 16 consecutive columns)
    acc = np.empty((tile, n_other), table.dtype)
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
            for k in range(k, m):
                r = picked[k]
                for n in range(n_other):
                    a[n] += rows[r, n]
        if transposed:
            for n in range(n_other):
                for o in range(o0, o1):
                    out[n, o] = acc[o - o0, n]
        else:
            for o in range(o0, o1):
                for n in range(n_other):
                    out[o, n] = acc[o - o0, n]


@numba.njit(cache=True, nogil=True)
def binned_sum_into(pre_fired, pre_latency, post_fired, post_latency, g, table, out):
    """``out[j, i] = sum_b g_b table[q_bj, p_bi]`` (module docstring).

    ``pre_*`` are ``[B, I]``, ``post_*`` ``[B, J]``, ``g`` ``[B]``, ``table`` ``[Q, Q]`` with
    ``Q = 2 (T + 1)`` (post bin first), ``out`` ``[J, I]`` in the dtype of ``table``.
    """
    n_bins = table.shape[0]
    ref = n_bins - 2  # silent: latency T, not fired
    pre = np.empty(pre_fired.shape, np.int32)
    post = np.empty(post_fired.shape, np.int32)
    outside_pre = _bins(pre_fired, pre_latency, ref, n_bins, pre)
    outside_post = _bins(post_fired, post_latency, ref, n_bins, post)
    n_batch, n_pre = pre.shape
    n_post = post.shape[1]
    # a row of the other side per bag entry outside r, and the rows of each (sample, bin), at most Q - 1 bins
    if (outside_pre + n_batch * (n_bins - 1)) * n_post < (outside_post + n_batch * (n_bins - 1)) * n_pre:
        _bag_sum_into(pre, post, g, np.ascontiguousarray(table.T), ref, out, True)
    else:
        _bag_sum_into(post, pre, g, table, ref, out, False)
