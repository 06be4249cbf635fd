"""Weights back from Brian2 into the PyTorch model (exact: float64 values copied, not recomputed).

For every projection that carries one PyTorch weight layer, each synapse ``(i, j)`` is mapped back
to its entry of ``weight.ravel()`` by recomputing the layer's connectivity (so nothing relies on
Brian2 keeping the synapse order); biases come from the post group's ``b``, neuron parameters
(``beta``, ``alpha`` of a `dassdp.bridge.modules.CubaLIF`, threshold) from the groups, written in
the form the layer holds them: a tensor (buffer or learnable ``nn.Parameter``) in place, with its
shape and dtype; a float threshold stays a float. A per-neuron parameter is never collapsed to
one value: values that differ between neurons in Brian2 but have one slot in the layer (a float,
a 0-d or per-channel tensor) raise `ConversionError`. A `dassdp.models.snn.LIF` clamps ``beta``
to [0, 1] in its forward pass (Brian2 holds the clamped value): an entry whose clamp Brian2 still
holds is left as it was. Convolution weights are shared: every expanded copy must
still agree (``conv_sharing="check"``) or their mean is taken (``"mean"``, e.g. after plasticity).
A layer carried by a `dassdp.rules.brian2.ssdp.DASSDPSynapses` rule gives its ``weight_matrix()``, and its
fitted gate is returned (and stored into a `dassdp.rules.plugin.DASSDPPlugin` if one is given).

Nothing is written into the model unless every value read from Brian2 is finite: a NaN or infinite
weight, bias, ``beta`` or threshold (plasticity that diverged) raises `ConversionError` naming the
layer. An argument of the wrong type (not the result of `to_brian2`, not a ``torch.nn.Module``)
raises TypeError naming it (`dassdp.bridge.plan.ConversionTypeError`, also a `ConversionError`);
an snnTorch network passed to `to_torch` is refused so, pointing to `to_snntorch`.

`to_snntorch(imported, net)` then copies the weights and biases of the ``nn.Linear``/``nn.Conv``
layers of a `dassdp.bridge.from_snntorch` import into the snnTorch network ``net`` it came from;
snnTorch's neuron parameters are never written, only checked to be unchanged.
"""

from __future__ import annotations

import numpy as np
import torch

from dassdp.bridge.lower import check_model, lower
from dassdp.bridge.plan import Affine, BlockAffine, Conv, ConversionError, ConversionTypeError, Neurons
from dassdp.checks import check_choice, describe

__all__ = ["to_snntorch", "to_torch", "weights_by_layer"]


def _converted(converted_or_network):
    from dassdp.bridge.brian2 import Converted

    if isinstance(converted_or_network, Converted):
        return converted_or_network
    bridge = getattr(converted_or_network, "bridge", None)
    if isinstance(bridge, Converted):
        return bridge
    raise ConversionTypeError(
        "converted_or_network must be the result of to_brian2 (a Converted) or its .network, "
        f"got {describe(converted_or_network)}"
    )


def _check_finite(layer: str, what: str, values: np.ndarray) -> None:
    bad = int(np.count_nonzero(~np.isfinite(values)))
    if bad:
        raise ConversionError(
            f"layer {layer!r}: {bad} of the {values.size} {what} values read from Brian2 are NaN or infinite"
        )


def _synapse_weights(projection) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if projection.rule is not None:
        matrix = projection.rule.weight_matrix()
        return projection.i, projection.j, matrix[projection.j, projection.i]
    syn = projection.synapses
    return np.asarray(syn.i[:]), np.asarray(syn.j[:]), np.asarray(syn.w[:], dtype=np.float64)


def _gather(stage, in_shape, i, j, w, conv_sharing: str) -> np.ndarray:
    """The stage's weight tensor from synapses ``(i, j, w)``."""
    ri, rj, _, rk = stage.triplets(in_shape)
    n_pre = int(max(ri.max(initial=0), i.max(initial=0))) + 1
    keys = rj.astype(np.int64) * n_pre + ri
    order = np.argsort(keys, kind="stable")
    pos = np.searchsorted(keys[order], j.astype(np.int64) * n_pre + i)
    pos = np.minimum(pos, len(order) - 1)
    found = keys[order][pos] == j.astype(np.int64) * n_pre + i
    if not np.all(found) or len(i) != len(ri):
        raise ConversionError(
            f"layer {stage.name!r}: the Brian2 synapses do not match the layer's connectivity "
            f"({len(i)} synapses, {len(ri)} expected)"
        )
    k = rk[order][pos]
    size = stage.weight.size
    total = np.bincount(k, weights=w, minlength=size)
    count = np.bincount(k, minlength=size)
    if np.any(count == 0):
        raise ConversionError(f"layer {stage.name!r}: some weights have no synapse in Brian2")
    first = np.empty(size)
    first[k[::-1]] = w[::-1]  # the value of the first synapse of each weight
    if np.all(count == 1):
        return first.reshape(stage.weight.shape)
    spread = np.zeros(size)
    np.maximum.at(spread, k, np.abs(w - first[k]))
    if conv_sharing == "check" and np.any(spread > 0):
        raise ConversionError(
            f"layer {stage.name!r}: shared convolution weights differ between their synaptic copies "
            f"(largest spread {spread.max():.3g}); pass conv_sharing='mean' to average them"
        )
    return (first if conv_sharing == "check" else total / count).reshape(stage.weight.shape)


def weights_by_layer(converted_or_network, conv_sharing: str = "check") -> dict[str, dict[str, np.ndarray]]:
    """``{layer: {"weight": ..., "bias": ...}}`` read from the Brian2 objects (float64)."""
    check_choice("conv_sharing", conv_sharing, ("check", "mean"))
    conv = _converted(converted_or_network)
    shapes = conv.plan.shapes()
    in_shapes = dict(zip([s.name for s in conv.plan.stages], [tuple(conv.plan.input_shape), *shapes[:-1]]))
    out: dict[str, dict[str, np.ndarray]] = {}
    projections = list(conv.projections)
    if conv.input_projection is not None:
        projections.insert(0, conv.input_projection)
    for projection in projections:
        if any(isinstance(s, BlockAffine) for s in projection.stages):
            raise ConversionError(
                f"layer {projection.name!r} holds replicas (a Replicas model): read each replica's weights from "
                "its rule (weights(), weight_matrix()) or the projection's synapses; to_torch writes one network"
            )
        layers = [s for s in projection.stages if isinstance(s, (Affine, Conv))]
        if not layers:
            continue
        if projection.composed:
            raise ConversionError(
                f"layers {projection.name!r} were composed into one projection; their weights cannot be separated"
            )
        stage = layers[0]
        if projection is conv.input_projection and conv.input_mode == "current":
            # the first layer's current was computed by PyTorch: its weights never entered Brian2
            out[stage.name] = {"weight": stage.weight.copy(), "bias": stage.bias.copy()}
            continue
        i, j, w = _synapse_weights(projection)
        _check_finite(stage.name, "weight", np.asarray(w, dtype=np.float64))
        weight = _gather(stage, in_shapes[stage.name], i, j, w, conv_sharing)
        b = np.asarray(conv.groups[projection.post].b[:], dtype=np.float64)
        _check_finite(stage.name, "bias", b)
        bias = b.reshape(stage.bias.shape[0], -1)
        if np.any(bias != bias[:, :1]):
            raise ConversionError(f"layer {stage.name!r}: the bias differs between neurons of one channel")
        out[stage.name] = {"weight": weight, "bias": bias[:, 0].copy()}
    return out


def to_torch(converted_or_network, model: torch.nn.Module, conv_sharing: str = "check", plasticity=None) -> dict:
    """Write the Brian2 network's weights, biases and neuron parameters into ``model`` (in place).

    Returns ``{"layers": [...written layer names], "gates": {layer: Gate | None}}``. ``model``
    must have the architecture the network was converted from (checked: names and shapes). An
    snnTorch network raises `ConversionTypeError`: pass its `dassdp.bridge.from_snntorch` import
    (the model that was converted), then copy the weights on with `to_snntorch`.
    ``plasticity``: a `dassdp.rules.plugin.DASSDPPlugin` whose layers receive the fitted gates.
    """
    conv = _converted(converted_or_network)
    check_model(model)
    _refuse_snntorch(model)
    check_choice("conv_sharing", conv_sharing, ("check", "mean"))
    if plasticity is not None and not (hasattr(plasticity, "gates") and hasattr(plasticity, "set_gate")):
        raise TypeError(f"plasticity must be a DASSDPPlugin (with gates and set_gate), got {describe(plasticity)}")
    target = lower(model, input_shape=tuple(conv.plan.input_shape))
    stages = {s.name: s for s in target.stages}
    written = []
    layers = weights_by_layer(conv, conv_sharing)  # everything is read and checked before anything is written
    for name, values in layers.items():
        stage = stages.get(name)
        if stage is None or not isinstance(stage, (Affine, Conv)) or stage.weight.shape != values["weight"].shape:
            raise ConversionError(
                f"layer {name!r}: the model has no weight layer of shape {values['weight'].shape} under that name"
            )
        if stage.module.bias is None and np.any(values["bias"] != 0):
            raise ConversionError(f"layer {name!r}: Brian2 has a bias but the PyTorch layer has none")
    shapes = dict(zip(stages, target.shapes()))
    neurons = {}
    for name, group in conv.groups.items():
        if isinstance(stages.get(name), Neurons):
            neurons[name] = _neuron_values(stages[name], group, shapes[name])
    with torch.no_grad():
        for name, values in layers.items():
            module = stages[name].module
            module.weight.copy_(torch.as_tensor(values["weight"], dtype=module.weight.dtype))
            if module.bias is not None:
                module.bias.copy_(torch.as_tensor(values["bias"], dtype=module.bias.dtype))
            written.append(name)
        for name, values in neurons.items():
            _write_neuron(stages[name], values)
            written.append(name)
    gates = {}
    for projection in conv.projections:
        if projection.rule is not None:
            gates[projection.name] = gate = projection.rule.fitted_gate()
            if plasticity is not None and projection.post in plasticity.gates:
                plasticity.set_gate(projection.post, gate)
    return {"layers": written, "gates": gates}


_NEURON_VARIABLES = (("beta", "beta"), ("alpha", "alpha"), ("threshold", "vth"))  # (module attribute, Brian2 variable)


def _neuron_values(stage: Neurons, group, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """``{attribute: values}`` of a Brian2 group, checked to be finite and to fit the PyTorch layer:
    each in the shape the layer holds it (0-d for a float or a one-value tensor)."""
    module, out = stage.module, {}
    n = int(np.prod(shape))
    for what, variable in _NEURON_VARIABLES:
        if (what == "alpha" and stage.kind != "cubalif") or (what == "threshold" and not stage.spiking):
            continue
        values = np.asarray(getattr(group, variable)[:], dtype=np.float64)
        _check_finite(stage.name, what, values)
        if values.size != n:
            raise ConversionError(
                f"layer {stage.name!r}: Brian2 has {values.size} neurons, the PyTorch layer {n} (shape {shape})"
            )
        out[what] = _fit(stage.name, what, values.reshape(shape), getattr(module, what))
    return out


def _fit(layer: str, what: str, values: np.ndarray, held) -> np.ndarray:
    """``values`` (one per neuron, of the population's shape) in the shape of ``held`` (a tensor that
    broadcasts against one step's ``[B, *shape]``, or a float), refusing values that differ where
    ``held`` has one value for several neurons."""
    shape = values.shape
    target = tuple(held.shape) if isinstance(held, torch.Tensor) else ()
    kind = f"a tensor of shape {target}" if isinstance(held, torch.Tensor) else "one float"
    extra, core = target[: max(0, len(target) - len(shape))], target[max(0, len(target) - len(shape)) :]
    core = (1,) * (len(shape) - len(core)) + core
    if any(d != 1 for d in extra) or any(c not in (1, s) for c, s in zip(core, shape)):
        raise ConversionError(
            f"layer {layer!r}: the PyTorch layer's {what} is {kind}, which does not broadcast to its "
            f"{int(np.prod(shape))} neurons of shape {shape}"
        )
    reduced = values[tuple(slice(0, 1) if c == 1 else slice(None) for c in core)]
    if not np.array_equal(np.broadcast_to(reduced, shape), values):
        raise ConversionError(
            f"layer {layer!r}: {what} differs between neurons in Brian2, but the PyTorch layer holds it as {kind}; "
            "it cannot be written back (give the layer per-neuron values)"
        )
    return reduced.reshape(target)


def _write_neuron(stage: Neurons, values: dict[str, np.ndarray]) -> None:
    """Write ``values`` in the form the module holds them: a float stays a float, a tensor (buffer or
    ``nn.Parameter``) is written in place, keeping its shape, dtype and device."""
    from dassdp.models.snn import LIF

    module = stage.module
    for what, value in values.items():
        held = getattr(module, what)
        if not isinstance(held, torch.Tensor):
            setattr(module, what, float(value))
            continue
        new = torch.as_tensor(value, dtype=torch.float64)
        if what == "beta" and isinstance(module, LIF):
            # a LIF clamps beta to [0, 1] (Brian2 holds the clamped value): keep what clamps to it
            old = held.detach().to("cpu", torch.float64)
            new = torch.where(old.clamp(0.0, 1.0) == new, old, new)
        held.copy_(new.to(held.dtype))


def _refuse_snntorch(model: torch.nn.Module) -> None:
    from dassdp.bridge.snntorch_io import is_snntorch_model

    if is_snntorch_model(model):
        raise ConversionTypeError(
            f"model is an snnTorch network ({type(model).__name__}), which to_torch cannot write into: pass the "
            "model returned by from_snntorch (the one given to to_brian2) to to_torch, then "
            "to_snntorch(imported, net) to copy the weights into the snnTorch network"
        )


#: (parameter, clamped to [0, 1] by snnTorch and the import) of each imported neuron layer
_SNNTORCH_NEURON = (("beta", True), ("threshold", False), ("alpha", True))
_WEIGHT_LAYERS = (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d)


def _describe_layer(module: torch.nn.Module) -> str:
    return f"{type(module).__name__}({module.extra_repr()})"


def _check_snntorch_layer(name: str, ours: torch.nn.Module, theirs: torch.nn.Module) -> None:
    """`ConversionError` unless ``theirs`` (snnTorch) is the layer ``ours`` was imported from, with
    the neuron parameters the import holds."""
    from dassdp.bridge.modules import CubaLIF
    from dassdp.bridge.snntorch_io import _neuron_types
    from dassdp.models.snn import LIF

    leaky, synaptic = _neuron_types()
    source = {LIF: leaky, CubaLIF: synaptic}.get(type(ours))
    if source is None:  # a plain layer: its copy has the same type and settings (and so weight shapes)
        if type(theirs) is not type(ours) or theirs.extra_repr() != ours.extra_repr():
            raise ConversionError(
                f"layer {name!r}: the import holds {_describe_layer(ours)}, the snnTorch network "
                f"{_describe_layer(theirs)}: net is not the network that was imported"
            )
        return
    if type(theirs) is not source:
        raise ConversionError(
            f"layer {name!r}: the import holds a {type(ours).__name__} (from snntorch {source.__name__}), the "
            f"snnTorch network a {type(theirs).__module__}.{type(theirs).__name__}: net is not the network "
            "that was imported"
        )
    reset = ("subtract", "zero", "none")[int(theirs.reset_mechanism_val)]
    if (reset, bool(theirs.reset_delay)) != (ours.reset, ours.reset_delay):
        raise ConversionError(
            f"layer {name!r}: snnTorch's {source.__name__} has reset_mechanism={reset!r}, "
            f"reset_delay={bool(theirs.reset_delay)}; the import reset={ours.reset!r}, "
            f"reset_delay={ours.reset_delay}: net is not the network that was imported"
        )
    for what, clamp in _SNNTORCH_NEURON:
        if what == "alpha" and source is not synaptic:
            continue
        held = torch.as_tensor(getattr(ours, what)).detach().to("cpu", torch.float64)
        value = torch.as_tensor(getattr(theirs, what)).detach().to("cpu", torch.float64)
        value = value.clamp(0.0, 1.0) if clamp else value
        try:
            same = torch.equal(torch.broadcast_to(value, held.shape), held)
        except RuntimeError:
            same = False
        if not same:
            raise ConversionError(
                f"layer {name!r}: {what} changed in Brian2 (or in the import); snnTorch's {source.__name__} "
                f"holds {what} of shape {tuple(value.shape)} that differs from the import's "
                f"(shape {tuple(held.shape)}), and to_snntorch copies only weights and biases: "
                "write it by hand or keep the import"
            )


def to_snntorch(imported: torch.nn.Module, net: torch.nn.Module, layers=None) -> list[str]:
    """Copy the weights and biases of ``imported`` (the `dassdp.bridge.from_snntorch` import of
    ``net``, e.g. after `to_torch` brought Brian2's weights back into it) into the snnTorch network
    ``net``, in place; returns the names of the layers written.

    ``layers``: as given to ``from_snntorch(net, layers=layers)`` (a functional-style network).
    Copied: the ``weight`` and ``bias`` of every ``nn.Linear``/``nn.Conv1d``/``nn.Conv2d`` into the
    submodule of ``net`` of the same name, each parameter keeping its object, dtype and device
    (learnable parameters stay the same ``nn.Parameter``, so optimizers holding them see the values).

    Refused with `ConversionError`, before anything is written: a ``net`` that is not the network
    imported (the first layer whose name, type, settings or shape differ, or whose
    ``reset_mechanism``/``reset_delay`` differ), and neuron parameters (``beta``, ``alpha``,
    ``threshold``) of the import that differ from snnTorch's (clamped to [0, 1] for ``beta`` and
    ``alpha``, as the import holds them): snnTorch's neuron parameters are never written. A
    ``imported`` that is not a ``NIRNetwork`` or ``net`` that is not an ``nn.Module`` raises
    `ConversionTypeError`.
    """
    from dassdp.bridge.modules import NIRNetwork
    from dassdp.bridge.snntorch_io import _chain

    if not isinstance(imported, NIRNetwork):
        raise ConversionTypeError(
            f"imported must be the model returned by from_snntorch (a NIRNetwork), got {describe(imported)}"
        )
    check_model(net, "net")
    ours = imported.named_layers()
    theirs = [(n, m) for n, m in _chain(net, layers) if not isinstance(m, torch.nn.Identity)]
    for k in range(max(len(ours), len(theirs))):
        if k >= len(ours) or k >= len(theirs) or ours[k][0] != theirs[k][0]:
            mine = repr(ours[k][0]) if k < len(ours) else "nothing"
            other = repr(theirs[k][0]) if k < len(theirs) else "nothing"
            raise ConversionError(
                f"layer {k} of the import is {mine}, of the snnTorch network {other}: "
                "net is not the network that was imported (pass the layers given to from_snntorch)"
            )
        _check_snntorch_layer(ours[k][0], ours[k][1], theirs[k][1])
    written = []
    with torch.no_grad():
        for (name, layer), (_, module) in zip(ours, theirs):
            if isinstance(layer, _WEIGHT_LAYERS):
                module.weight.data.copy_(layer.weight.detach())
                if module.bias is not None:
                    module.bias.data.copy_(layer.bias.detach())
                written.append(name)
    return written
