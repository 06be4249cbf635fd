"""Import snnTorch networks with their exact semantics (snnTorch 1.0, forward pass).

`from_snntorch(model, input_shape=None, layers=None)` returns a `dassdp.bridge.modules.NIRNetwork`
whose forward pass gives snnTorch's spikes in every layer (bit for bit in the same dtype), and that
`dassdp.bridge.to_brian2` converts (exact mode: the same spikes in float64). ``model`` is:

- an ``nn.Sequential`` (neurons with ``init_hidden=True``): its children in order (nested
  ``nn.Sequential`` children are read in place, named ``outer.inner``);
- any other ``nn.Module`` in snnTorch's functional style (``fc1``, ``lif1``, ``fc2``, ``lif2`` as
  attributes, states passed by hand in ``forward``): the layers in ``layers`` (attribute names or
  the modules themselves), by default its children in the order they were assigned in
  ``__init__``. The forward pass must apply exactly these layers one after another at every step,
  each to the output (spikes) of the one before, the first to the input of that step.

In both, neuron states start at 0 for every sample (snnTorch's ``utils.reset`` or ``reset_mem()``).
A functional-style model without ``layers`` must assign its children in forward order; an order
that cannot be a forward pass (a neuron first, two weight layers with no neuron between them, no
neuron last) raises `ConversionError` asking for ``layers``. ``output=True`` (the layer also
returns its membrane, snnTorch's tutorial setting for the last layer) is accepted: the import
outputs the spikes, which it does not change.

Layers: ``nn.Linear``, ``nn.Conv1d``/``nn.Conv2d`` (groups 1, zero padding), ``nn.MaxPool1d``/
``nn.MaxPool2d`` and ``nn.AvgPool2d`` (no padding), ``nn.Flatten`` of all feature dimensions,
``nn.Identity`` (skipped), and the neurons (``H(x) = 1 if x > 0 else 0``, ``v`` the membrane
snnTorch stores, ``r = H(v - threshold)`` its pending reset, beta and alpha clamped to [0, 1]):

- ``snn.Leaky`` -> `dassdp.models.snn.LIF` with ``reset_delay`` as set:
  ``u = (beta v + I) - r threshold`` (subtract) | ``beta ((1 - r) v) + I`` (zero) | ``beta v + I``
  (none); ``s = H(u - threshold)``; stored ``v = u`` (``reset_delay=True``, snnTorch's default) or
  ``u - (s - r) threshold`` | ``u - (s - r) u`` (``reset_delay=False``);
- ``snn.Synaptic`` -> `dassdp.bridge.modules.CubaLIF`: ``syn = alpha syn + I``,
  ``a = beta v + syn``, ``u = a - r threshold`` | ``a - a r`` | ``a``, spike and store as ``Leaky``.

Scalar or per-neuron ``beta``, ``alpha`` and ``threshold`` (any shape that broadcasts against one
step's input ``[B, ...]``) are copied as values (learnable ones too): a ``Leaky``'s in its dtype, a
``Synaptic``'s in float64 (`CubaLIF` keeps float64 buffers: run such an import in float64).

Refused with `dassdp.bridge.ConversionError` naming the module and the setting: other neuron types
(``RLeaky``, ``RSynaptic``, ``Alpha``, ``Lapicque``, ...), ``inhibition=True``, ``state_quant``,
``graded_spikes_factor != 1``, a
``spike_grad`` whose forward pass is not ``H(x)`` on a probe, a threshold <= 0, a
``reset_mechanism`` changed after construction (snnTorch then mixes two mechanisms), any other
layer type, and parameters that do not broadcast to the layer.

`snntorch_spikes(model, inputs, layers=None)` runs snnTorch's own forward pass on time-major inputs
and returns every neuron layer's spikes, to compare a conversion with its source.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from dassdp.bridge import modules as M
from dassdp.bridge.lower import check_model, check_shape
from dassdp.bridge.plan import ConversionError
from dassdp.models.snn import LIF

__all__ = ["from_snntorch", "is_snntorch_model", "snntorch_spikes"]

#: layers copied as they are (`dassdp.bridge.lower` reads them)
_PLAIN = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool2d, nn.Flatten)
SUPPORTED = (
    "nn.Linear, nn.Conv1d, nn.Conv2d, nn.MaxPool1d/2d, nn.AvgPool2d, nn.Flatten, nn.Identity, "
    "snntorch Leaky, snntorch Synaptic"
)
_MEMBRANE_RULES = {"_base_sub": "subtract", "_base_zero": "zero", "_base_int": "none"}
_PROBE = torch.tensor([-np.inf, -2.0, -1e-300, -0.0, 0.0, 1e-300, 0.5, 2.0, np.inf], dtype=torch.float64)


def is_snntorch_model(model) -> bool:
    """Whether ``model`` is, or holds, an snnTorch module."""
    return isinstance(model, nn.Module) and any(type(m).__module__.startswith("snntorch") for m in model.modules())


def _neuron_types():
    import snntorch as snn

    return snn.Leaky, snn.Synaptic


def _chain(model: nn.Module, layers) -> list[tuple[str, nn.Module]]:
    """``(name, module)`` in forward order (see the module docstring)."""
    if isinstance(model, nn.Sequential) and layers is None:
        out = []
        for name, child in model.named_children():
            inner = _chain(child, None) if isinstance(child, nn.Sequential) else [("", child)]
            out += [(f"{name}.{sub}" if sub else name, module) for sub, module in inner]
        return out
    if layers is None:
        return list(model.named_children())
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
        raise TypeError(f"layers must be a list of attribute names or modules, got {type(layers).__name__}")
    names = {id(m): n for n, m in model.named_modules() if n}
    out = []
    for entry in layers:
        if isinstance(entry, str):
            module = model.get_submodule(entry) if entry in dict(model.named_modules()) else None
            if module is None:
                raise ConversionError(f"layers: {type(model).__name__} has no submodule {entry!r}")
            out.append((entry, module))
        elif isinstance(entry, nn.Module) and id(entry) in names:
            out.append((names[id(entry)], entry))
        else:
            raise ConversionError(f"layers: {entry!r} is neither a submodule of the model nor the name of one")
    return out


def _refuse(name: str, module: nn.Module, setting: str, why: str) -> ConversionError:
    return ConversionError(f"layer {name!r} (snntorch {type(module).__name__}): {setting} is not supported: {why}")


def _check_neuron(name: str, module) -> tuple[str, bool]:
    """``(reset, reset_delay)`` of a ``Leaky`` or ``Synaptic``; `ConversionError` for a setting
    without an exact counterpart."""
    if module.inhibition:
        raise _refuse(name, module, "inhibition=True", "only the largest membrane of a sample may spike")
    if module.state_quant:
        raise _refuse(name, module, "state_quant", "quantised states have no counterpart")
    if torch.any(torch.as_tensor(module.graded_spikes_factor) != 1):
        raise _refuse(name, module, "graded_spikes_factor != 1", "spikes are binary events in Brian2")
    membrane = _MEMBRANE_RULES.get(getattr(module.state_function, "__name__", None))
    reset = ("subtract", "zero", "none")[int(module.reset_mechanism_val)]
    if membrane != reset:
        raise _refuse(
            name,
            module,
            f"reset_mechanism={reset!r}",
            f"it was changed after construction, and snnTorch still integrates with the {membrane!r} rule",
        )
    try:
        with torch.no_grad():
            probe = torch.as_tensor(module.spike_grad(_PROBE.clone())).to(torch.float64)
        exact = bool(torch.equal(probe, (_PROBE > 0).to(torch.float64)))
    except Exception:
        exact = False
    if not exact:
        raise _refuse(name, module, "spike_grad", "its forward pass is not H(x) = 1 if x > 0 else 0")
    return reset, bool(module.reset_delay)


def _per_neuron(name: str, module, what: str, value, shape, clamp: bool) -> torch.Tensor:
    """``value`` in its dtype, clamped to [0, 1] if ``clamp``: 0-d if it is one number, else of the
    layer's ``shape``."""
    value = torch.as_tensor(value).detach()
    if clamp:
        value = value.clamp(0, 1)
    if not bool(torch.all(torch.isfinite(value))):
        raise _refuse(name, module, what, "it holds NaN or infinite values")
    if what == "threshold" and not bool(torch.all(value > 0)):
        raise _refuse(name, module, "threshold <= 0", "thresholds must be > 0")
    if value.numel() == 1:
        return value.reshape(()).clone()
    try:
        return torch.broadcast_to(value, (1, *shape))[0].clone()
    except RuntimeError:
        raise _refuse(
            name, module, f"{what} of shape {tuple(value.shape)}", f"it does not broadcast to the layer's [B, {shape}]"
        ) from None


def _neuron(name: str, module, shape) -> nn.Module:
    reset, reset_delay = _check_neuron(name, module)
    beta = _per_neuron(name, module, "beta", module.beta, shape, clamp=True)
    threshold = _per_neuron(name, module, "threshold", module.threshold, shape, clamp=False)
    if hasattr(module, "alpha"):
        alpha = _per_neuron(name, module, "alpha", module.alpha, shape, clamp=True)
        return M.CubaLIF(alpha, beta, threshold, reset, reset_delay=reset_delay)
    threshold = float(threshold) if threshold.ndim == 0 else threshold  # a float keeps the value exactly
    return LIF(beta=beta, threshold=threshold, reset=reset, reset_delay=reset_delay)


def _plain(name: str, module: nn.Module, x: torch.Tensor) -> tuple[nn.Module, torch.Tensor]:
    """A copy of a plain layer and its output on the zero sample ``x[1, ...]`` (for the next shape)."""
    if isinstance(module, nn.Flatten):
        if module.start_dim not in (1, 1 - x.ndim) or module.end_dim != -1:
            raise ConversionError(
                f"layer {name!r} (Flatten): only nn.Flatten() of all feature dimensions is supported "
                f"(got start_dim={module.start_dim}, end_dim={module.end_dim})"
            )
        return copy.deepcopy(module), x.flatten(1)
    try:
        y = copy.deepcopy(module).to(torch.float64)(x)
    except RuntimeError as exc:
        raise ConversionError(
            f"layer {name!r} ({type(module).__name__}) does not fit its input {tuple(x.shape[1:])}: {exc}"
        ) from None
    return copy.deepcopy(module), y


def _check_order(model: nn.Module, chain) -> None:
    """A functional-style model's children in assignment order must read as a forward pass: not a
    neuron first, no two weight layers without a neuron between them, a neuron last."""
    neuron_types = _neuron_types()
    kinds = [
        "neuron" if type(m) in neuron_types else "weights" if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)) else ""
        for _, m in chain
    ]
    names = [n for n, _ in chain]
    relevant = [k for k in kinds if k]
    doubled = any(a == b == "weights" for a, b in zip(relevant, relevant[1:]))
    if relevant and (relevant[0] == "neuron" or relevant[-1] != "neuron" or doubled):
        raise ConversionError(
            f"{type(model).__name__}: its children in the order assigned in __init__ ({', '.join(names)}) cannot be "
            "its forward order (a neuron layer first, two weight layers with no neuron between them, or no neuron "
            "last): pass layers=[...] with the layers in the order forward() applies them"
        )


def _input_shape(chain, input_shape) -> tuple[int, ...]:
    if input_shape is not None:
        return check_shape("input_shape", input_shape)
    first = next((m for _, m in chain if not isinstance(m, nn.Identity)), None)
    if isinstance(first, nn.Linear):
        return (first.in_features,)
    raise ConversionError("from_snntorch: give input_shape (the shape of one sample) unless the first layer is Linear")


def from_snntorch(model: nn.Module, input_shape=None, layers=None) -> M.NIRNetwork:
    """This package's PyTorch equivalent of the snnTorch network ``model`` (module docstring).

    ``input_shape``: the shape of one sample without batch (derived from a first ``nn.Linear``);
    ``layers``: the forward order of a functional-style model (attribute names or modules).
    """
    check_model(model)
    leaky, synaptic = _neuron_types()
    chain = _chain(model, layers)
    if layers is None and not isinstance(model, nn.Sequential):
        _check_order(model, chain)
    shape = _input_shape(chain, input_shape)
    x = torch.zeros((1, *shape), dtype=torch.float64)
    out: dict[str, nn.Module] = {}
    for name, module in chain:
        if isinstance(module, nn.Identity):
            continue
        if type(module) in (leaky, synaptic):
            layer = _neuron(name, module, tuple(x.shape[1:]))
        elif isinstance(module, _PLAIN):
            layer, x = _plain(name, module, x)
        else:
            raise ConversionError(
                f"layer {name!r} ({type(module).__module__}.{type(module).__name__}) has no exact counterpart; "
                f"supported: {SUPPORTED}"
                + (
                    ""
                    if isinstance(model, nn.Sequential) or layers
                    else "; if it is not a layer of the forward pass, pass layers=[...] naming those in forward order"
                )
            )
        out[name] = layer
    if not out:
        raise ConversionError(f"{type(model).__name__}: no layers to import")
    return M.NIRNetwork(out, shape, metadata={"source": "snntorch"})


def snntorch_spikes(model: nn.Module, inputs: torch.Tensor, layers=None) -> dict[str, np.ndarray]:
    """``{layer: bool[N, T, *shape]}``: the spikes of every ``Leaky``/``Synaptic`` layer in snnTorch's
    own forward pass of a copy of ``model`` on ``inputs[T, N, ...]`` (cast to the model's dtype),
    from zero states. An ``nn.Sequential`` is called once per step; any other model once on the
    whole time-major input, and must call each neuron layer once per step."""
    model = copy.deepcopy(model)
    neurons = [(n, m) for n, m in _chain(model, layers) if type(m) in _neuron_types()]
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    x = torch.as_tensor(inputs).to(dtype)
    calls: dict[str, list[torch.Tensor]] = {n: [] for n, _ in neurons}
    hooks = []
    for name, module in neurons:
        for state in ("mem", "syn"):
            if hasattr(module, state):
                setattr(module, state, torch.zeros(0, dtype=dtype))
        hooks.append(
            module.register_forward_hook(
                lambda mod, i, out, key=name: calls[key].append((out[0] if isinstance(out, tuple) else out).detach())
            )
        )
    try:
        with torch.no_grad():
            if isinstance(model, nn.Sequential):
                for step in x:
                    model(step)
            else:
                model(x)
    finally:
        for hook in hooks:
            hook.remove()
    for name, spikes in calls.items():
        if len(spikes) != x.shape[0]:
            raise ConversionError(
                f"layer {name!r} ran {len(spikes)} times for {x.shape[0]} time steps: the forward pass must call "
                "each neuron layer once per step of the time-major input [T, N, ...]"
            )
    return {name: torch.stack(s).transpose(0, 1).numpy() > 0.5 for name, s in calls.items()}
