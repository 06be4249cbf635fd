"""Compiled CPU kernels (numba) of the binned DA-SSDP update, the PyTorch plug-in's hot path.

`side_bins` and `bag_sum_into` compute what `dassdp.rules.torch.binned_update` computes,
``sum_b g_b E[q_bj, p_bi]`` over the bins ``q = 2 t + fired`` of post and ``p`` of pre neurons,
with the eligibility table ``E`` of that module (DESIGN.md, "Cost"). One side is taken as the
*bag* side, its silent bin ``r = 2 T`` as the reference, and ``D[q, .] = E[q, .] - E[r, .]``,
which vanishes on ``r``::

    sum_b g_b E[q_bo, p_bn] = sum_b g_b E[r, p_bn]  +  sum_{b: q_bo != r} g_b D[q_bo, p_bn]

The first term is one vector over ``n``; the second adds, for every neuron ``o`` of the bag side
that spiked in sample ``b``, the row ``g_b D[q_bo, p_b.]``, precomputed per sample and bin. The
cost is one row of the other side per spiking (sample, neuron) pair, so the bag side should be the
one where that is cheaper: for a wide layer with sparse input, the pre side, which the tensor path
avoids because preparing its indices costs more than it saves.

`dassdp.rules.torch.binned_update` calls the two kernels for CPU tensors, on NumPy views of
contiguous tensors it allocates (scratch included), in one thread, in the dtype of ``table``
(float32 or float64), and chooses the bag side.
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
    n_bins = seen.shape[0]
    ref = n_bins - 2
    n_batch, n = fired.shape
    outside = 0
    lowest = highest = 0
    occupied = np.uint64(0)  # bit q set if bin q occurs (up to 64 bins: a vectorisable reduction)
    for b in range(n_batch):
        for k in range(n):
            q = np.int32(2.0 * latency[b, k] + fired[b, k])
            out[b, k] = q
            lowest, highest = min(lowest, q), max(highest, q)
            outside += q != ref
            occupied |= np.uint64(1) << np.uint64(q & 63)
    if lowest < 0 or highest >= n_bins:
        raise ValueError("fired flags must be 0/1 and latencies integer steps in [0, n_steps]")
    if n_bins <= 64:
        for q in range(n_bins):
            seen[q] = (occupied >> np.uint64(q)) & np.uint64(1)
    else:
        for b in range(n_batch):
            for k in range(n):
                seen[out[b, k]] = True
    return outside


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
