"""DA-SSDP in PyTorch (CPU and CUDA, float32 and float64), following DESIGN.md
"DA-SSDP: the contract"; `dassdp.rules.reference` is the oracle.

For samples b, post neurons j and pre neurons i, with ``c1 = A_plus + A_base``::

    sync_bji = fired_bj * fired_bi,   K_bji = exp(-(t_bj - t_bi)^2 / (2 sigma^2))
    e_bji    = A_plus sync K - A_base (1 - sync) K = K_bji (c1 sync_bji - A_base)
    dW_ji    = clip(mean_b g_b e_bji, -c, c)

Two paths, neither of which builds the ``B x Cout x Cin`` tensor:

- `exact_update`: any real latencies; loops over chunks of samples (and of post neurons) so that
  no temporary exceeds ``max_elements`` entries.
- `binned_update`: integer latencies in ``{0..T}``. Each neuron falls into one of ``2 (T + 1)``
  bins ``q = 2 t + fired``, and ``e`` depends only on the two bins: ``e_bji = E[q_bj, p_bi]`` with
  the table ``E[q, p] = K(t_q, t_p) (c1 f_q f_p - A_base)``. Hence
  ``sum_b g_b e_bji = sum_q sum_b (g_b [q_bj = q]) E[q, p_bi]``: one matrix product of
  ``(Cout x Q B)`` by ``(Q B x Cin)`` over the ``Q <= T + 1`` post bins that occur
  (consistent activity has ``fired = (t < T)``, so only ``T + 1`` bins are populated).
"""

from __future__ import annotations

import functools

import torch

from dassdp.rules.reference import A_BASE, A_PLUS, STD_EPS, Gate, GateMode, LatencyMode, check_choice, check_positive

__all__ = [
    "activity_from_raster",
    "RunningActivity",
    "sample_synchrony",
    "fit_gate",
    "gate_values",
    "exact_update",
    "binned_update",
    "dassdp_update",
]

#: Default bound on the entries of any temporary of `exact_update` (16 MiB in float32).
MAX_ELEMENTS = 1 << 22


def activity_from_raster(spikes: torch.Tensor, latency: LatencyMode = "first") -> tuple[torch.Tensor, torch.Tensor]:
    """``(fired[B, N], latency[B, N])`` from ``spikes[T, B, N]``, as the reference's
    ``activity_from_raster``: first (or last) spike step, ``T`` where silent."""
    tracker = RunningActivity(latency)
    tracker.update(spikes)
    return tracker.finish()


class RunningActivity:
    """Fired flags and first/last spike latencies of a window, updated step by step.

    Keeps one float32 tensor ``[B, ...]``: the first (last) spike step so far, ``+inf`` (``-inf``)
    while silent; never the spike train. `update` takes a chunk ``spikes[Tc, B, ...]`` of
    ``Tc >= 1`` consecutive steps.
    """

    def __init__(self, latency: LatencyMode = "first") -> None:
        check_choice("latency", latency, ("first", "last"))
        self.mode = latency
        self.steps = 0
        self.latency: torch.Tensor | None = None

    def update(self, spikes: torch.Tensor) -> None:
        active = spikes.detach() != 0
        silent = float("inf") if self.mode == "first" else float("-inf")
        if self.latency is None:
            self.latency = torch.full(active.shape[1:], silent, device=active.device)
        elif active.shape[1:] != self.latency.shape:
            raise ValueError(
                f"spikes of shape {tuple(active.shape[1:])} continue a window of shape {tuple(self.latency.shape)}; "
                "call finish() between windows"
            )
        n_steps = active.shape[0]
        if n_steps == 1:
            step = torch.where(active[0], float(self.steps), silent)
        else:
            t = torch.arange(self.steps, self.steps + n_steps, dtype=torch.float32, device=active.device)
            step = torch.where(active, t.view(-1, *[1] * (active.ndim - 1)), silent)
            step = step.amin(0) if self.mode == "first" else step.amax(0)
        self.latency = torch.minimum(self.latency, step) if self.mode == "first" else torch.maximum(self.latency, step)
        self.steps += n_steps

    def finish(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(fired, latency)`` as float32, latency ``T`` (steps seen) where silent."""
        if self.latency is None:
            raise RuntimeError("no spikes were recorded in this window")
        fired = self.latency.isfinite()
        return fired.to(torch.float32), torch.where(fired, self.latency, float(self.steps))


def sample_synchrony(pre_fired: torch.Tensor, post_fired: torch.Tensor) -> torch.Tensor:
    """``S_b = mean_{i, j} fired_bj fired_bi = mean_j fired_bj * mean_i fired_bi`` (all-to-all)."""
    return post_fired.mean(1) * pre_fired.mean(1)


def fit_gate(synchrony: torch.Tensor, loss: torch.Tensor) -> Gate:
    """The reference ``fit_gate`` in float64: ``mu = mean S``, ``s = std S + 1e-8`` and
    ``k = -mean(z(S) z(L))``."""
    synchrony = synchrony.detach().to(torch.float64).flatten()
    loss = loss.detach().to(torch.float64).flatten()
    if synchrony.shape != loss.shape or synchrony.numel() < 2:
        raise ValueError(
            f"need at least two (S, L) warm-up records of equal length, got {synchrony.numel()} and {loss.numel()}"
        )
    mu, s = synchrony.mean(), synchrony.std(correction=0) + STD_EPS
    z_loss = (loss - loss.mean()) / (loss.std(correction=0) + STD_EPS)
    return Gate(k=float(-((synchrony - mu) / s * z_loss).mean()), mu=float(mu), s=float(s))


def gate_values(synchrony: torch.Tensor, gate: Gate | None, mode: GateMode, tol: float = 1e-6) -> torch.Tensor:
    """Per-sample gate ``g_b`` as the reference ``gate_values``: ``continuous``
    ``clip(1 + k (S_b - mu) / s, 0, 2)``; ``sign`` ``sign(k)`` (1 where ``|k| < tol``); ``off`` 1."""
    check_choice("gate", mode, ("continuous", "sign", "off"))
    if mode == "off":
        return torch.ones_like(synchrony)
    if gate is None:
        raise ValueError(f"gate mode {mode!r} needs a fitted gate")
    if mode == "continuous":
        return (1.0 + gate.k * (synchrony - gate.mu) / gate.s).clamp(0.0, 2.0)
    sign = 1.0 if abs(gate.k) < tol else (1.0 if gate.k > 0 else -1.0)
    return torch.full_like(synchrony, sign)


def _check_inputs(pre_fired, post_fired, pre_latency, post_latency, g) -> tuple[int, int, int]:
    for name, value in (("pre_fired", pre_fired), ("post_fired", post_fired),
                        ("pre_latency", pre_latency), ("post_latency", post_latency)):
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
    ``max_elements`` (sample, post, pre) triples."""
    n_batch, n_post, n_pre = _check_inputs(pre_fired, post_fired, pre_latency, post_latency, g)
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
) -> torch.Tensor:
    """``sum_b g_b e_bji`` (not averaged, not clipped) for integer latencies in ``{0..n_steps}``,
    as one binned matrix product (see the module docstring). ``check_latencies=False`` skips the
    check (and its device synchronisation) for callers whose latencies are integer by construction."""
    _check_inputs(pre_fired, post_fired, pre_latency, post_latency, g)
    for name, lat in (("pre_latency", pre_latency), ("post_latency", post_latency)):
        if check_latencies and lat.numel() and bool((lat != lat.round()).any() | (lat < 0).any() | (lat > n_steps).any()):
            raise ValueError(f"{name} must hold integer steps in [0, {n_steps}] for the binned update")
    dtype = _float_dtype(pre_latency, post_latency, g)
    pre_bin = pre_latency.long() * 2 + (pre_fired != 0).long()
    post_bin = post_latency.long() * 2 + (post_fired != 0).long()
    table = _eligibility_table(n_steps, sigma, a_plus, a_base, dtype, pre_fired.device)
    present = torch.bincount(post_bin.flatten(), minlength=table.shape[0]).nonzero().flatten()
    left = (post_bin.unsqueeze(0) == present.view(-1, 1, 1)).to(dtype) * g.to(dtype).view(1, -1, 1)
    right = table[present][:, pre_bin]
    return left.flatten(0, 1).T @ right.flatten(0, 1)


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
) -> torch.Tensor:
    """``dW = clip(mean_b g_b e_b, -clip, clip)`` of shape ``(Cout, Cin)``.

    Inputs are ``[B, Cin]`` (pre), ``[B, Cout]`` (post) and ``g[B]``. With ``n_steps`` (integer
    latencies in ``{0..n_steps}``) the binned path is used, otherwise the chunked exact path
    (``max_elements`` bounds its temporaries; ``check_latencies`` see `binned_update`).
    """
    check_positive("sigma", sigma)
    check_positive("clip", clip)
    if n_steps is None:
        total = exact_update(pre_fired, post_fired, pre_latency, post_latency, g, sigma, a_plus, a_base, max_elements)
    else:
        total = binned_update(pre_fired, post_fired, pre_latency, post_latency, g, n_steps, sigma, a_plus, a_base,
                              check_latencies)
    return total.div_(pre_fired.shape[0]).clamp_(-clip, clip)
