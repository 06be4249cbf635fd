"""Input encodings: a static sample ``x[B, ...]`` becomes a time-major window ``[T, B, ...]``.

- ``rate``: ``s[t] ~ Bernoulli(clip(x, 0, 1))`` independently per step, drawn with an explicit
  ``torch.Generator`` so that the same seed gives the same spikes.
- ``latency``: one spike per element at step ``round((1 - x) * (T - 1))`` for ``x`` clipped to
  [0, 1]; elements with ``x <= 0`` stay silent (strong inputs fire early).
- ``direct``: ``x`` repeated at every step (the first layer then integrates real-valued currents).

``x`` must be a tensor and ``n_steps`` an integer ``>= 1`` (not a float, not a bool): anything else
raises ``TypeError`` or ``ValueError`` naming it. ``rate`` and ``latency`` refuse an ``x`` holding
NaN (which they would turn into arbitrary spikes; one reduction over ``x``); ``direct`` passes
values through unchecked, as a view.
"""

from __future__ import annotations

from typing import Literal

import torch

from dassdp.checks import check_choice, check_count

Encoding = Literal["rate", "latency", "direct"]

__all__ = ["Encoding", "rate_encode", "latency_encode", "direct_encode", "encode"]


def _check_input(x: torch.Tensor, n_steps: int, finite: bool = True) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    check_count("n_steps", n_steps, 1)
    if finite and x.is_floating_point() and bool(x.isnan().any()):
        raise ValueError("x must not hold NaN")


def rate_encode(x: torch.Tensor, n_steps: int, generator: torch.Generator) -> torch.Tensor:
    """Bernoulli rate code: ``s[t, ...] ~ Bernoulli(clip(x, 0, 1))``."""
    _check_input(x, n_steps)
    if not isinstance(generator, torch.Generator):
        raise TypeError("rate_encode needs an explicit torch.Generator (seeded) as `generator`")
    p = x.clamp(0.0, 1.0).expand(n_steps, *x.shape)
    return torch.bernoulli(p, generator=generator)


def latency_encode(x: torch.Tensor, n_steps: int) -> torch.Tensor:
    """Time-to-first-spike code: one spike at ``round((1 - x) (T - 1))`` where ``x > 0``."""
    _check_input(x, n_steps)
    x = x.clamp(0.0, 1.0)
    step = torch.round((1.0 - x) * (n_steps - 1)).long()
    t = torch.arange(n_steps, device=x.device).view(-1, *([1] * x.ndim))
    return ((t == step) & (x > 0)).to(x.dtype)


def direct_encode(x: torch.Tensor, n_steps: int) -> torch.Tensor:
    """``x`` repeated over ``T`` steps (a view, no copy)."""
    _check_input(x, n_steps, finite=False)
    return x.expand(n_steps, *x.shape)


def encode(x: torch.Tensor, kind: Encoding, n_steps: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Dispatch to `rate_encode`, `latency_encode` or `direct_encode` by name."""
    check_choice("kind (the encoding)", kind, ("rate", "latency", "direct"))
    if kind == "rate":
        return rate_encode(x, n_steps, generator)
    if kind == "latency":
        return latency_encode(x, n_steps)
    return direct_encode(x, n_steps)
