"""NIR export and import (nir 1.0): chains of Affine/Linear, Conv1d/Conv2d, LIF, IF, CubaLIF, LI,
SumPool2d/AvgPool2d, Flatten between an Input and an Output node.

**What NIR leaves open.** NIR states continuous-time equations; it fixes neither the time step
``dt`` nor a reset other than ``v = v_reset`` at the instant of the spike. Each framework that
writes NIR fills the gaps its own way, so `from_nir` takes a ``convention`` naming the writer and
warns once (one ``UserWarning`` listing every item) about whatever neither the graph nor the
caller states: ``dt``, the reset, the reset timing.

**Discretisation** (forward Euler with step ``dt``, as snnTorch and Norse use) onto this
package's neurons, which integrate their input unscaled (`dassdp.models.snn`):

- ``LIF(tau, r, v_leak=0, v_threshold, v_reset=0)``: ``beta = 1 - dt / tau``, input gain
  ``g = r dt / tau``;
- ``IF(r, v_threshold, v_reset=0)``: ``beta = 1``, ``g = r dt``;
- ``CubaLIF(tau_syn, tau_mem, r, w_in, v_leak=0, v_threshold, v_reset=0)``:
  ``alpha = 1 - dt / tau_syn``, ``beta = 1 - dt / tau_mem``, ``g = (w_in dt / tau_syn) (r dt / tau_mem)``;
- ``LI(tau, r, v_leak=0)``: ``beta = 1 - dt / tau``, ``g = r dt / tau`` (must be 1: the LI output
  is the membrane itself).

A spiking neuron with gain ``g`` obeys ``v[t] = beta v[t-1] + g I[t]``; with ``w = v / g`` that is
``w[t] = beta w[t-1] + I[t]`` and threshold ``v_threshold / g``, so the gain is moved into the
threshold (exact up to float rounding; gains within 1e-6 of 1 count as 1, so snnTorch's float32
graphs keep their thresholds bit for bit). Decay factors computed from float32 time constants are
rounded to float32 (the writer's precision: snnTorch's ``beta = 0.9`` is a float32).

**Conventions** (``from_nir(..., convention=...)``):

- ``"nir"`` (default): the equations above; ``reset = "zero"`` applied in the step of the spike
  (NIR's ``v = v_reset``, `dassdp.models.snn.LIF` with ``reset_delay=None``); ``dt`` from the graph's
  metadata, else assumed 1e-4 s (with the warning).
- ``"snntorch"``: graphs from ``snntorch.export_nir.export_to_nir`` (snnTorch 1.0.0). It writes
  ``tau = dt / (1 - beta)``, ``r = tau / dt`` (``g = 1``), ``v_reset = 0`` with ``dt = 1e-4``
  hard-coded (its ``import_from_nir`` uses the same ``dt``), and ``Synaptic`` as CubaLIF with
  ``w_in = tau_syn / dt``. It does **not** write ``reset_mechanism`` nor ``reset_delay``: both are
  assumed to be snnTorch's defaults, ``"subtract"`` and ``reset_delay=True`` (with the warning;
  snnTorch's own ``import_from_nir`` instead builds ``Leaky(reset_mechanism="zero",
  reset_delay=False)``). The neurons then run snnTorch's step (`dassdp.models.snn` module
  docstring: ``LIF``/``CubaLIF`` with ``reset_delay`` True or False), which reproduces
  ``snn.Leaky``/``snn.Synaptic`` spike for spike. snnTorch 1.0.0's ``export_to_nir`` fails for a
  scalar ``beta`` or ``threshold`` (``ValueError: Type inference error`` / ``AssertionError: All
  parameters must have the same shape``) before any graph exists; give each ``Leaky`` per-neuron
  tensors, e.g. ``beta=torch.full((n,), 0.9), threshold=torch.ones(n)`` (same dynamics).
- ``"norse"``: graphs from ``norse.torch.to_nir`` (Norse 1.1.0). It writes ``tau = dt * tau_mem``
  (``dt / tau_mem_inv``; norse/norse issue 411), ``r = 1`` and parameters of size 1 (issue 412), an
  Input node with the sample's batch dimension, and not its ``dt`` (default 1e-3 s) nor its
  ``reset_method`` (default ``reset_value``: zero, in the step of the spike). So ``LIF`` reads
  ``tau_mem = tau / dt``, ``beta = 1 - dt / tau_mem``, ``g = r dt / tau_mem``; ``IF`` (Norse's
  ``IAFCell``: ``v += I``) ``g = r``; a leading Input dimension of size 1 is dropped; ``dt`` and
  ``reset`` are assumed (with the warning). CubaLIF (Norse's ``LIFCell``, whose membrane sees the
  synaptic current one step later) and LI nodes are refused. A Norse graph with size-1 parameters
  cannot be written to a file (h5py: "Scalar datasets don't support chunk/filter options"); with
  per-neuron parameters it can, and `read_graph` reads it without NIR's type check (which rejects
  the batch dimension).

The graph's own metadata (written by `to_nir`) takes precedence over a convention's assumptions,
and arguments (``dt``, ``reset``, ``resets``, ``reset_delay``) over both.

**Export** (`to_nir`): ``LIF`` layers with one ``beta`` and one threshold are written with ``r = 1``
and ``v_threshold = threshold dt / tau`` (NIR's unit resistance, which Norse 1.1's reader assumes:
it ignores ``r``; snnTorch's reader moves ``r dt / tau`` back into the threshold); others with
``r = tau / dt`` and ``v_threshold = threshold`` (snnTorch's form); CubaLIF with ``w_in = tau_syn /
dt``, ``r = tau_mem / dt`` (unit gains in both readers); IF with ``r = 1 / dt``; LI with ``r = tau / dt``. So a
layer with ``reset="zero"`` (and this package's step) spikes the same in snnTorch 1.0.0's
``import_from_nir`` and in Norse 1.1.0's ``from_nir(graph, dt=graph.metadata["dt"])`` (Norse's
reader defaults to dt = 1e-3). NIR cannot say a subtractive reset, no reset, nor snnTorch's reset
timing; for such layers, for IF and LI layers (snnTorch 1.0.0 reads IF with a leak of 0.9 and
asserts ``r == 1``; neither reader has LI), and for a ``dt`` other than snnTorch's fixed 1e-4,
`to_nir` warns (one ``UserWarning`` naming the layers and what the readers will do instead) and
keeps the semantics in the metadata. A time-mean readout has no NIR node: other readers output the
readout layer at every step. Metadata keys (all written by `to_nir`, read by `from_nir`):

- ``"dt"``: the time step in seconds;
- ``"reset"``: ``"zero"``, ``"subtract"``, ``"none"``, or ``"per_node"``;
- ``"reset_per_node"``: node name -> reset of every spiking layer;
- ``"reset_delay_per_node"``: node name -> ``"none"`` (this package's step, reset in the step of
  the spike), ``"true"`` or ``"false"`` (snnTorch's step with that ``reset_delay``);
- ``"readout"``: ``"time_mean"`` or ``"none"``;
- ``"dassdp_beta"``, ``"dassdp_alpha"``, ``"dassdp_threshold"``: node name -> the exact per-neuron
  ``beta``, ``alpha``, threshold, used when they agree with the node's parameters (so that
  PyTorch -> NIR -> PyTorch is bit-exact: ``1 - dt / (dt / (1 - beta))`` may differ from ``beta``
  in the last bit);
- ``"written_by"``: ``"dassdp"``.

**Errors.** A node that cannot be represented raises `ConversionError` naming it and the setting:
NaN or infinite parameters (a NaN layer would simply never spike in Brian2), a time constant
``<= 0``, ``v_leak != 0``, ``v_reset != 0``, a gain ``<= 0``, ``beta`` outside [0, 1] (``dt > tau``),
or an Output node whose shape is not that of the layer before it (size-1 dimensions aside). A
``graph_or_path`` that is neither a graph nor a path, or a ``model`` that is not a
``torch.nn.Module``, raises TypeError; a bad argument ValueError or TypeError naming it.
"""

from __future__ import annotations

import itertools
import math
import os
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from dassdp.bridge import modules as M
from dassdp.bridge.lower import check_model, check_shape, lower
from dassdp.bridge.plan import (
    Affine,
    Conv,
    ConversionError,
    ConversionTypeError,
    Flatten,
    MaxPool,
    Neurons,
    SumPool,
    TimeMean,
)
from dassdp.checks import check_choice, check_positive, check_type, describe

__all__ = ["CONVENTIONS", "DEFAULT_DT", "NORSE_DT", "SUPPORTED_NODES", "from_nir", "read_graph", "to_nir"]

#: snnTorch 1.0.0 writes and reads NIR with forward Euler and dt = 1e-4 s (hard-coded)
DEFAULT_DT = 1e-4
#: Norse 1.1.0's ``to_nir`` and ``from_nir`` default to dt = 1e-3 s
NORSE_DT = 1e-3
#: the writers whose conventions `from_nir` knows
CONVENTIONS = ("nir", "snntorch", "norse")
#: the reset semantics `from_nir` accepts
RESETS = ("zero", "subtract", "none")
#: the metadata spelling of a reset timing (``reset_delay`` None, True, False)
_DELAY_NAMES = {None: "none", True: "true", False: "false"}
SUPPORTED_NODES = (
    "Input",
    "Output",
    "Affine",
    "Linear",
    "Conv1d",
    "Conv2d",
    "LIF",
    "IF",
    "CubaLIF",
    "LI",
    "SumPool2d",
    "AvgPool2d",
    "Flatten",
)
#: NIR's spiking neuron nodes (the ones a reset applies to)
_SPIKING = ("LIF", "IF", "CubaLIF")


@dataclass(frozen=True)
class _Convention:
    """A writer's reading of NIR (module docstring). ``*_why`` is the reason given when the value
    is assumed; None where the convention itself fixes the value (no warning)."""

    dt: float
    dt_why: str | None
    reset: str
    reset_why: str | None
    reset_delay: bool | None
    reset_delay_why: str | None
    tau_times_dt: bool = False  # Norse 1.1 writes tau * dt
    if_gain_per_step: bool = False  # Norse's IAFCell: v += r I, whatever dt
    batch_in_input: bool = False  # Norse 1.1's Input node keeps the batch dimension


_CONVENTIONS = {
    "nir": _Convention(
        DEFAULT_DT,
        "NIR fixes no time step and the graph's metadata has no 'dt'; "
        "graphs from snnTorch: convention='snntorch', from Norse: convention='norse'",
        "zero",
        "NIR's v = v_reset in the step of the spike; snnTorch's Leaky subtracts by default, one step later: "
        "convention='snntorch'",
        None,
        None,
    ),
    "snntorch": _Convention(
        DEFAULT_DT,
        None,
        "subtract",
        "snnTorch Leaky's default reset_mechanism; export_to_nir does not write it "
        "(snnTorch's import_from_nir uses 'zero')",
        True,
        "snnTorch's default; export_to_nir does not write it (snnTorch's import_from_nir uses False)",
    ),
    "norse": _Convention(
        NORSE_DT,
        "norse.torch.to_nir's default, not written to the graph",
        "zero",
        "Norse's default reset_method reset_value; to_nir does not write it",
        None,
        None,
        tau_times_dt=True,
        if_gain_per_step=True,
        batch_in_input=True,
    ),
}


def _full(value, shape) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype=np.float64), shape).copy()


def _uniform(values: np.ndarray) -> bool:
    return bool(np.all(values == values.reshape(-1)[0]))


def to_nir(model: nn.Module, dt: float = DEFAULT_DT, input_shape: tuple[int, ...] | None = None):
    """``model`` as a ``nir.NIRGraph`` (float64 parameters) with its semantics in the metadata
    (module docstring: node forms, metadata keys). Warns once (``UserWarning``) naming the layers
    that snnTorch's and Norse's readers will run differently. Max pooling has no NIR node and is
    rejected."""
    import nir

    check_model(model)
    check_positive("dt", dt)
    plan = lower(model, None if input_shape is None else check_shape("input_shape", input_shape))
    shapes = plan.shapes()
    nodes: dict[str, Any] = {"input": nir.Input(input_type=np.array(plan.input_shape))}
    order = ["input"]
    neurons: list[Neurons] = []
    tables: dict[str, dict[str, np.ndarray]] = {"dassdp_beta": {}, "dassdp_alpha": {}, "dassdp_threshold": {}}
    readout = None
    in_shape = tuple(plan.input_shape)
    for stage, shape in zip(plan.stages, shapes):
        name = stage.name
        if isinstance(stage, TimeMean):
            readout = "time_mean"
            continue
        if isinstance(stage, MaxPool):
            raise ConversionError(f"layer {name!r} (MaxPool): NIR 1.0 has no max-pooling node; use SumPool2d/AvgPool2d")
        if isinstance(stage, Affine):
            node = nir.Affine(weight=stage.weight.copy(), bias=stage.bias.copy())
        elif isinstance(stage, Conv):
            cls = nir.Conv1d if stage.weight.ndim == 3 else nir.Conv2d
            spatial = in_shape[1] if stage.weight.ndim == 3 else tuple(in_shape[1:])
            unwrap = (lambda v: v[0]) if stage.weight.ndim == 3 else tuple
            node = cls(
                input_shape=spatial,
                weight=stage.weight.copy(),
                stride=unwrap(stage.stride),
                padding=unwrap(stage.padding),
                dilation=unwrap(stage.dilation),
                groups=1,
                bias=stage.bias.copy(),
            )
        elif isinstance(stage, SumPool):
            if len(stage.kernel) != 2:
                raise ConversionError(f"layer {name!r}: NIR has 2-d pooling nodes only")
            cls = nir.SumPool2d if stage.scale == 1.0 else nir.AvgPool2d
            node = cls(kernel_size=np.array(stage.kernel), stride=np.array(stage.stride), padding=np.array([0, 0]))
        elif isinstance(stage, Flatten):
            node = nir.Flatten(input_type={"input": np.array(in_shape)}, start_dim=0, end_dim=-1)
        elif isinstance(stage, Neurons):
            node = _neuron_node(stage, shape, dt)
            tables["dassdp_beta"][name] = _full(stage.beta, shape)
            if stage.spiking:
                neurons.append(stage)
                tables["dassdp_threshold"][name] = _full(stage.threshold, shape)
            if stage.alpha is not None:
                tables["dassdp_alpha"][name] = _full(stage.alpha, shape)
        else:  # pragma: no cover - lower() only produces the stages above
            raise ConversionError(f"layer {name!r}: no NIR node")
        nodes[name] = node
        order.append(name)
        in_shape = tuple(shape)
    nodes["output"] = nir.Output(output_type=np.array(in_shape))
    order.append("output")
    resets = {stage.name: stage.reset for stage in neurons}
    modes = set(resets.values())
    metadata = {
        "dt": float(dt),
        "reset": modes.pop() if len(modes) == 1 else "per_node",
        "reset_per_node": resets,
        "reset_delay_per_node": {stage.name: _DELAY_NAMES[stage.reset_delay] for stage in neurons},
        "readout": readout or "none",
        **tables,
        "written_by": "dassdp",
    }
    _warn_export(neurons, plan.stages, dt)
    return nir.NIRGraph(nodes=nodes, edges=list(itertools.pairwise(order)), metadata=metadata)


def _warn_export(neurons: list[Neurons], stages, dt: float) -> None:
    """One ``UserWarning`` naming the layers that other NIR readers will run differently."""
    problems = []
    by_reset: dict[str, list[str]] = {}
    for stage in neurons:
        same_step_zero = stage.reset == "zero" and (
            stage.reset_delay is not True or stage.kind == "lif"  # Leaky: the delay does not change spikes
        )
        if not same_step_zero:
            delay = "" if stage.reset_delay is None else f", snnTorch reset_delay={stage.reset_delay}"
            by_reset.setdefault(f"reset={stage.reset!r}{delay}", []).append(stage.name)
    for what, names in by_reset.items():
        problems.append(
            f"layers {names} ({what}): NIR only says 'v = v_reset (0) in the step of the spike', so "
            "snnTorch's import_from_nir (Leaky/Synaptic reset_mechanism='zero', reset_delay=False) and Norse's "
            "from_nir (its reset_method reaches CubaLIF nodes only) reset them to zero in the step of the spike"
        )
    if_layers = [s.name for s in neurons if s.kind == "lif" and np.all(s.beta == 1.0)]
    if if_layers:
        problems.append(
            f"layers {if_layers} (beta = 1) are IF nodes (r = 1/dt): snnTorch 1.0.0's import_from_nir asserts r == 1 "
            "and gives IF a leak of 0.9"
        )
    li_layers = [s.name for s in stages if isinstance(s, Neurons) and s.kind == "li"]
    if li_layers:
        problems.append(f"layers {li_layers} are LI nodes, which neither snnTorch 1.0.0 nor Norse 1.1.0 reads")
    if neurons and dt != DEFAULT_DT:
        problems.append(
            f"dt = {dt} s: snnTorch 1.0.0's import_from_nir assumes dt = {DEFAULT_DT} s and so reads other decay "
            "factors (Norse: pass dt= to its from_nir)"
        )
    if problems:
        warnings.warn(
            "to_nir: the graph keeps this package's semantics in its metadata (read by dassdp's from_nir), but "
            + "; ".join(problems),
            UserWarning,
            stacklevel=3,
        )


def _neuron_node(stage: Neurons, shape, dt: float):
    import nir

    beta = _full(stage.beta, shape)
    if stage.kind == "li":
        tau = dt / (1 - beta)
        return nir.LI(tau=tau, r=tau / dt, v_leak=np.zeros(shape))
    threshold = _full(stage.threshold, shape)
    if stage.kind == "lif" and np.all(beta == 1.0):
        return nir.IF(r=np.full(shape, 1.0 / dt), v_threshold=threshold, v_reset=np.zeros(shape))
    if np.any(beta >= 1.0) or np.any(beta < 0):
        raise ConversionError(
            f"layer {stage.name!r}: beta must lie in [0, 1) for a NIR LIF node (1 only for all neurons: IF)"
        )
    tau = dt / (1 - beta)
    if stage.kind == "lif":
        if _uniform(beta) and _uniform(threshold):  # r = 1: what Norse's reader assumes
            return nir.LIF(
                tau=tau,
                r=np.ones(shape),
                v_leak=np.zeros(shape),
                v_threshold=threshold * (dt / tau),
                v_reset=np.zeros(shape),
            )
        return nir.LIF(tau=tau, r=tau / dt, v_leak=np.zeros(shape), v_threshold=threshold, v_reset=np.zeros(shape))
    alpha = _full(stage.alpha, shape)
    tau_syn = dt / (1 - alpha)
    return nir.CubaLIF(
        tau_syn=tau_syn,
        tau_mem=tau,
        r=tau / dt,
        v_leak=np.zeros(shape),
        v_threshold=threshold,
        v_reset=np.zeros(shape),
        w_in=tau_syn / dt,
    )


def read_graph(graph_or_path):
    """A ``nir.NIRGraph`` from a graph or a ``.nir`` file (`ConversionError` for a file that is not a
    graph, TypeError for an argument that is neither a graph nor a path). Files are read without
    NIR's type check (Norse 1.1.0 writes Input shapes with a batch dimension that it rejects);
    `from_nir` checks the shapes itself."""
    import nir

    if isinstance(graph_or_path, nir.NIRGraph):
        return graph_or_path
    if isinstance(graph_or_path, (str, os.PathLike)):
        path = os.fspath(graph_or_path)
        if not os.path.isfile(path):
            raise ConversionError(f"NIR file {path!r} does not exist")
        try:
            graph = nir.read(path, type_check=False)
        except Exception as exc:  # h5py/KeyError/... for files that are not NIR graphs
            raise ConversionError(
                f"{path!r} is not a NIR graph (nir.read failed: {type(exc).__name__}: {exc})"
            ) from exc
        if not isinstance(graph, nir.NIRGraph):
            raise ConversionError(f"{path!r} holds a single NIR node ({type(graph).__name__}), not a graph")
        return graph
    raise ConversionTypeError(
        f"graph_or_path must be a nir.NIRGraph or a path to a .nir file, got {describe(graph_or_path)}"
    )


@dataclass
class _Reading:
    """How `from_nir` reads one graph: ``dt``, the convention, the graph's metadata, and the reset
    and ``reset_delay`` of each spiking node."""

    dt: float
    convention: _Convention
    metadata: dict
    resets: dict[str, str]
    reset_delays: dict[str, bool | None]


def _chain(graph) -> list[str]:
    """Node names from the Input to the Output; rejects anything that is not a chain."""
    import nir

    inputs = [k for k, n in graph.nodes.items() if isinstance(n, nir.Input)]
    if len(inputs) != 1:
        raise ConversionError(f"the NIR graph must have exactly one Input node, found {inputs}")
    successors: dict[str, list[str]] = {}
    for src, dst in graph.edges:
        for end in (src, dst):
            if end not in graph.nodes:
                raise ConversionError(f"NIR edge ({src!r}, {dst!r}) names a node that is not in the graph")
        successors.setdefault(src, []).append(dst)
    chain, node, seen = [], inputs[0], set()
    while True:
        if node in seen:
            raise ConversionError(f"NIR node {node!r} is part of a cycle; only feed-forward chains are supported")
        seen.add(node)
        chain.append(node)
        nxt = successors.get(node, [])
        if not nxt:
            break
        if len(nxt) > 1:
            raise ConversionError(f"NIR node {node!r} has {len(nxt)} outgoing edges {nxt}; only chains are supported")
        node = nxt[0]
    if not isinstance(graph.nodes[chain[-1]], nir.Output):
        raise ConversionError(
            f"the NIR chain ends at {chain[-1]!r} ({type(graph.nodes[chain[-1]]).__name__}), not an Output node"
        )
    unused = set(graph.nodes) - seen
    if unused:
        raise ConversionError(f"NIR nodes {sorted(unused)} are not on the chain from Input to Output")
    return chain


def _meta(metadata: dict, key: str, default=None):
    value = metadata.get(key, default) if isinstance(metadata, dict) else default
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode()
    return value


#: the numeric parameters of each node type, checked to be finite
_PARAMETERS = {
    "Affine": ("weight", "bias"),
    "Linear": ("weight",),
    "Conv1d": ("weight", "bias"),
    "Conv2d": ("weight", "bias"),
    "LIF": ("tau", "r", "v_leak", "v_threshold", "v_reset"),
    "IF": ("r", "v_threshold", "v_reset"),
    "CubaLIF": ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in"),
    "LI": ("tau", "r", "v_leak"),
}
#: time constants, which must be > 0
_TIME_CONSTANTS = ("tau", "tau_syn", "tau_mem")


def _check_parameters(name: str, node) -> None:
    """Raise `ConversionError` naming the node and parameter that is not numeric, holds NaN or
    infinite values, or (a time constant) is ``<= 0``."""
    kind = type(node).__name__
    for what in _PARAMETERS.get(kind, ()):
        value = getattr(node, what, None)
        if value is None:
            continue
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise ConversionError(f"NIR node {name!r} ({kind}): {what} is not numeric ({describe(value)})") from None
        bad = int(np.count_nonzero(~np.isfinite(array)))
        if bad:
            raise ConversionError(
                f"NIR node {name!r} ({kind}): {what} has {bad} NaN or infinite value(s) of {array.size}"
            )
        if what in _TIME_CONSTANTS and np.any(array <= 0):
            raise ConversionError(f"NIR node {name!r} ({kind}): {what} must be > 0, got min {array.min()!r}")


def _node_module(name: str, node, shape, reading: _Reading):
    """One NIR node as a PyTorch module and its output shape."""
    import nir

    _check_parameters(name, node)

    if isinstance(node, (nir.Affine, nir.Linear)):
        weight = np.asarray(node.weight, dtype=np.float64)
        if weight.ndim != 2 or math.prod(shape) != weight.shape[1]:
            raise ConversionError(
                f"NIR node {name!r} ({type(node).__name__}): weight {weight.shape} does not fit input shape {shape}"
            )
        layer = nn.Linear(weight.shape[1], weight.shape[0], bias=isinstance(node, nir.Affine)).double()
        with torch.no_grad():
            layer.weight.copy_(torch.as_tensor(weight))
            if layer.bias is not None:
                layer.bias.copy_(torch.as_tensor(np.asarray(node.bias, dtype=np.float64).reshape(-1)))
        return layer, (weight.shape[0],)
    if isinstance(node, (nir.Conv1d, nir.Conv2d)):
        weight = np.asarray(node.weight, dtype=np.float64)
        if node.groups != 1 or isinstance(node.padding, str):
            raise ConversionError(
                f"NIR node {name!r} ({type(node).__name__}): groups != 1 and string padding are not supported"
            )
        cls = nn.Conv1d if isinstance(node, nir.Conv1d) else nn.Conv2d
        dims = weight.ndim - 2

        def fix(v):
            return tuple(int(x) for x in np.broadcast_to(np.asarray(v), (dims,)))

        layer = cls(
            weight.shape[1],
            weight.shape[0],
            tuple(weight.shape[2:]),
            stride=fix(node.stride),
            padding=fix(node.padding),
            dilation=fix(node.dilation),
        ).double()
        with torch.no_grad():
            layer.weight.copy_(torch.as_tensor(weight))
            layer.bias.copy_(torch.as_tensor(np.asarray(node.bias, dtype=np.float64).reshape(-1)))
        stage = Conv(name, weight, node.bias, layer.stride, layer.padding, layer.dilation)
        return layer, stage.output_shape(tuple(shape))
    if isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
        if np.any(np.asarray(node.padding) != 0):
            raise ConversionError(f"NIR node {name!r} ({type(node).__name__}): padding is not supported")
        kernel = tuple(int(k) for k in np.broadcast_to(node.kernel_size, (2,)))
        stride = tuple(int(k) for k in np.broadcast_to(node.stride, (2,)))
        layer = M.SumPool2d(kernel, stride) if isinstance(node, nir.SumPool2d) else nn.AvgPool2d(kernel, stride)
        return layer, SumPool(name, kernel, stride).output_shape(tuple(shape))
    if isinstance(node, nir.Flatten):
        n_dims = len(shape)
        start, end = node.start_dim % n_dims, node.end_dim % n_dims
        if end != n_dims - 1 or math.prod(shape[:start]) != 1:
            raise ConversionError(
                f"NIR node {name!r} (Flatten): only flattening all feature dimensions is supported "
                f"(start_dim={node.start_dim}, end_dim={node.end_dim}, input shape {shape})"
            )
        return nn.Flatten(), (math.prod(shape),)
    if isinstance(node, (nir.LIF, nir.IF, nir.CubaLIF, nir.LI)):
        return _neuron_module(name, node, tuple(shape), reading)
    if isinstance(node, nir.NIRGraph):
        raise ConversionError(
            f"NIR node {name!r} is a nested graph (e.g. a recurrent layer); only flat chains are supported"
        )
    raise ConversionError(
        f"NIR node {name!r} ({type(node).__name__}) has no dassdp/Brian2 equivalent; "
        f"supported nodes: {', '.join(SUPPORTED_NODES)}"
    )


def _check_output(name: str, node, previous: str, shape: tuple[int, ...]) -> None:
    """The Output node's shape must be that of the layer before it (size-1 dimensions aside); an
    Output without a shape is accepted."""
    declared = node.output_type.get("output") if isinstance(node.output_type, dict) else None
    if declared is None or np.asarray(declared).size == 0:
        return
    declared = tuple(int(n) for n in np.asarray(declared).reshape(-1))

    def squeezed(s):
        return tuple(n for n in s if n != 1)

    if squeezed(declared) != squeezed(tuple(shape)):
        raise ConversionError(
            f"NIR Output node {name!r}: its shape {declared} is not the shape {tuple(shape)} of the layer before it "
            f"({previous!r})"
        )


def _exact(name: str, reading: _Reading, table: str, computed: np.ndarray, like=None) -> np.ndarray:
    """The exact values stored by `to_nir` under ``table`` when they agree with ``computed`` (relative
    1e-9), else ``computed``, rounded to float32 when the graph stores ``like`` in float32 (the
    writer's precision: snnTorch's ``beta = 0.9`` is a float32, and so is its ``tau``)."""
    if like is not None and np.asarray(like).dtype == np.float32:
        computed = computed.astype(np.float32).astype(np.float64)
    stored = reading.metadata.get(table, {})
    if isinstance(stored, dict) and name in stored:
        exact = np.asarray(stored[name], dtype=np.float64)
        if exact.shape == computed.shape and np.allclose(exact, computed, rtol=1e-9, atol=1e-12):
            return exact
    return computed


def _neuron_module(name: str, node, shape: tuple[int, ...], reading: _Reading):
    """A NIR neuron node as `dassdp.models.snn.LIF`, `dassdp.bridge.modules.CubaLIF` or
    `dassdp.bridge.modules.LI` (module docstring: the mapping and the gain moved into the threshold)."""
    import nir

    from dassdp.models.snn import LIF

    kind, dt, convention = type(node).__name__, reading.dt, reading.convention

    def values(what, value=None):
        value = getattr(node, what) if value is None else value
        array = np.asarray(value, dtype=np.float64)
        if array.size not in (1, math.prod(shape)):
            raise ConversionError(
                f"NIR node {name!r} ({kind}): {what} has {array.size} values but receives {math.prod(shape)} inputs"
            )
        return np.broadcast_to(array.reshape(-1) if array.size == 1 else array.reshape(shape), shape).copy()

    def time_constant(what):
        tau = values(what)
        return tau / dt if convention.tau_times_dt else tau

    for what in ("v_leak", "v_reset"):
        if getattr(node, what, None) is not None and np.any(np.asarray(getattr(node, what)) != 0):
            raise ConversionError(f"NIR node {name!r} ({kind}): {what} != 0 is not supported")
    if isinstance(node, nir.CubaLIF) and convention.tau_times_dt:
        raise ConversionError(
            f"NIR node {name!r} (CubaLIF) under convention 'norse': Norse 1.1's LIFCell, which it exports as "
            "CubaLIF, feeds the synaptic current to the membrane one step later; this package's CubaLIF has no "
            "such delay (import with convention='nir' for NIR's equations)"
        )
    alpha = None
    if isinstance(node, nir.IF):
        beta = np.ones(shape)
        gain = values("r") * (1.0 if convention.if_gain_per_step else dt)
    elif isinstance(node, (nir.LIF, nir.LI)):
        tau = time_constant("tau")
        beta = _exact(name, reading, "dassdp_beta", 1.0 - dt / tau, node.tau)
        gain = values("r") * dt / tau
    else:  # CubaLIF
        tau_mem, tau_syn = time_constant("tau_mem"), time_constant("tau_syn")
        beta = _exact(name, reading, "dassdp_beta", 1.0 - dt / tau_mem, node.tau_mem)
        alpha = _exact(name, reading, "dassdp_alpha", 1.0 - dt / tau_syn, node.tau_syn)
        gain = (values("w_in") * dt / tau_syn) * (values("r") * dt / tau_mem)
    for what, decay in (("beta", beta), ("alpha", alpha)):
        if decay is not None and np.any((decay < 0) | (decay > 1)):
            raise ConversionError(
                f"NIR node {name!r} ({kind}): dt={dt} gives {what} outside [0, 1] (dt > the time constant"
                + ("; Norse 1.1 writes tau * dt: convention='norse'" if not convention.tau_times_dt else "")
                + ")"
            )
    if np.any(gain <= 0):
        raise ConversionError(f"NIR node {name!r} ({kind}): input gain must be > 0, got min {gain.min()!r}")
    gain = np.where(np.isclose(gain, 1.0, rtol=1e-6, atol=0), 1.0, gain)  # float32 graphs (snnTorch): 1 to ~1e-8
    if isinstance(node, nir.LI):
        if np.any(gain != 1.0):
            raise ConversionError(
                f"NIR node {name!r} (LI): input gain r*dt/tau = {np.unique(gain)[:3]} is not 1 at dt={dt}; the LI "
                "output is its membrane, so the gain cannot move into a threshold (pass the dt the graph was "
                "written for, where r = tau/dt)"
            )
        return M.LI(torch.as_tensor(_scalar_or_array(beta))), shape
    threshold = _exact(name, reading, "dassdp_threshold", values("v_threshold") / gain)
    if np.any(threshold <= 0):
        raise ConversionError(f"NIR node {name!r} ({kind}): v_threshold must be > 0, got min {threshold.min()!r}")
    reset, reset_delay = reading.resets[name], reading.reset_delays[name]
    if alpha is not None:
        layer = M.CubaLIF(
            _scalar_or_array(alpha), _scalar_or_array(beta), _scalar_or_array(threshold), reset, reset_delay
        )
        return layer, shape
    threshold_v = _scalar_or_array(threshold)
    layer = LIF(
        beta=torch.as_tensor(_scalar_or_array(beta), dtype=torch.float64),
        threshold=float(threshold_v) if np.ndim(threshold_v) == 0 else torch.as_tensor(threshold_v),
        reset=reset,
        reset_delay=reset_delay,
    )
    return layer, shape


def _scalar_or_array(values: np.ndarray):
    """One float64 number when all ``values`` agree, else the array."""
    values = np.asarray(values, dtype=np.float64)
    return np.float64(values.reshape(-1)[0]) if _uniform(values) else values


def _input_shape(name: str, node, convention: _Convention) -> tuple[int, ...]:
    shape = node.input_type.get("input") if isinstance(node.input_type, dict) else None
    if shape is None:
        raise ConversionError(f"NIR Input node {name!r} has no shape")
    shape = tuple(int(n) for n in np.asarray(shape).reshape(-1))
    if convention.batch_in_input and len(shape) > 1 and shape[0] == 1:
        shape = shape[1:]  # Norse 1.1 writes the sample's batch dimension
    if not shape or min(shape) < 1:
        raise ConversionError(f"NIR Input node {name!r}: its shape {shape} must have dimensions >= 1")
    return shape


def _stated_delay(value) -> bool | None:
    """A ``reset_delay_per_node`` entry (``"none"``, ``"true"``, ``"false"``) as None/True/False."""
    names = {v: k for k, v in _DELAY_NAMES.items()}
    if value not in names:
        raise ConversionError(
            f"the graph's metadata: reset_delay_per_node values must be {tuple(names)}, got {value!r}"
        )
    return names[value]


def from_nir(
    graph_or_path,
    *,
    convention: str = "nir",
    dt: float | None = None,
    reset: str | None = None,
    resets: dict[str, str] | None = None,
    reset_delay: bool | None = None,
) -> M.NIRNetwork:
    """A `dassdp.bridge.modules.NIRNetwork` (float64) from a NIR graph or ``.nir`` file.

    ``convention`` names the writer whose reading of NIR to reproduce: ``"nir"`` (NIR's equations,
    reset to ``v_reset`` in the step of the spike), ``"snntorch"`` (snnTorch 1.0.0's
    ``export_to_nir``) or ``"norse"`` (Norse 1.1.0's ``to_nir``); the module docstring gives each
    mapping. What the graph does not state is taken from the arguments:

    - ``dt``: the time step in seconds (default: the graph's metadata, else the convention's);
    - ``reset``: ``"zero"``, ``"subtract"`` or ``"none"`` for every spiking node;
    - ``resets``: node name -> reset, per spiking node (overrides ``reset`` for those nodes);
    - ``reset_delay``: snnTorch's ``reset_delay`` of the exported ``Leaky``/``Synaptic`` layers
      (``convention="snntorch"`` only; the neurons then run snnTorch's step).

    Whatever neither the graph (its metadata, as `to_nir` writes it) nor the arguments state is
    assumed from the convention, and one ``UserWarning`` lists every assumption. snnTorch's
    ``export_to_nir`` loses ``reset_mechanism`` and ``reset_delay``: for an exact import of a
    snnTorch network pass the values it was built with, e.g.
    ``from_nir(graph, convention="snntorch", reset="subtract", reset_delay=True)`` for
    ``snn.Leaky``'s defaults. Convert the result with `dassdp.bridge.to_brian2`.
    """
    check_choice("convention", convention, CONVENTIONS)
    if dt is not None:
        check_positive("dt", dt)
    if reset is not None:
        check_choice("reset", reset, RESETS)
    check_type("resets", resets, dict, optional=True)
    for name, value in (resets or {}).items():
        check_choice(f"resets[{name!r}]", value, RESETS)
    check_type("reset_delay", reset_delay, bool, optional=True)
    if reset_delay is not None and convention != "snntorch":
        raise ValueError(f"reset_delay is snnTorch's setting: pass it with convention='snntorch', not {convention!r}")
    conv = _CONVENTIONS[convention]
    graph = read_graph(graph_or_path)
    metadata = graph.metadata if isinstance(graph.metadata, dict) else {}
    chain = _chain(graph)
    spiking = [n for n in chain if type(graph.nodes[n]).__name__ in _SPIKING]
    has_neurons = any(type(graph.nodes[n]).__name__ in (*_SPIKING, "LI") for n in chain)
    unknown = sorted(set(resets or {}) - set(spiking))
    if unknown:
        raise ValueError(f"resets names {unknown}, which are not spiking nodes of the graph; those are {spiking}")
    assumed = []
    if dt is None:
        dt = _meta(metadata, "dt")
        if dt is None:
            dt = conv.dt
            if conv.dt_why and has_neurons:
                assumed.append(f"dt = {dt} s ({conv.dt_why}): pass dt=")
        else:
            try:
                check_positive("dt", dt)
            except (TypeError, ValueError) as exc:
                raise ConversionError(f"the graph's metadata: {exc}; pass dt= (seconds)") from None
    per_node = metadata.get("reset_per_node", {})
    per_node = per_node if isinstance(per_node, dict) else {}
    graph_reset = _meta(metadata, "reset")
    node_resets, missing = {}, []
    for name in spiking:
        value = (resets or {}).get(name, reset) or _meta(per_node, name) or graph_reset
        if value in (None, "per_node"):
            value = conv.reset
            missing.append(name)
        if value not in RESETS:
            raise ConversionError(f"the graph's metadata: the reset of {name!r} must be one of {RESETS}, got {value!r}")
        node_resets[name] = value
    if missing and conv.reset_why:
        assumed.append(f"reset = {conv.reset!r} for {missing} ({conv.reset_why}): pass reset= or resets=")
    delays_stated = metadata.get("reset_delay_per_node", {})
    delays_stated = delays_stated if isinstance(delays_stated, dict) else {}
    written_here = _meta(metadata, "written_by") == "dassdp"  # older to_nir graphs: this package's step
    node_delays, missing = {}, []
    for name in spiking:
        if reset_delay is not None:
            node_delays[name] = reset_delay
        elif name in delays_stated:
            node_delays[name] = _stated_delay(_meta(delays_stated, name))
        elif written_here:
            node_delays[name] = None
        else:
            node_delays[name] = conv.reset_delay
            missing.append(name)
    if missing and conv.reset_delay_why:
        assumed.append(f"reset_delay = {conv.reset_delay} for {missing} ({conv.reset_delay_why}): pass reset_delay=")
    if assumed:
        warnings.warn(
            f"from_nir(convention={convention!r}) assumed what the graph does not state (the spikes depend on it): "
            + "; ".join(assumed),
            UserWarning,
            stacklevel=2,
        )
    reading = _Reading(float(dt), conv, metadata, node_resets, node_delays)
    shape = input_shape = _input_shape(chain[0], graph.nodes[chain[0]], conv)
    layers: dict[str, nn.Module] = {}
    for name in chain[1:-1]:
        layers[name], shape = _node_module(name, graph.nodes[name], shape, reading)
    _check_output(chain[-1], graph.nodes[chain[-1]], chain[-2], shape)
    if _meta(metadata, "readout") == "time_mean":
        layers["mean"] = M.TimeMean()
    return M.NIRNetwork(
        layers,
        input_shape,
        {"dt": reading.dt, "convention": convention, "resets": node_resets, "reset_delays": node_delays},
    )
