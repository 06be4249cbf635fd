"""The bridge's intermediate representation: a feed-forward network as a list of *stages*.

A PyTorch model (`SpikingMLP`, `SpikingConvNet`, or a `dassdp.bridge.modules.NIRNetwork`
imported from NIR) is *lowered* to stages; Brian2 networks and NIR graphs are built from stages.
Each stage is a small dataclass whose docstring states what it computes for one sample at one
time step ``t`` (time-major, discrete steps, as `dassdp.models.snn`). Neuron indices are the
C-order flattening of the stage's shape, as ``torch.flatten`` numbers them.

Linear stages (`Affine`, `BlockAffine`, `Conv`, `SumPool`, `Flatten`) give a sparse matrix ``(n_out, n_in)``
plus a bias; consecutive linear stages between two neuron populations become one synaptic
projection. Nonlinear stages (`Neurons`, `MaxPool`) become Brian2 groups.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class ConversionError(ValueError):
    """A model, layer or graph node that the bridge cannot represent (the message names it)."""


class ConversionTypeError(ConversionError, TypeError):
    """An argument of the wrong type (a string for a model, ...): a TypeError naming the argument and
    what it accepts, and a `ConversionError` for code that catches those."""


@dataclass
class Affine:
    """``y_j[t] = sum_i W_ji x_i[t] + b_j``; ``weight`` is ``(n_out, n_in)``, ``bias`` ``(n_out,)``."""

    name: str
    weight: np.ndarray
    bias: np.ndarray
    module: Any = None

    def __post_init__(self) -> None:
        self.weight = np.asarray(self.weight, dtype=np.float64)
        if self.weight.ndim != 2:
            raise ConversionError(
                f"layer {self.name!r}: weight must be 2-d (n_out, n_in), got shape {self.weight.shape}"
            )
        self.bias = (
            np.zeros(self.weight.shape[0]) if self.bias is None else np.asarray(self.bias, dtype=np.float64).reshape(-1)
        )
        if self.bias.shape != (self.weight.shape[0],):
            raise ConversionError(
                f"layer {self.name!r}: bias has shape {self.bias.shape}, expected ({self.weight.shape[0]},)"
            )

    def in_size(self) -> int:
        return self.weight.shape[1]

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if math.prod(input_shape) != self.weight.shape[1]:
            raise ConversionError(
                f"layer {self.name!r}: expects {self.weight.shape[1]} inputs but receives shape {input_shape} "
                f"({math.prod(input_shape)} values)"
            )
        return (self.weight.shape[0],)

    def triplets(self, input_shape) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(i, j, w, k)``: pre index, post index, weight, index into ``weight.ravel()``."""
        n_out, n_in = self.weight.shape
        j, i = np.divmod(np.arange(n_out * n_in), n_in)
        return i, j, self.weight.ravel().copy(), np.arange(n_out * n_in)

    def bias_vector(self, input_shape) -> np.ndarray:
        return self.bias.copy()


@dataclass
class Conv:
    """``y_{c,p}[t] = sum_{c',k} W_{c,c',k} x_{c', s p + d k - pad}[t] + b_c`` (1-d or 2-d,
    zero padding, ``groups = 1``); ``weight`` is ``(C_out, C_in, *kernel)``."""

    name: str
    weight: np.ndarray
    bias: np.ndarray
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]
    module: Any = None

    def __post_init__(self) -> None:
        self.weight = np.asarray(self.weight, dtype=np.float64)
        dims = self.weight.ndim - 2
        if dims not in (1, 2):
            raise ConversionError(
                f"layer {self.name!r}: only 1-d and 2-d convolutions are supported, weight shape {self.weight.shape}"
            )
        self.bias = (
            np.zeros(self.weight.shape[0]) if self.bias is None else np.asarray(self.bias, dtype=np.float64).reshape(-1)
        )
        for what in ("stride", "padding", "dilation"):
            value = getattr(self, what)
            if isinstance(value, str):
                raise ConversionError(f"layer {self.name!r}: string padding {value!r} is not supported; give integers")
            value = tuple(int(v) for v in np.broadcast_to(np.asarray(value), (dims,)))
            setattr(self, what, value)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        c_out, c_in, *kernel = self.weight.shape
        if len(input_shape) != len(kernel) + 1 or input_shape[0] != c_in:
            raise ConversionError(
                f"layer {self.name!r}: expects input of shape ({c_in}, {', '.join('...' for _ in kernel)}) "
                f"but receives {input_shape}"
            )
        out = [
            (n + 2 * p - d * (k - 1) - 1) // s + 1
            for n, k, s, p, d in zip(input_shape[1:], kernel, self.stride, self.padding, self.dilation)
        ]
        if min(out) < 1:
            raise ConversionError(f"layer {self.name!r}: input {input_shape} is too small for kernel {tuple(kernel)}")
        return (c_out, *out)

    def triplets(self, input_shape):
        """Connectivity with the shared kernel expanded, computed with ``torch.nn.functional.unfold``."""
        import torch

        c_out, c_in, *kernel = self.weight.shape
        out_shape = self.output_shape(input_shape)

        def as2d(v, fill):
            return (fill, *v) if len(v) == 1 else tuple(v)

        spatial = as2d(input_shape[1:], 1)
        index = torch.arange(1, math.prod(input_shape) + 1, dtype=torch.float64).reshape(1, c_in, *spatial)
        cols = (
            torch.nn.functional.unfold(
                index,
                as2d(kernel, 1),
                dilation=as2d(self.dilation, 1),
                padding=as2d(self.padding, 0),
                stride=as2d(self.stride, 1),
            )[0]
            .long()
            .numpy()
            - 1
        )  # (C_in * K, L): pre index or -1 for padding
        n_tap, n_pos = cols.shape
        tap = np.arange(n_tap)[:, None]
        pos = np.arange(n_pos)[None, :]
        co = np.arange(c_out)[:, None, None]
        i = np.broadcast_to(cols[None], (c_out, n_tap, n_pos))
        j = np.broadcast_to(co * n_pos + pos[None], i.shape)
        k = np.broadcast_to(co * n_tap + tap[None], i.shape)
        keep = i >= 0
        assert n_pos == math.prod(out_shape[1:])
        i, j, k = i[keep], j[keep], k[keep]
        return i, j, self.weight.ravel()[k], k

    def bias_vector(self, input_shape) -> np.ndarray:
        out = self.output_shape(input_shape)
        return np.repeat(self.bias, math.prod(out[1:]))


@dataclass
class SumPool:
    """``y_{c,p}[t] = scale * sum_{k in window(p)} x_{c,k}[t]``: sum pooling (``scale = 1``) or
    average pooling (``scale = 1 / prod(kernel)``), no padding."""

    name: str
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    scale: float = 1.0
    module: Any = None

    def output_shape(self, input_shape):
        return _pool_shape(self.name, input_shape, self.kernel, self.stride)

    def triplets(self, input_shape):
        i, j = _pool_pairs(self.name, input_shape, self.kernel, self.stride)
        return i, j, np.full(len(i), float(self.scale)), None

    def bias_vector(self, input_shape):
        return np.zeros(math.prod(self.output_shape(input_shape)))


@dataclass
class Flatten:
    """``y = x`` with the shape flattened (C order): the identity on neuron indices."""

    name: str
    module: Any = None

    def output_shape(self, input_shape):
        return (math.prod(input_shape),)


@dataclass
class MaxPool:
    """``y_{c,p}[t] = max_{k in window(p)} s_{c,k}[t]`` on binary spikes: a pool neuron fires in the
    same step as soon as any input in its window fires (no padding, floor mode)."""

    name: str
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    module: Any = None

    def output_shape(self, input_shape):
        return _pool_shape(self.name, input_shape, self.kernel, self.stride)

    def pairs(self, input_shape):
        return _pool_pairs(self.name, input_shape, self.kernel, self.stride)


@dataclass
class Neurons:
    """A population of discrete-time neurons (per neuron ``beta``, ``alpha``, ``threshold``):

    - ``lif``:      ``u = beta v + I``; ``s = u > threshold``; reset ``v = u - threshold s``
      (``reset="subtract"``), ``v = u (1 - s)`` (``"zero"``) or ``v = u`` (``"none"``)
    - ``cubalif``:  ``syn = alpha syn + I``; ``u = beta v + syn``; spike and reset as ``lif``
    - ``li``:       ``v = beta v + I``, never spikes (its ``v`` is the output)

    (``if`` is ``lif`` with ``beta = 1``.) ``v`` and ``syn`` start at 0 in every sample.

    ``reset_delay`` True or False: snnTorch's step instead (``lif``: ``Leaky``, ``cubalif``:
    ``Synaptic``), with the pending reset ``r = H(v - threshold)`` of the stored membrane ``v``:
    ``lif``: ``u = (beta v + I) - r threshold`` | ``beta ((1 - r) v) + I`` | ``beta v + I``;
    ``cubalif``: ``syn = alpha syn + I``, ``a = beta v + syn``, ``u = a - r threshold`` | ``a - a r`` |
    ``a`` (subtract | zero | none); ``s = u > threshold``; stored ``v = u``, or with
    ``reset_delay=False`` ``u - (s - r) threshold`` | ``u - (s - r) u`` (see `dassdp.models.snn`).
    """

    name: str
    kind: str
    beta: np.ndarray
    threshold: np.ndarray
    reset: str = "subtract"
    alpha: np.ndarray | None = None
    module: Any = None
    shape: tuple[int, ...] | None = None
    reset_delay: bool | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("lif", "cubalif", "li"):
            raise ConversionError(
                f"layer {self.name!r}: neuron kind must be 'lif', 'cubalif' or 'li', got {self.kind!r}"
            )
        if self.reset not in ("subtract", "zero", "none"):
            raise ConversionError(
                f"layer {self.name!r}: reset must be 'subtract', 'zero' or 'none', got {self.reset!r}"
            )
        if not (self.reset_delay is None or isinstance(self.reset_delay, bool)):
            raise ConversionError(f"layer {self.name!r}: reset_delay must be None, True or False")
        self.beta = np.asarray(self.beta, dtype=np.float64).reshape(-1)
        self.threshold = np.asarray(self.threshold, dtype=np.float64).reshape(-1)
        if self.kind == "cubalif":
            if self.alpha is None:
                raise ConversionError(f"layer {self.name!r}: a cubalif population needs alpha")
            self.alpha = np.asarray(self.alpha, dtype=np.float64).reshape(-1)

    @property
    def snntorch(self) -> bool:
        """Whether the population follows snnTorch's step (``reset_delay`` True or False)."""
        return self.reset_delay is not None

    @property
    def spiking(self) -> bool:
        return self.kind != "li"

    def output_shape(self, input_shape):
        for what in ("beta", "threshold", "alpha"):
            value = getattr(self, what)
            if value is not None and value.size not in (1, math.prod(input_shape)):
                raise ConversionError(
                    f"layer {self.name!r}: {what} has {value.size} values "
                    f"but the population has {math.prod(input_shape)} neurons"
                )
        return tuple(input_shape)


@dataclass
class TimeMean:
    """``logits = (1 / T) sum_t x[t]``: the readout of `SpikingMLP` and `SpikingConvNet`."""

    name: str = "mean"


@dataclass
class BlockAffine:
    """R `Affine` blocks side by side: ``y[r n_out + j] = sum_i W_r[j, i] x[r n_in + i] + b_r[j]``.
    ``weight`` is ``(R, n_out, n_in)``, ``bias`` ``(R, n_out)``; ``blocks`` the members' stages."""

    name: str
    blocks: list

    @property
    def weight(self) -> np.ndarray:
        return np.stack([b.weight for b in self.blocks])

    @property
    def bias(self) -> np.ndarray:
        return np.stack([b.bias for b in self.blocks])

    @property
    def replicas(self) -> int:
        return len(self.blocks)

    def in_size(self) -> int:
        return self.replicas * self.blocks[0].in_size()

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        n_out, n_in = self.blocks[0].weight.shape
        if math.prod(input_shape) != self.replicas * n_in:
            raise ConversionError(
                f"layer {self.name!r}: expects {self.replicas} x {n_in} inputs but receives shape {input_shape}"
            )
        return (self.replicas * n_out,)

    def triplets(self, input_shape) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(i, j, w, k)`` replica by replica, each block in `Affine`'s order; ``k`` indexes
        ``weight.ravel()``."""
        n_out, n_in = self.blocks[0].weight.shape
        parts = [b.triplets((n_in,)) for b in self.blocks]
        i = np.concatenate([p[0] + r * n_in for r, p in enumerate(parts)])
        j = np.concatenate([p[1] + r * n_out for r, p in enumerate(parts)])
        w = np.concatenate([p[2] for p in parts])
        k = np.concatenate([p[3] + r * n_out * n_in for r, p in enumerate(parts)])
        return i, j, w, k

    def bias_vector(self, input_shape) -> np.ndarray:
        return self.bias.ravel().copy()


LINEAR = (Affine, BlockAffine, Conv, SumPool, Flatten)


@dataclass
class Plan:
    """Stages in order, with the input shape of one sample (without time and batch)."""

    input_shape: tuple[int, ...]
    stages: list
    meta: dict = field(default_factory=dict)

    def shapes(self) -> list[tuple[int, ...]]:
        """Output shape of every stage (validates the chain; errors name the stage)."""
        shape, out = tuple(self.input_shape), []
        for stage in self.stages:
            if not isinstance(stage, TimeMean):
                shape = tuple(stage.output_shape(shape))
            out.append(shape)
        return out


def _pool_shape(name, input_shape, kernel, stride):
    dims = len(input_shape) - 1
    kernel, stride = tuple(np.broadcast_to(kernel, (dims,))), tuple(np.broadcast_to(stride, (dims,)))
    out = [(n - k) // s + 1 for n, k, s in zip(input_shape[1:], kernel, stride)]
    if min(out) < 1:
        raise ConversionError(f"layer {name!r}: input {input_shape} is smaller than the pooling kernel {kernel}")
    return (input_shape[0], *out)


def _pool_pairs(name, input_shape, kernel, stride):
    """Every (input, output) index pair of a pooling window, computed with ``unfold``."""
    import torch

    dims = len(input_shape) - 1
    kernel = tuple(int(k) for k in np.broadcast_to(kernel, (dims,)))
    stride = tuple(int(s) for s in np.broadcast_to(stride, (dims,)))
    out = _pool_shape(name, input_shape, kernel, stride)
    channels = input_shape[0]
    as2d = (lambda v: (1, *v)) if dims == 1 else (lambda v: tuple(v))
    index = torch.arange(math.prod(input_shape), dtype=torch.float64).reshape(channels, 1, *as2d(input_shape[1:]))
    cols = torch.nn.functional.unfold(index, as2d(kernel), stride=as2d(stride)).long().numpy()  # (C, K, L)
    n_pos = cols.shape[2]
    assert n_pos == math.prod(out[1:])
    j = np.broadcast_to(np.arange(channels)[:, None, None] * n_pos + np.arange(n_pos)[None, None, :], cols.shape)
    return cols.ravel(), j.ravel()
