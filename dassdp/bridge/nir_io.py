"""NIR export and import (nir 1.0): chains of Affine/Linear, Conv1d/Conv2d, LIF, IF, CubaLIF, LI,
SumPool2d/AvgPool2d, Flatten between an Input and an Output node.

NIR states continuous-time equations and fixes neither the time step nor what "reset" means in
discrete time, so both are explicit arguments. Discretisation is forward Euler with step ``dt``
(as snnTorch and Norse write and read NIR), which maps onto our discrete neurons as

- ``LIF(tau, r, v_leak=0, v_threshold)``: ``beta = 1 - dt / tau``, input gain ``r dt / tau`` (must be 1)
- ``IF(r, v_threshold)``: ``beta = 1``, input gain ``r dt`` (must be 1)
- ``CubaLIF(tau_syn, tau_mem, r, w_in)``: ``alpha = 1 - dt / tau_syn``, ``beta = 1 - dt / tau_mem``,
  gains ``w_in dt / tau_syn`` and ``r dt / tau_mem`` (must be 1)
- ``LI(tau, r, v_leak=0)``: ``beta = 1 - dt / tau``, gain ``r dt / tau`` (must be 1)

and ``reset`` is ``"zero"`` (NIR's own ``v = v_reset`` with ``v_reset = 0``; also what snnTorch's
importer uses) or ``"subtract"`` (``v = v - v_threshold``, our default). Exported graphs carry
``metadata = {"dt", "reset", "readout", "dassdp_beta", "dassdp_alpha"}``;
graphs written in float32 (snnTorch) get their decay factors rounded to float32, and input gains
within 1e-6 of 1 count as 1; the exact decay factors
are kept so that PyTorch -> NIR -> PyTorch is bit-exact (``1 - dt / (dt / (1 - beta))`` may differ
from ``beta`` in the last bit). A node that cannot be represented raises `ConversionError` naming it,
as does a parameter with NaN or infinite values (a NaN layer would simply never spike in Brian2),
a time constant ``<= 0``, or an Output node whose shape is not that of the layer before it (size-1
dimensions aside). A ``graph_or_path`` that is neither a graph nor a path, or a ``model`` that is
not a ``torch.nn.Module``, raises TypeError; a bad ``dt`` or ``reset`` argument ValueError or TypeError.
"""

from __future__ import annotations

import itertools
import math
import os
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
from dassdp.checks import check_choice, check_positive, describe

__all__ = ["DEFAULT_DT", "SUPPORTED_NODES", "from_nir", "read_graph", "to_nir"]

#: snnTorch and Norse write NIR with forward Euler and dt = 1e-4 s
DEFAULT_DT = 1e-4
#: the reset semantics `from_nir` accepts
RESETS = ("zero", "subtract")
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


def _full(value, shape) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype=np.float64), shape).copy()


def to_nir(model: nn.Module, dt: float = DEFAULT_DT, input_shape: tuple[int, ...] | None = None):
    """``model`` as a ``nir.NIRGraph`` (float64 parameters), with ``dt`` and the reset modes in
    its metadata. Max pooling has no NIR node and is rejected."""
    import nir

    check_model(model)
    check_positive("dt", dt)
    plan = lower(model, None if input_shape is None else check_shape("input_shape", input_shape))
    shapes = plan.shapes()
    nodes: dict[str, Any] = {"input": nir.Input(input_type=np.array(plan.input_shape))}
    order = ["input"]
    resets, betas, alphas = {}, {}, {}
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
            resets[name] = stage.reset
            betas[name] = _full(stage.beta, shape)
            if stage.alpha is not None:
                alphas[name] = _full(stage.alpha, shape)
        else:  # pragma: no cover - lower() only produces the stages above
            raise ConversionError(f"layer {name!r}: no NIR node")
        nodes[name] = node
        order.append(name)
        in_shape = tuple(shape)
    nodes["output"] = nir.Output(output_type=np.array(in_shape))
    order.append("output")
    modes = set(resets.values())
    metadata = {
        "dt": float(dt),
        "reset": modes.pop() if len(modes) == 1 else "per_node",
        "reset_per_node": resets,
        "readout": readout or "none",
        "dassdp_beta": betas,
        "dassdp_alpha": alphas,
        "written_by": "dassdp",
    }
    return nir.NIRGraph(nodes=nodes, edges=list(itertools.pairwise(order)), metadata=metadata)


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
    graph, TypeError for an argument that is neither a graph nor a path)."""
    import nir

    if isinstance(graph_or_path, nir.NIRGraph):
        return graph_or_path
    if isinstance(graph_or_path, (str, os.PathLike)):
        path = os.fspath(graph_or_path)
        if not os.path.isfile(path):
            raise ConversionError(f"NIR file {path!r} does not exist")
        try:
            graph = nir.read(path)
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


def _gain(name: str, node, what: str, gain) -> None:
    gain = np.asarray(gain, dtype=np.float64)
    if not np.allclose(gain, 1.0, rtol=1e-6, atol=0):  # float32 graphs (snnTorch) are 1 to ~1e-8
        raise ConversionError(
            f"NIR node {name!r} ({type(node).__name__}): input gain {what} = {np.unique(gain)[:3]} "
            "is not 1 at this dt; "
            "dassdp neurons integrate their input unscaled (pass the dt the graph was written for)"
        )


def _decay(name: str, metadata: dict, table: str, computed: np.ndarray, tau) -> np.ndarray:
    """The exact decay factor stored by dassdp when it agrees with the time constant, else
    ``computed = 1 - dt / tau``, rounded to float32 when the graph stores ``tau`` in float32 (the
    writer's precision: snnTorch's ``beta = 0.9`` is a float32, and so is its ``tau``)."""
    if np.asarray(tau).dtype == np.float32:
        computed = computed.astype(np.float32).astype(np.float64)
    stored = metadata.get(table, {}) if isinstance(metadata, dict) else {}
    if isinstance(stored, dict) and name in stored:
        exact = np.asarray(stored[name], dtype=np.float64)
        if exact.shape == computed.shape and np.allclose(exact, computed, rtol=0, atol=1e-9):
            return exact
    return computed


def _threshold(name, node, v_threshold, v_reset):
    if v_reset is not None and np.any(np.asarray(v_reset) != 0):
        raise ConversionError(f"NIR node {name!r} ({type(node).__name__}): v_reset != 0 is not supported")
    return np.asarray(v_threshold, dtype=np.float64)


def _scalar_or_tensor(values: np.ndarray):
    values = np.asarray(values, dtype=np.float64)
    return float(values.reshape(-1)[0]) if np.all(values == values.reshape(-1)[0]) else torch.as_tensor(values)


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


def _node_module(name: str, node, shape, dt: float, reset: str, metadata: dict):
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
        return _neuron_module(name, node, tuple(shape), dt, reset, metadata)
    if isinstance(node, nir.NIRGraph):
        raise ConversionError(
            f"NIR node {name!r} is a nested graph (e.g. a recurrent layer); only flat chains are supported"
        )
    raise ConversionError(
        f"NIR node {name!r} ({type(node).__name__}) has no dassdp/Brian2 equivalent; "
        f"supported nodes: {', '.join(SUPPORTED_NODES)}"
    )


def _neuron_module(name, node, shape, dt, reset, metadata):
    import nir

    from dassdp.models.snn import LIF

    def check_shape(values, what):
        values = np.asarray(values, dtype=np.float64)
        if values.size not in (1, math.prod(shape)):
            raise ConversionError(
                f"NIR node {name!r} ({type(node).__name__}): {what} has {values.size} values "
                f"but receives {math.prod(shape)} inputs"
            )
        return np.broadcast_to(values.reshape(-1) if values.size == 1 else values.reshape(shape), shape).copy()

    def leaky_beta(tau_value, r_value, what="tau"):
        """``beta = 1 - dt / tau`` after checking ``v_leak = 0`` and a unit input gain ``r dt / tau``."""
        if np.any(np.asarray(node.v_leak) != 0):
            raise ConversionError(f"NIR node {name!r} ({type(node).__name__}): v_leak != 0 is not supported")
        tau = check_shape(tau_value, what)
        _gain(name, node, f"r*dt/{what}", check_shape(r_value, "r") * dt / tau)
        return _decay(name, metadata, "dassdp_beta", 1.0 - dt / tau, tau_value)

    if isinstance(node, nir.LI):
        return M.LI(_scalar_or_tensor(leaky_beta(node.tau, node.r))), shape
    alpha = None
    if isinstance(node, nir.IF):
        _gain(name, node, "r*dt", check_shape(node.r, "r") * dt)
        beta = np.ones(shape)
    elif isinstance(node, nir.LIF):
        beta = leaky_beta(node.tau, node.r)
    else:  # CubaLIF
        beta = leaky_beta(node.tau_mem, node.r, "tau_mem")
        tau_syn = check_shape(node.tau_syn, "tau_syn")
        _gain(name, node, "w_in*dt/tau_syn", check_shape(node.w_in, "w_in") * dt / tau_syn)
        alpha = _decay(name, metadata, "dassdp_alpha", 1.0 - dt / tau_syn, node.tau_syn)
    threshold = check_shape(_threshold(name, node, node.v_threshold, node.v_reset), "v_threshold")
    if np.any((beta < 0) | (beta > 1)):
        raise ConversionError(
            f"NIR node {name!r} ({type(node).__name__}): dt={dt} gives beta outside [0, 1] (dt > tau)"
        )
    if alpha is not None:
        return M.CubaLIF(_scalar_or_tensor(alpha), _scalar_or_tensor(beta), _scalar_or_tensor(threshold), reset), shape
    beta_v, threshold_v = _scalar_or_tensor(beta), _scalar_or_tensor(threshold)
    if isinstance(threshold_v, torch.Tensor):
        raise ConversionError(
            f"NIR node {name!r} ({type(node).__name__}): per-neuron thresholds are not supported for LIF/IF"
        )
    layer = LIF(beta=float(np.clip(beta.reshape(-1)[0], 0, 1)), threshold=threshold_v, reset=reset).double()
    if isinstance(beta_v, torch.Tensor):
        layer.beta = beta_v.to(torch.float64)
    else:
        layer.beta.fill_(beta_v)
    return layer, shape


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


def from_nir(graph_or_path, dt: float | None = None, reset: str | None = None) -> M.NIRNetwork:
    """A `dassdp.bridge.modules.NIRNetwork` (float64) from a NIR graph or ``.nir`` file.

    ``dt`` and ``reset`` default to the graph's metadata (written by `to_nir`), else to the
    convention of snnTorch's NIR reader: ``dt = 1e-4`` s and ``reset = "zero"`` (NIR's ``v_reset``).
    Convert the result with `dassdp.bridge.to_brian2`.
    """
    if dt is not None:
        check_positive("dt", dt)
    if reset is not None:
        check_choice("reset", reset, RESETS)
    graph = read_graph(graph_or_path)
    metadata = graph.metadata if isinstance(graph.metadata, dict) else {}
    if dt is None:
        dt = _meta(metadata, "dt", DEFAULT_DT)
        try:
            check_positive("dt", dt)
        except (TypeError, ValueError) as exc:
            raise ConversionError(f"the graph's metadata: {exc}; pass dt= (seconds)") from None
    dt = float(dt)
    per_node = metadata.get("reset_per_node", {}) if reset is None else {}
    default_reset = reset or _meta(metadata, "reset", "zero")
    if default_reset == "per_node":
        default_reset = "zero"
    if default_reset not in RESETS:
        raise ConversionError(f"the graph's metadata: reset must be 'zero' or 'subtract', got {default_reset!r}")
    chain = _chain(graph)
    input_node = graph.nodes[chain[0]]
    shape = input_node.input_type.get("input") if isinstance(input_node.input_type, dict) else None
    if shape is None:
        raise ConversionError(f"NIR Input node {chain[0]!r} has no shape")
    shape = tuple(int(n) for n in np.asarray(shape).reshape(-1))
    if not shape or min(shape) < 1:
        raise ConversionError(f"NIR Input node {chain[0]!r}: its shape {shape} must have dimensions >= 1")
    input_shape = shape
    layers: dict[str, nn.Module] = {}
    for name in chain[1:-1]:
        node_reset = _meta(per_node, name, default_reset) if isinstance(per_node, dict) else default_reset
        layers[name], shape = _node_module(name, graph.nodes[name], shape, dt, node_reset, metadata)
    _check_output(chain[-1], graph.nodes[chain[-1]], chain[-2], shape)
    if _meta(metadata, "readout") == "time_mean":
        layers["mean"] = M.TimeMean()
    return M.NIRNetwork(layers, input_shape, {"dt": dt, "reset": default_reset})
