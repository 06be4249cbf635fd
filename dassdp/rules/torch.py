"""DA-SSDP in PyTorch (CPU and CUDA, float32 and float64), following the contract in
`dassdp.rules.reference`, which is also the oracle.

For samples b, post neurons j and pre neurons i, with ``c1 = A_plus + A_base``::

    sync_bji = fired_bj * fired_bi,   K_bji = exp(-(t_bj - t_bi)^2 / (2 sigma^2))
    e_bji    = A_plus sync K - A_base (1 - sync) K = K_bji (c1 sync_bji - A_base)
    dW_ji    = clip(mean_b g_b e_bji, -c, c)

Two paths, neither of which builds the ``B x Cout x Cin`` tensor:

- `exact_update`: any real latencies; loops over chunks of samples (and of post neurons) so that
  no temporary exceeds ``max_elements`` entries.
- `binned_update`: integer latencies in ``{0..T}``. Each neuron falls into one of ``Q = 2 (T + 1)``
  bins ``q = 2 t + fired``, and ``e`` depends only on the two bins: ``e_bji = E[q_bj, p_bi]`` with
  the table ``E[q, p] = K(t_q, t_p) (c1 f_q f_p - A_base)``. Small products (up to
  ``DENSE_PRODUCT_MAX`` multiply-adds) take the one-hot form in a single matrix product,
  ``sum_b g_b e_bji = sum_{(q, b)} [q_bj = q] g_b E[q, p_bi]``: ``(Cout x Q B) @ (Q B x Cin)``.
  Larger ones split at ``r``, the most frequent post bin, with ``D[q, p] = E[q, p] - E[r, p]``,
  which vanishes on row ``r``::

      sum_b g_b e_bji = sum_b g_b E[r, p_bi] + sum_{b: q_bj != r} g_b D[q_bj, p_bi]

  The first term is one vector over ``i``. The second is the product of the ``(Cout x S B)``
  matrix holding ``g_b`` at column ``(s, b)`` where post neuron ``j`` of sample ``b`` is in the
  ``s``-th of the ``S`` other bins that occur, by the ``(S B x Cin)`` matrix ``D[s, p_bi]``. Kept
  sparse (`torch.nn.functional.embedding_bag`), it costs ``Cin`` multiply-adds per (sample, post)
  pair outside ``r``: at most ``(1 - 1/Q) B Cout Cin``, and since silent neurons share one bin,
  about ``Cin`` per spiking pair. Pre and post swap roles (with ``E`` transposed) when there are
  fewer pre neurons.

The binned update has two backends, chosen by the ``backend`` argument of `binned_update` and
`dassdp_update` (and of the plug-in, `dassdp.rules.plugin.DASSDPPlugin`): ``"tensor"``, the tensor
operations above, and ``"numba"``, compiled CPU kernels (`dassdp.rules.kernels`) that compute the
same split without index preparation and bag whichever side costs fewer multiply-adds.
``"auto"`` (the default) takes numba for CPU tensors and the tensor operations elsewhere (CUDA);
``"numba"`` for tensors that are not on the CPU is an error.

Each quantity of the window has one torch function: the fired flags and first/last-spike
latencies `RunningActivity.finish` (which `activity_from_raster` calls), the synchrony
`sample_synchrony`, the gate `gate_values`. The fused kernel that closes a plug-in window
(`kernel_window`) computes the same quantities in compiled code, and the tests check it against
these functions.

Arguments are checked and a bad one raises ``TypeError`` or ``ValueError`` naming it (by
`dassdp.checks`): numbers (``sigma``, ``clip``, ``a_plus``, ``a_base``, the gate, ``n_steps``,
``max_elements``), shapes, and the values of the tensors where that costs no device
synchronisation on the hot path: the binned update checks that flags are 0/1, latencies integer
steps in range and ``g`` finite unless ``check_latencies=False``; the exact update always checks
them; `RunningActivity.update` checks that spikes are 0/1 unless ``check=False``.
"""

from __future__ import annotations

import functools
import math
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from dassdp.checks import check_choice, check_count, check_finite, check_positive
from dassdp.rules.reference import A_BASE, A_PLUS, Gate, GateMode, LatencyMode

__all__ = [
    "Backend",
    "resolve_backend",
    "activity_from_raster",
    "RunningActivity",
    "kernel_window",
    "kernel_window_takes",
    "sample_synchrony",
    "check_gate",
    "check_spikes",
    "gate_line",
    "gate_values",
    "exact_update",
    "binned_update",
    "dassdp_update",
]

Backend = Literal["auto", "tensor", "numba"]

#: Default bound on the entries of any temporary of `exact_update` (16 MiB in float32).
MAX_ELEMENTS = 1 << 22
#: Largest product (in multiply-adds) for which `binned_update` uses a dense one-hot matrix rather
#: than a sparse one: below it, fewer tensor operations beat fewer multiply-adds.
DENSE_PRODUCT_MAX = 1 << 22


def _check_finite(name: str, value) -> None:
    """`dassdp.checks.check_finite`, at the cost of one comparison for a finite Python float
    (the per-step path); anything else gets the full check and its message."""
    if type(value) is not float or not math.isfinite(value):
        check_finite(name, value)


def _check_positive(name: str, value, strict: bool = True) -> None:
    """`dassdp.checks.check_positive`, cheap for a Python float in range (as `_check_finite`)."""
    if type(value) is not float or not (0.0 < value < math.inf if strict else 0.0 <= value < math.inf):
        check_positive(name, value, strict)


def _check_tensor(name: str, value, ndim: int | None = None, min_ndim: int | None = None) -> None:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if ndim is not None and value.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(value.shape)}")
    if min_ndim is not None and value.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got shape {tuple(value.shape)}")


def check_spikes(name: str, value: torch.Tensor) -> None:
    """0/1 values (or bool), as spikes are; one reduction and a device synchronisation."""
    if value.dtype != torch.bool and value.numel() and not bool(((value == 0) | (value == 1)).all()):
        raise ValueError(f"{name} must be 0/1 (or bool), a spike tensor; got other values")


def _check_all_finite(name: str, value: torch.Tensor) -> None:
    if value.is_floating_point() and not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} must be finite; got NaN or infinite values")


def _check_rule_constants(sigma, a_plus, a_base) -> None:
    _check_positive("sigma", sigma)
    _check_positive("a_plus", a_plus, strict=False)
    _check_positive("a_base", a_base, strict=False)


def check_gate(gate, name: str = "gate") -> None:
    """A `Gate` with finite ``k`` and ``mu`` and ``s > 0`` (cheap for Python floats)."""
    if not isinstance(gate, Gate):
        raise TypeError(f"{name} must be a Gate(k, mu, s), got {type(gate).__name__}")
    _check_finite(f"{name}.k", gate.k)
    _check_finite(f"{name}.mu", gate.mu)
    _check_positive(f"{name}.s", gate.s)


def resolve_backend(backend: Backend, device: torch.device) -> Literal["tensor", "numba"]:
    """The backend that runs for tensors on ``device`` (see the module docstring): ``"auto"`` is
    ``"numba"`` on the CPU and ``"tensor"`` elsewhere; ``"numba"`` off the CPU raises."""
    check_choice("backend", backend, ("auto", "tensor", "numba"))
    if not isinstance(device, torch.device):
        raise TypeError(f"device must be a torch.device, got {type(device).__name__} {device!r}")
    if backend == "auto":
        return "numba" if device.type == "cpu" else "tensor"
    if backend == "numba" and device.type != "cpu":
        raise ValueError(f"backend 'numba' runs on CPU tensors only, got tensors on {device}; use 'tensor' or 'auto'")
    return backend


def activity_from_raster(spikes: torch.Tensor, latency: LatencyMode = "first") -> tuple[torch.Tensor, torch.Tensor]:
    """``(fired[B, N], latency[B, N])`` from 0/1 ``spikes[T, B, N]``, as the reference's
    ``activity_from_raster``: first (or last) spike step, ``T`` where silent."""
    tracker = RunningActivity(latency)
    tracker.update(spikes)
    return tracker.finish()


class RunningActivity:
    """Fired flags and first/last spike latencies of a window, updated chunk by chunk.

    Keeps one tensor ``[B, ...]``, never the spike train: the score ``max_t s_t w_t`` over the steps
    ``t`` seen so far, with weights ``w_t = 2^24 - t`` (``first``) or ``t + 1`` (``last``), so the
    score is 0 while silent and otherwise encodes the first (last) spike step. `update` takes 0/1
    spikes ``[Tc, B, ...]`` (bool or numbers) of ``Tc >= 1`` consecutive steps, at most
    ``2^24`` steps per window (so that the scores stay exact in float32).
    """

    #: Weight of step 0 in ``first`` mode; integers up to it are exact in float32.
    FIRST = float(2**24)

    def __init__(self, latency: LatencyMode = "first") -> None:
        check_choice("latency", latency, ("first", "last"))
        self.mode = latency
        self.steps = 0
        self.score: torch.Tensor | None = None

    def update(self, spikes: torch.Tensor, positions: int = 0, check: bool = True) -> None:
        """Add ``spikes[Tc, B, ..., *p]``, whose last ``positions`` dimensions are positions of one
        neuron (e.g. a convolution channel's pixels): a neuron fires at a step if any of its
        positions does. ``check=False`` skips the check that the spikes are 0/1 (one reduction
        and, on CUDA, a device synchronisation), for callers that checked them already."""
        if type(positions) is not int or positions < 0:
            check_count("positions", positions)
        _check_tensor("spikes", spikes, min_ndim=2 + positions)
        if spikes.shape[0] < 1:
            raise ValueError(f"spikes must hold at least one step, got shape {tuple(spikes.shape)}")
        if self.steps + spikes.shape[0] > self.FIRST:
            raise ValueError(f"a window holds at most 2^24 steps, got {self.steps + spikes.shape[0]}")
        if check:
            check_spikes("spikes", spikes)
        shape = spikes.shape[1 : spikes.ndim - positions]
        if self.score is not None and shape != self.score.shape:
            raise ValueError(
                f"spikes of shape {tuple(shape)} continue a window of shape {tuple(self.score.shape)}; "
                "call finish() between windows"
            )
        spikes = spikes.detach()
        if positions:
            spikes = spikes.amax(tuple(range(-positions, 0)))
        weights = _step_weights(self.mode, self.steps, spikes.shape[0], spikes.ndim, spikes.device)
        self.steps += spikes.shape[0]
        score = (spikes * weights).amax(0)
        score = score if score.dtype == torch.float32 else score.float()
        self.score = score if self.score is None else torch.maximum(self.score, score)

    def finish(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(fired, latency)`` as float32, latency ``T`` (steps seen) where silent."""
        if self.score is None:
            raise RuntimeError("no spikes were recorded in this window")
        fired = self.score.sign()  # the score is >= 0
        if self.mode == "first":  # a silent 2^24 - 0 becomes T
            latency = torch.rsub(self.score, self.FIRST).clamp_(max=self.steps)
        else:  # a silent 0 - 1 becomes T
            latency = (self.score - 1.0).remainder_(self.steps + 1)
        return fired, latency


@functools.lru_cache(maxsize=256)
def _step_weights(mode: LatencyMode, start: int, n_steps: int, ndim: int, device: torch.device) -> torch.Tensor:
    """`RunningActivity`'s weights ``w_t`` of steps ``start .. start + n_steps - 1`` (float32),
    shaped ``[n_steps, 1, ...]`` to multiply spikes of ``ndim`` dimensions."""
    t = torch.arange(start, start + n_steps, dtype=torch.float32, device=device)
    weights = RunningActivity.FIRST - t if mode == "first" else t + 1.0
    return weights.view(-1, *[1] * (ndim - 1))


def kernel_window_takes(weight: torch.Tensor, backend: Backend) -> bool:
    """Whether `kernel_window` closes windows for ``weight`` under ``backend``: it resolves to
    ``"numba"`` on the weight's device (`resolve_backend`) and the weight is float32 or float64
    and contiguous, so that the kernel can add to it in place."""
    _check_tensor("weight", weight)
    return (
        resolve_backend(backend, weight.device) == "numba"
        and weight.dtype in (torch.float32, torch.float64)
        and weight.is_contiguous()
    )


def kernel_window(
    pre: RunningActivity,
    post: RunningActivity,
    weight: torch.Tensor,
    line: tuple[float, float, float, float] | None,
    sigma: float = 1.0,
    a_plus: float = A_PLUS,
    a_base: float = A_BASE,
    clip: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Close the window of a pre and a post `RunningActivity` (``[B, Cin]``, ``[B, Cout]``) on the CPU
    in one compiled call (`dassdp.rules.kernels.window_update`), the plug-in's numba path: returns
    ``(S_b, g_b)`` (float64; ``g_b`` None without ``line``) and, given a gate's `gate_line`, adds
    ``dW`` to ``weight`` ``[Cout, Cin, ...]`` in place (at every kernel tap of a convolution) and
    counts the change in its autograd version. Equals `RunningActivity.finish`, `sample_synchrony`,
    `gate_values` and `dassdp_update` in float32. Everything the kernel reads is checked first
    (it has no bounds checks): shapes, devices and dtypes, and that ``line`` is four finite numbers
    with ``lo <= hi``."""
    from dassdp.rules import kernels

    _check_window(pre, post, weight)
    if line is not None:
        if not isinstance(line, tuple) or len(line) != 4:
            raise TypeError(f"line must be a tuple (slope, mu, lo, hi) or None, got {line!r}")
        for name, value in zip(("line slope", "line mu", "line lo", "line hi"), line):
            _check_finite(name, value)
        if line[2] > line[3]:
            raise ValueError(f"line must have lo <= hi, got {line!r}")
    _check_rule_constants(sigma, a_plus, a_base)
    _check_positive("clip", clip)
    table = _eligibility_table(pre.steps, sigma, a_plus, a_base, torch.float32, weight.device)
    synchrony, gate = np.empty(len(pre.score)), np.empty(len(pre.score))
    kernels.window_update(
        pre.score.numpy(),
        post.score.numpy(),
        pre.mode == "first",
        RunningActivity.FIRST,
        line or (0.0, 0.0, 0.0, 0.0),
        table.numpy(),
        clip,
        weight.detach().view(weight.shape[0], weight.shape[1], -1).numpy(),
        line is not None,
        synchrony,
        gate,
    )
    if line is None:
        return torch.from_numpy(synchrony), None
    torch.autograd.graph.increment_version(weight)
    return torch.from_numpy(synchrony), torch.from_numpy(gate)


def _check_window(pre, post, weight) -> None:
    """`kernel_window`'s inputs: two `RunningActivity` of one window on the CPU and a weight
    ``[Cout, Cin, ...]`` the kernel can add to in place (a few microseconds: it runs per step)."""
    for name, side in (("pre", pre), ("post", post)):
        if not isinstance(side, RunningActivity):
            raise TypeError(f"{name} must be a RunningActivity, got {type(side).__name__}")
        if side.score is None:
            raise ValueError(f"{name}: no spikes were recorded in this window")
        if side.score.ndim != 2 or not side.score.is_cpu:
            raise ValueError(
                f"{name} must hold [B, neurons] activity on the CPU, got {tuple(side.score.shape)} on "
                f"{side.score.device}"
            )
    if pre.steps != post.steps or pre.mode != post.mode:
        raise ValueError(
            f"pre and post must cover the same window: {pre.steps} and {post.steps} steps, "
            f"latency {pre.mode!r} and {post.mode!r}"
        )
    _check_tensor("weight", weight, min_ndim=2)
    if not (weight.is_cpu and weight.is_contiguous() and weight.dtype in (torch.float32, torch.float64)):
        raise ValueError(
            f"weight must be a contiguous float32 or float64 CPU tensor, got {weight.dtype} on {weight.device}"
        )
    (n_batch, n_pre), (n_post_batch, n_post), shape = pre.score.shape, post.score.shape, weight.shape
    if n_post_batch != n_batch or n_post != shape[0] or n_pre != shape[1]:
        raise ValueError(
            f"pre [{n_batch}, {n_pre}] and post [{n_post_batch}, {n_post}] activity do not match "
            f"the weight {tuple(shape)} (needs [B, Cin], [B, Cout] and [Cout, Cin, ...])"
        )


def sample_synchrony(pre_fired: torch.Tensor, post_fired: torch.Tensor) -> torch.Tensor:
    """``S_b = mean_{i, j} fired_bj fired_bi = mean_j fired_bj * mean_i fired_bi`` (all-to-all), in float64."""
    _check_tensor("pre_fired", pre_fired, ndim=2)
    _check_tensor("post_fired", post_fired, ndim=2)
    if pre_fired.shape[0] != post_fired.shape[0]:
        raise ValueError(
            f"batch sizes differ: pre_fired {tuple(pre_fired.shape)}, post_fired {tuple(post_fired.shape)}"
        )
    return post_fired.mean(1, dtype=torch.float64) * pre_fired.mean(1, dtype=torch.float64)


def gate_line(gate: Gate | None, mode: GateMode, tol: float = 1e-6) -> tuple[float, float, float, float]:
    """Every gate mode as ``g_b = clip(1 + slope (S_b - mu), lo, hi)``, returned as
    ``(slope, mu, lo, hi)``: ``continuous`` ``(k / s, mu, 0, 2)``; ``sign`` a constant ``sign(k)``
    (1 where ``|k| < tol``); ``off`` the constant 1. ``gate`` must have finite ``k`` and ``mu``
    and ``s > 0`` (one that does not raises, rather than yielding NaN or a sign of -1)."""
    check_choice("gate", mode, ("continuous", "sign", "off"))
    _check_positive("tol", tol, strict=False)
    if mode == "off":
        return 0.0, 0.0, 1.0, 1.0
    if gate is None:
        raise ValueError(f"gate mode {mode!r} needs a fitted gate")
    check_gate(gate)
    if mode == "continuous":
        return gate.k / gate.s, gate.mu, 0.0, 2.0
    sign = 1.0 if abs(gate.k) < tol else (1.0 if gate.k > 0 else -1.0)
    return 0.0, 0.0, sign, sign


def gate_values(synchrony: torch.Tensor, gate: Gate | None, mode: GateMode, tol: float = 1e-6) -> torch.Tensor:
    """Per-sample gate ``g_b`` as the reference ``gate_values``, by `gate_line`: ``continuous``
    ``clip(1 + k (S_b - mu) / s, 0, 2)``; ``sign`` ``sign(k)`` (1 where ``|k| < tol``); ``off`` 1."""
    _check_tensor("synchrony", synchrony)
    slope, mu, lo, hi = gate_line(gate, mode, tol)
    if lo == hi:  # a constant, also where S is not defined (NaN)
        return torch.full_like(synchrony, lo)
    return (1.0 + slope * (synchrony - mu)).clamp_(lo, hi)


def _check_inputs(pre_fired, post_fired, pre_latency, post_latency, g) -> tuple[int, int, int]:
    _check_tensor("g", g)
    for name, value in (
        ("pre_fired", pre_fired),
        ("post_fired", post_fired),
        ("pre_latency", pre_latency),
        ("post_latency", post_latency),
    ):
        _check_tensor(name, value)
        if value.ndim != 2:
            raise ValueError(f"{name} must have shape [B, neurons], got {tuple(value.shape)}")
    if pre_fired.shape != pre_latency.shape:
        raise ValueError(f"pre_fired {tuple(pre_fired.shape)} and pre_latency {tuple(pre_latency.shape)} differ")
    if post_fired.shape != post_latency.shape:
        raise ValueError(f"post_fired {tuple(post_fired.shape)} and post_latency {tuple(post_latency.shape)} differ")
    n_batch = pre_fired.shape[0]
    if post_fired.shape[0] != n_batch or g.shape != (n_batch,):
        raise ValueError(
            f"batch sizes differ: pre {pre_fired.shape[0]}, post {post_fired.shape[0]}, g {tuple(g.shape)} "
            f"(g must have shape [{n_batch}])"
        )
    return n_batch, post_fired.shape[1], pre_fired.shape[1]


def _check_values(pre_fired, post_fired, g) -> None:
    """0/1 flags and a finite gate (reductions with a device synchronisation: not per step)."""
    check_spikes("pre_fired", pre_fired)
    check_spikes("post_fired", post_fired)
    _check_all_finite("g", g)


def _float_dtype(*tensors: torch.Tensor) -> torch.dtype:
    floats = [t.dtype for t in tensors if t.is_floating_point()]
    return torch.float64 if torch.float64 in floats else torch.float32


def exact_update(
    pre_fired: torch.Tensor,
    post_fired: torch.Tensor,
    pre_latency: torch.Tensor,
    post_latency: torch.Tensor,
    g: torch.Tensor,
    sigma: float = 1.0,
    a_plus: float = A_PLUS,
    a_base: float = A_BASE,
    max_elements: int = MAX_ELEMENTS,
) -> torch.Tensor:
    """``sum_b g_b e_bji`` (not averaged, not clipped) for real latencies, in chunks of at most
    ``max_elements`` (sample, post, pre) triples. Checks that the flags are 0/1 and the latencies
    and ``g`` finite."""
    n_batch, n_post, n_pre = _check_inputs(pre_fired, post_fired, pre_latency, post_latency, g)
    _check_rule_constants(sigma, a_plus, a_base)
    check_count("max_elements", max_elements, 1)
    _check_values(pre_fired, post_fired, g)
    _check_all_finite("pre_latency", pre_latency)
    _check_all_finite("post_latency", post_latency)
    dtype = _float_dtype(pre_latency, post_latency, g)
    pre_f, post_f = pre_fired.to(dtype), post_fired.to(dtype)
    pre_t, post_t, g = pre_latency.to(dtype), post_latency.to(dtype), g.to(dtype)
    post_chunk = min(n_post, max(1, max_elements // n_pre))
    batch_chunk = max(1, max_elements // (post_chunk * n_pre))
    inv = 1.0 / (2.0 * sigma**2)
    out = torch.zeros(n_post, n_pre, dtype=dtype, device=pre_fired.device)
    for j0 in range(0, n_post, post_chunk):
        j1 = j0 + post_chunk
        for b0 in range(0, n_batch, batch_chunk):
            b1 = b0 + batch_chunk
            kernel = torch.exp(-((post_t[b0:b1, j0:j1, None] - pre_t[b0:b1, None, :]) ** 2) * inv)
            sync = post_f[b0:b1, j0:j1, None] * pre_f[b0:b1, None, :]
            out[j0:j1] += torch.einsum("b,bji->ji", g[b0:b1], kernel * ((a_plus + a_base) * sync - a_base))
    return out


@functools.lru_cache(maxsize=64)
def _eligibility_table(n_steps: int, sigma: float, a_plus: float, a_base: float, dtype, device) -> torch.Tensor:
    """``E[q, p] = K(t_q, t_p) (c1 f_q f_p - A_base)`` over bins ``q = 2 t + f``, ``t`` in ``{0..T}``."""
    bins = torch.arange(2 * (n_steps + 1), device=device)
    t_bin, f_bin = (bins // 2).to(dtype), (bins % 2).to(dtype)
    kernel = torch.exp(-((t_bin[:, None] - t_bin[None, :]) ** 2) / (2.0 * sigma**2))
    return kernel * ((a_plus + a_base) * f_bin[:, None] * f_bin[None, :] - a_base)


def _bins(fired: torch.Tensor, latency: torch.Tensor) -> torch.Tensor:
    """Bin ``q = 2 t + fired`` of each neuron (fired flags 0/1), as int32 (the cheaper index)."""
    return torch.add(fired, latency, alpha=2).int()


def _dense_sum(rows: torch.Tensor, cols: torch.Tensor, g: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """``sum_b g_b table[rows[b, j], cols[b, i]]`` of shape ``(J, I)`` as one product of the
    one-hot ``(J x Q B)`` matrix ``[rows[b, j] = q] g_b`` by ``(Q B x I)`` ``table[q, cols[b, i]]``."""
    n_rows = table.shape[0] * rows.shape[0]  # (q, b)
    bins = torch.arange(table.shape[0], device=rows.device).view(-1, 1, 1)
    one_hot = (rows == bins) * g.view(-1, 1)  # [q, b, j]
    return one_hot.view(n_rows, rows.shape[1]).T @ table.index_select(1, cols.flatten()).view(n_rows, cols.shape[1])


def _sparse_sum(rows: torch.Tensor, cols: torch.Tensor, g: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """`_dense_sum`, split at the most frequent bin ``r`` of ``rows`` (the post role) as in the
    module docstring: row ``j`` sums ``g_b D[s, p_b.]`` over the samples ``b`` where its bin ``s``
    is not ``r``."""
    n_batch, n_cols = cols.shape
    counts = torch.bincount(rows.flatten(), minlength=table.shape[0])
    r = counts.argmax()
    counts[r] = 0
    slots = counts.nonzero().flatten()  # the other row bins that occur, ascending
    lookup = table.index_select(0, torch.cat([r.view(1), slots]))
    lookup[1:] -= lookup[0]  # E[r, .], then D[s, .] = E[s, .] - E[r, .]
    gathered = lookup.index_select(1, cols.flatten()).view(-1, n_batch * n_cols)
    by_row = rows.T.contiguous()
    j, b = (by_row != r).nonzero(as_tuple=True)  # ordered by j
    sizes = torch.bincount(j, minlength=by_row.shape[0])
    out = F.embedding_bag(
        torch.searchsorted(slots, by_row[j, b]) * n_batch + b,
        gathered[1:].view(-1, n_cols),
        sizes.cumsum(0) - sizes,
        mode="sum",
        per_sample_weights=g[b],
    )
    return out.add_(g @ gathered[0].view(n_batch, n_cols))


def _kernel_sum(pre_fired, post_fired, pre_latency, post_latency, g, table) -> torch.Tensor:
    """`binned_update`'s sum by the compiled kernels of `dassdp.rules.kernels`, in the dtype of
    ``table``, with its arrays, scratch included, allocated here as tensors and kept until the sum
    is done (the kernels add two of at most ``B`` and ``2 (T + 1)`` integers), bagging the side
    that `kernels.bags_pre` picks."""
    from dassdp.rules import kernels

    sides, kept = [], []
    for fired, latency in ((pre_fired, pre_latency), (post_fired, post_latency)):
        kept += [torch.empty(fired.shape, dtype=torch.int32), torch.zeros(table.shape[0], dtype=torch.bool)]
        bins, seen = kept[-2].numpy(), kept[-1].numpy()
        fired, latency = (x.detach().to(table.dtype).contiguous().numpy() for x in (fired, latency))
        sides.append((bins, seen, kernels.side_bins(fired, latency, bins, seen)))
    (pre, pre_seen, _), (post, post_seen, _) = sides
    out = torch.empty(post.shape[1], pre.shape[1], dtype=table.dtype)
    if kernels.bags_pre(*sides[0], *sides[1]):
        bag, seen, other, bag_table, transposed = pre, pre_seen, post, table.T.contiguous(), True
    else:
        bag, seen, other, bag_table, transposed = post, post_seen, pre, table, False
    rows_shape, by_bag_shape, acc_shape = kernels.scratch_shapes(bag, seen, other)
    rows, acc = torch.empty(rows_shape, dtype=table.dtype), torch.empty(acc_shape, dtype=table.dtype)
    by_bag = torch.empty(by_bag_shape, dtype=torch.int32)
    kernels.bag_sum_into(
        bag,
        seen,
        other,
        g.detach().contiguous().numpy(),
        bag_table.numpy(),
        rows.numpy(),
        by_bag.numpy(),
        acc.numpy(),
        out.numpy(),
        transposed,
    )
    return out


def binned_update(
    pre_fired: torch.Tensor,
    post_fired: torch.Tensor,
    pre_latency: torch.Tensor,
    post_latency: torch.Tensor,
    g: torch.Tensor,
    n_steps: int,
    sigma: float = 1.0,
    a_plus: float = A_PLUS,
    a_base: float = A_BASE,
    check_latencies: bool = True,
    backend: Backend = "auto",
) -> torch.Tensor:
    """``sum_b g_b e_bji`` (not averaged, not clipped) for integer latencies in ``{0..n_steps}``,
    by the reference-bin split of the module docstring, with ``backend`` ``"tensor"``, ``"numba"``
    or ``"auto"`` (`resolve_backend`). ``check_latencies=False`` skips the checks of the values
    (integer latencies in range, 0/1 flags, finite ``g``) and their device synchronisation, for
    callers whose inputs are valid by construction (the plug-in)."""
    _check_tensor("pre_fired", pre_fired)
    backend = resolve_backend(backend, pre_fired.device)
    _check_inputs(pre_fired, post_fired, pre_latency, post_latency, g)
    check_count("n_steps", n_steps, 1)
    _check_rule_constants(sigma, a_plus, a_base)
    if check_latencies:
        _check_values(pre_fired, post_fired, g)
    for name, lat in (("pre_latency", pre_latency), ("post_latency", post_latency)):
        if (
            check_latencies
            and lat.numel()
            and bool((lat != lat.round()).any() | (lat < 0).any() | (lat > n_steps).any())
        ):
            raise ValueError(f"{name} must hold integer steps in [0, {n_steps}] for the binned update")
    dtype = _float_dtype(pre_latency, post_latency, g)
    table = _eligibility_table(n_steps, sigma, a_plus, a_base, dtype, pre_fired.device)
    g = g.to(dtype)
    if backend == "numba":
        return _kernel_sum(pre_fired, post_fired, pre_latency, post_latency, g, table)
    post_bin, pre_bin = _bins(post_fired, post_latency), _bins(pre_fired, pre_latency)
    if table.shape[0] * post_bin.numel() * pre_bin.shape[1] <= DENSE_PRODUCT_MAX:
        return _dense_sum(post_bin, pre_bin, g, table)
    if post_bin.shape[1] <= pre_bin.shape[1]:
        return _sparse_sum(post_bin, pre_bin, g, table)
    return _sparse_sum(pre_bin, post_bin, g, table.T).T


def dassdp_update(
    pre_fired: torch.Tensor,
    post_fired: torch.Tensor,
    pre_latency: torch.Tensor,
    post_latency: torch.Tensor,
    g: torch.Tensor,
    sigma: float = 1.0,
    a_plus: float = A_PLUS,
    a_base: float = A_BASE,
    clip: float = 1.0,
    n_steps: int | None = None,
    max_elements: int = MAX_ELEMENTS,
    check_latencies: bool = True,
    backend: Backend = "auto",
) -> torch.Tensor:
    """``dW = clip(mean_b g_b e_b, -clip, clip)`` of shape ``(Cout, Cin)``.

    Inputs are ``[B, Cin]`` (pre), ``[B, Cout]`` (post) and ``g[B]``. With ``n_steps`` (integer
    latencies in ``{0..n_steps}``) the binned path is used, by ``backend`` (``"tensor"``,
    ``"numba"`` or ``"auto"``, see `resolve_backend`), otherwise the chunked exact path of tensor
    operations, which has no numba backend (``max_elements`` bounds its temporaries;
    ``check_latencies`` see `binned_update`).
    """
    _check_tensor("pre_fired", pre_fired)
    resolve_backend(backend, pre_fired.device)
    if n_steps is None and backend == "numba":
        raise ValueError("backend 'numba' computes the binned update only: give n_steps, or use 'tensor' or 'auto'")
    _check_positive("clip", clip)
    check_count("max_elements", max_elements, 1)
    _check_inputs(pre_fired, post_fired, pre_latency, post_latency, g)
    g = g / pre_fired.shape[0]  # the sum over samples with g_b / B is the mean
    if n_steps is None:
        mean = exact_update(pre_fired, post_fired, pre_latency, post_latency, g, sigma, a_plus, a_base, max_elements)
    else:
        mean = binned_update(
            pre_fired,
            post_fired,
            pre_latency,
            post_latency,
            g,
            n_steps,
            sigma,
            a_plus,
            a_base,
            check_latencies,
            backend,
        )
    return mean.clamp_(-clip, clip)
