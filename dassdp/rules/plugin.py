"""DA-SSDP as a plug-in for an unchanged PyTorch model, loss and optimizer.

::

    plasticity = DASSDPPlugin(model, layers=["lif.1"], params=DASSDPParams(), warmup_epochs=100)
    for epoch in range(n_epochs):
        for x, y in loader:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad(); loss.backward(); optimizer.step()
            plasticity.step(loss)          # records (S_b, L_b) in warm-up, then applies dW
            plasticity.last_gate["lif.1"]  # S_b and the gate g_b of that step
        plasticity.end_epoch()             # counts epochs; fits the gate after warm-up
    plasticity.gates["lif.1"]              # the fitted gate (k, mu, s)

Forward hooks on each chosen spiking layer (our `dassdp.models.snn.LIF`, snnTorch neurons such as
``snn.Leaky``, SpikingJelly ``BaseNode`` neurons) track, step by step, whether each neuron fired
in the current window and its first (or last) spike step; spike trains are not kept. The pre-
synaptic activity is the input of the ``nn.Linear``/``nn.Conv*d`` module that ran last before the
spiking layer: its weight (``Cout x Cin``) is the one DA-SSDP updates. A window is everything
recorded between two `step` calls: ``T`` steps of a multi-step layer (``step_mode == "m"``, output
``[T, B, ...]``) or one step per call of a single-step layer (output ``[B, ...]``).

Convolutions: a channel fires at a step if any of its positions fires; ``dW[Cout, Cin]`` is added
to every kernel tap. Per layer, ``S_b = mean_j fired_bj * mean_i fired_bi`` over channels.

``backend`` chooses how `step` closes each layer's window (`dassdp.rules.torch.resolve_backend`):
with ``"auto"`` (the default) on the CPU, and with ``"numba"``, in one compiled call
(`dassdp.rules.torch.kernel_window`; a half-precision weight gets the tensor operations with the
numba sum); with ``"auto"`` on CUDA, and with ``"tensor"``, by the tensor operations it equals.
``"numba"`` for a weight on CUDA raises at the first `step`.

During the first ``warmup_epochs`` epochs nothing is applied: ``(S_b, L_b)`` are recorded with
``L_b`` the batch loss repeated per sample (as the published code does). At the end of warm-up
each layer's gate is fitted once (`dassdp.rules.reference.fit_gate` on the records, with
``params.gate_fit``; also with the gate off, for reporting ``k``); afterwards every `step` adds
``dW = clip(mean_b g_b e_b, -c, c)`` to the weight and clips the weight to
``[params.w_min, params.w_max]`` (where finite). Nothing is recorded or applied while gradients
are disabled (``torch.no_grad()``) or the model is in ``eval()`` mode. Warm-up is counted in
epochs and each optimizer batch is one update (the Brian2 rule counts windows instead).

Bad input raises rather than being guessed at: the constructor names a bad argument
(``TypeError`` for a wrong kind, ``ValueError`` for a bad value; a layer name the model lacks
gets the list of its spiking layers). `DASSDPPlugin.step` refuses a ``loss`` that is not one
finite number, in warm-up and after it: a NaN or infinite loss would otherwise poison the fitted
gate (NaN weights with the continuous gate, a sign of -1 that negates every later update with the
sign gate). The refusal happens before anything is recorded or applied, and the window of that
forward pass is dropped, so a caller may catch the error and go on with the next batch.

The gate fit needs at least two ``(S_b, L_b)`` records per layer; with fewer, the `end_epoch`
that would end warm-up raises ``RuntimeError`` and does not count the epoch (warm-up goes on, and
the next `end_epoch` fits on the longer record). Records that carry no information, all ``S_b``
equal (e.g. a silent layer) or all ``L_b`` equal, fit ``k = 0`` up to rounding error
(`dassdp.rules.reference.fit_gate`, unchanged), so the gate is neutral, the ungated update:
``sign`` gives ``g_b = 1`` (``|k|``, below ``1e-11`` for losses up to ``1e4``, is under
``sign_tol``), ``continuous`` ``g_b = 1`` within ``|k / s|`` (below ``1e-3`` even where both are
constant and ``s = 1e-8``; far below where only one is). A fitted gate that is not finite (only
from losses near the float64 range) raises.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from dassdp.checks import check_choice, check_count, check_real
from dassdp.models.snn import LIF
from dassdp.rules.reference import DASSDPParams, Gate, GateMode, fit_gate
from dassdp.rules.torch import (
    Backend,
    RunningActivity,
    check_gate,
    check_spikes,
    dassdp_update,
    gate_line,
    gate_values,
    kernel_window,
    kernel_window_takes,
    sample_synchrony,
)

__all__ = ["DASSDPPlugin", "LastGate", "is_spiking_layer"]

_WEIGHT_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
#: (top-level package, base class name) of spiking neurons in other frameworks.
_FOREIGN_NEURONS = {("snntorch", "SpikingNeuron"), ("spikingjelly", "BaseNode")}


def is_spiking_layer(module: nn.Module) -> bool:
    """True for our `LIF`, snnTorch's ``SpikingNeuron`` and SpikingJelly's ``BaseNode`` subclasses."""
    if isinstance(module, LIF):
        return True
    return any((cls.__module__.split(".")[0], cls.__name__) in _FOREIGN_NEURONS for cls in type(module).__mro__)


def _spike_tensor(output) -> torch.Tensor:
    """The spikes in a neuron's output: the tensor, or the first element of snnTorch's ``(spk, mem)``."""
    return output[0] if isinstance(output, (tuple, list)) else output


def _concat(records: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat(records) if records else torch.zeros(0, dtype=torch.float64)


def _loss_value(loss) -> float:
    """The batch loss as a finite float: a real number or a one-element tensor (one device
    synchronisation for a CUDA tensor), else ``TypeError``/``ValueError`` naming ``loss``."""
    if isinstance(loss, torch.Tensor):
        if loss.dtype == torch.bool or loss.is_complex():
            raise TypeError(f"loss must be a real number or a real one-element tensor, got a {loss.dtype} tensor")
        if loss.numel() != 1:
            raise ValueError(f"loss must be one number (the batch loss), got a tensor of shape {tuple(loss.shape)}")
        value = float(loss.detach())
    else:
        check_real("loss", loss)
        value = float(loss)
    if not math.isfinite(value):
        raise ValueError(
            f"loss must be finite, got {value}: nothing was recorded or applied for this batch and its "
            "window was dropped; the plug-in may go on with the next batch"
        )
    return value


@dataclass(frozen=True, eq=False)  # no generated __eq__ over tensors
class LastGate:
    """A plastic layer's gate at its last `DASSDPPlugin.step` (see `DASSDPPlugin.last_gate`).

    ``synchrony``: ``S_b = mean_j fired_bj * mean_i fired_bi`` of each sample ``b`` of the window
    (float64 ``[B]``). ``values``: the gate ``g_b`` that weighted each sample in
    ``dW = clip(mean_b g_b e_b, -c, c)`` (float64 ``[B]``), or None during warm-up, when nothing
    was applied. ``fitted``: the fitted gate ``(k, mu, s)`` (None before the fit), with ``mode``
    and ``sign_tol`` as in `dassdp.rules.torch.gate_values`.
    """

    synchrony: torch.Tensor
    values: torch.Tensor | None
    fitted: Gate | None
    mode: GateMode
    sign_tol: float

    @property
    def mean_synchrony(self) -> float:
        """``mean_b S_b``."""
        return float(self.synchrony.mean())

    @property
    def at_mean_synchrony(self) -> float:
        """The gate at the window's mean synchrony, ``g(mean_b S_b)`` (``continuous``:
        ``clip(1 + k (mean_b S_b - mu) / s, 0, 2)``), a one-number summary of ``values`` (equal to
        ``mean_b g_b`` where no sample's gate is clipped); NaN during warm-up."""
        if self.values is None:
            return float("nan")
        mean = self.synchrony.mean().view(1)
        return float(gate_values(mean, self.fitted, self.mode, self.sign_tol)[0])


@dataclass
class _HookedLayer:
    """Everything DA-SSDP keeps about one spiking layer and the weight feeding it."""

    name: str
    neuron: nn.Module
    weight_layer: nn.Module | None = None
    pre: RunningActivity | None = None
    post: RunningActivity | None = None
    checked: bool = False
    gate: Gate | None = None
    warmup_synchrony: list[torch.Tensor] = field(default_factory=list)
    warmup_loss: list[torch.Tensor] = field(default_factory=list)
    last: LastGate | None = None


class DASSDPPlugin:
    """DA-SSDP plug-in (see the module docstring). ``layers`` is a list of module names of ``model``
    (as in ``model.named_modules()``) or of the modules themselves; each must be a spiking layer,
    named once. ``warmup_epochs`` is an integer ``>= 0`` (``>= 1`` unless the gate is off).
    ``backend``: ``"auto"``, ``"tensor"`` or ``"numba"`` (see the module docstring).

    `step` raises ``ValueError`` for a loss that is NaN or infinite (``TypeError`` for one that is
    not a number) and records and applies nothing for that batch: records, gates, ``last_gate``
    and weights stay as they were, and the batch's window is dropped, so that training can catch
    the error and go on with the next batch."""

    def __init__(
        self,
        model: nn.Module,
        layers: list[str | nn.Module],
        params: DASSDPParams | None = None,
        warmup_epochs: int = 100,
        backend: Backend = "auto",
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        check_choice("backend", backend, ("auto", "tensor", "numba"))
        self.backend = backend
        if params is not None and not isinstance(params, DASSDPParams):
            raise TypeError(f"params must be a DASSDPParams or None, got {type(params).__name__}")
        self.params = params or DASSDPParams()
        check_count("warmup_epochs", warmup_epochs)
        if self.params.gate != "off" and warmup_epochs < 1:
            raise ValueError(f"warmup_epochs must be >= 1 to fit the {self.params.gate!r} gate, got {warmup_epochs}")
        if not isinstance(layers, (list, tuple)):
            raise TypeError(
                f"layers must be a list of module names or modules (e.g. ['lif.1']), got {type(layers).__name__} "
                f"{layers!r}"
            )
        if not layers:
            raise ValueError("layers must name at least one spiking layer of the model")
        self.model, self.warmup_epochs, self.epoch = model, int(warmup_epochs), 0
        self.layers = [self._resolve(layer) for layer in layers]
        names = [hooked.name for hooked in self.layers]
        if len(set(names)) != len(names):
            raise ValueError(f"layers: each layer may be given once, got {names}")
        self._last_weight: tuple[nn.Module, torch.Tensor] | None = None
        self._handles = [
            m.register_forward_hook(self._weight_hook) for m in model.modules() if isinstance(m, _WEIGHT_TYPES)
        ]
        self._handles += [hl.neuron.register_forward_hook(self._neuron_hook(hl)) for hl in self.layers]
        self._handles.append(model.register_forward_hook(self._forward_end))

    def _resolve(self, layer: str | nn.Module) -> _HookedLayer:
        modules = dict(self.model.named_modules())
        spiking = [n for n, m in modules.items() if is_spiking_layer(m)]
        available = f"the model's spiking layers are {spiking}" if spiking else "the model has no spiking layer"
        if isinstance(layer, str):
            if layer not in modules:
                raise ValueError(f"layers: the model has no module named {layer!r}; {available}")
            name, module = layer, modules[layer]
        elif isinstance(layer, nn.Module):
            names = [n for n, m in modules.items() if m is layer]
            if not names:
                raise ValueError(f"layers: {type(layer).__name__} module is not part of the model; {available}")
            name, module = names[0], layer
        else:
            raise TypeError(f"layers must hold module names (str) or modules, got {type(layer).__name__} {layer!r}")
        if not is_spiking_layer(module):
            raise ValueError(
                f"layers: {name!r} ({type(module).__name__}) does not emit spikes; hook a spiking neuron layer "
                f"(dassdp LIF, snnTorch neuron, SpikingJelly node); {available}"
            )
        return _HookedLayer(name=name, neuron=module)

    @property
    def recording(self) -> bool:
        """True while training with gradients enabled (not under ``no_grad`` nor ``eval()``)."""
        return torch.is_grad_enabled() and self.model.training

    @property
    def in_warmup(self) -> bool:
        return self.epoch < self.warmup_epochs

    def _weight_hook(self, module: nn.Module, inputs, output) -> None:
        if self.recording:
            self._last_weight = (module, inputs[0])

    def _forward_end(self, module: nn.Module, inputs, output) -> None:
        self._last_weight = None  # else the read-out's input would outlive the forward pass until `step`

    def _neuron_hook(self, hooked: _HookedLayer):
        def hook(module: nn.Module, inputs, output) -> None:
            if self.recording:
                self._record(hooked, _spike_tensor(output))

        return hook

    def _record(self, hooked: _HookedLayer, spikes: torch.Tensor) -> None:
        if self._last_weight is None:
            raise ValueError(f"layer {hooked.name!r}: no nn.Linear/nn.Conv module ran before it, so no weight feeds it")
        weight_layer, pre = self._last_weight
        self._last_weight = None
        if hooked.weight_layer is None:
            if getattr(weight_layer, "groups", 1) != 1:
                raise ValueError(f"layer {hooked.name!r}: grouped convolutions are not supported")
            hooked.weight_layer = weight_layer
        elif weight_layer is not hooked.weight_layer:
            raise ValueError(f"layer {hooked.name!r} is fed by a different weight layer than in earlier steps")
        post = spikes if getattr(hooked.neuron, "step_mode", "s") == "m" else spikes.unsqueeze(0)
        steps, batch = post.shape[:2]
        n_features = 1 if isinstance(weight_layer, nn.Linear) else weight_layer.weight.ndim - 1
        if pre.numel() != steps * batch * pre.shape[-n_features:].numel():
            raise ValueError(
                f"layer {hooked.name!r}: input of its weight layer {tuple(pre.shape)} does not match "
                f"its output spikes {tuple(spikes.shape)}"
            )
        pre = pre.reshape(steps, batch, *pre.shape[-n_features:])
        if not hooked.checked:
            check_spikes(f"output of layer {hooked.name!r}", spikes)
            check_spikes(f"input of the weight feeding layer {hooked.name!r}", pre)
            weight = weight_layer.weight
            if post.shape[2] != weight.shape[0] or pre.shape[2] != weight.shape[1]:
                raise ValueError(
                    f"layer {hooked.name!r}: spikes ({post.shape[2]} post, {pre.shape[2]} pre channels) "
                    f"do not match the weight feeding it {tuple(weight.shape)}"
                )
        if hooked.pre is None:
            hooked.pre, hooked.post = RunningActivity(self.params.latency), RunningActivity(self.params.latency)
        # a channel fires if any of its positions does; the values were checked above on the first window
        hooked.pre.update(pre, positions=pre.ndim - 3, check=False)
        hooked.post.update(post, positions=post.ndim - 3, check=False)

    def step(self, loss: torch.Tensor | float) -> None:
        """Close the window of the last forward pass: record ``(S_b, L_b)`` during warm-up, else
        add ``dW`` to each hooked weight. Call after ``optimizer.step()``.

        ``loss`` is the batch loss, a real number or a one-element tensor. One that is NaN or
        infinite raises ``ValueError`` (one that is not a number ``TypeError``), in warm-up and
        after it, before anything is recorded or applied; the window is dropped (see the class
        docstring)."""
        self._last_weight = None  # drop the reference to the last weight layer's input
        try:
            value = _loss_value(loss)
        except (TypeError, ValueError):
            for hooked in self.layers:  # so that the next forward pass starts a new window
                hooked.pre = hooked.post = None
            raise
        p = self.params
        open_layers = [hooked for hooked in self.layers if hooked.pre is not None]
        # every gate is checked before any weight changes
        lines = [None if self.in_warmup else gate_line(hooked.gate, p.gate, p.sign_tol) for hooked in open_layers]
        for hooked, line in zip(open_layers, lines):
            pre, post = hooked.pre, hooked.post
            hooked.pre = hooked.post = None
            hooked.checked = True
            weight = hooked.weight_layer.weight
            if kernel_window_takes(weight, self.backend):
                synchrony, g = kernel_window(pre, post, weight, line, p.sigma, p.a_plus, p.a_base, p.clip)
            else:
                (pre_fired, pre_latency), (post_fired, post_latency) = pre.finish(), post.finish()
                synchrony, g = sample_synchrony(pre_fired, post_fired), None
                if line is not None:
                    g = gate_values(synchrony, hooked.gate, p.gate, p.sign_tol)
                    dw = dassdp_update(
                        pre_fired,
                        post_fired,
                        pre_latency,
                        post_latency,
                        g.float(),
                        p.sigma,
                        p.a_plus,
                        p.a_base,
                        p.clip,
                        n_steps=pre.steps,
                        check_latencies=False,
                        backend=self.backend,
                    )
                    with torch.no_grad():
                        weight.add_(dw.to(weight.dtype).view(*dw.shape, *[1] * (weight.ndim - 2)))
            if line is not None and (p.w_min > -math.inf or p.w_max < math.inf):
                with torch.no_grad():
                    weight.clamp_(p.w_min, p.w_max)
            hooked.last = LastGate(synchrony, g, hooked.gate, p.gate, p.sign_tol)
            if line is None:
                hooked.warmup_synchrony.append(synchrony.cpu())
                hooked.warmup_loss.append(torch.full_like(hooked.warmup_synchrony[-1], value))

    def end_epoch(self) -> None:
        """Count an epoch; when warm-up ends, fit each layer's gate once from its records.

        With fewer than two records for a layer (or a fit that is not finite) it raises and
        neither counts the epoch nor fits any gate, so that warm-up goes on (see the module
        docstring)."""
        if self.epoch + 1 != self.warmup_epochs:
            self.epoch += 1
            return
        gates = []
        for hooked in self.layers:
            n_records = sum(len(r) for r in hooked.warmup_synchrony)
            if n_records < 2:
                raise RuntimeError(
                    f"layer {hooked.name!r} recorded {n_records} (S, L) pairs during warm-up, and the gate fit "
                    "needs at least 2; was step(loss) called after each training batch? The epoch was not "
                    "counted: warm-up goes on"
                )
            records = (_concat(hooked.warmup_synchrony), _concat(hooked.warmup_loss))
            gate = fit_gate(*(r.to(torch.float64).cpu().numpy() for r in records), self.params.gate_fit)
            if not all(math.isfinite(x) for x in (gate.k, gate.mu, gate.s)):
                raise ValueError(
                    f"the gate fitted for layer {hooked.name!r} is not finite ({gate}); are the warm-up losses "
                    "near the float64 range? The epoch was not counted"
                )
            gates.append(gate)
        for hooked, gate in zip(self.layers, gates):
            hooked.gate = gate
        self.epoch += 1

    @property
    def gates(self) -> dict[str, Gate | None]:
        """The fitted gate ``(k, mu, s)`` of each plastic layer by name (None before the fit)."""
        return {hooked.name: hooked.gate for hooked in self.layers}

    def set_gate(self, layer: str, gate: Gate) -> None:
        """Use ``gate`` for the plastic layer named ``layer`` (e.g. one fitted in Brian2), as if the
        warm-up had fitted it: a `Gate` with finite ``k`` and ``mu`` and ``s > 0``."""
        if not isinstance(layer, str):
            raise TypeError(f"layer must be a layer name (str), got {type(layer).__name__} {layer!r}")
        check_gate(gate)
        for hooked in self.layers:
            if hooked.name == layer:
                hooked.gate = gate
                return
        raise ValueError(f"set_gate: no plastic layer {layer!r}; the plastic layers are {list(self.gates)}")

    @property
    def last_gate(self) -> dict[str, LastGate | None]:
        """Each plastic layer's synchrony and gate at its last `step` (None before its first window)."""
        return {hooked.name: hooked.last for hooked in self.layers}

    def state_dict(self) -> dict:
        """Epoch counter, fitted gates and warm-up records (tensors and plain numbers)."""
        return {
            "epoch": self.epoch,
            "layers": {
                hooked.name: {
                    "gate": None if hooked.gate is None else [hooked.gate.k, hooked.gate.mu, hooked.gate.s],
                    "warmup_synchrony": _concat(hooked.warmup_synchrony),
                    "warmup_loss": _concat(hooked.warmup_loss),
                }
                for hooked in self.layers
            },
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore what `state_dict` saved. The whole state is checked first (``TypeError`` or
        ``ValueError`` naming the bad entry: a gate or records that are not finite, records of
        different lengths, a finished warm-up without a gate); nothing changes if it fails."""
        if not isinstance(state, dict) or not isinstance(state.get("layers"), dict) or "epoch" not in state:
            raise TypeError("state must be a dict with 'epoch' and 'layers', as state_dict() returns")
        names = {hooked.name for hooked in self.layers}
        if set(state["layers"]) != names:
            raise ValueError(
                f"state_dict layers {sorted(state['layers'])} do not match the hooked layers {sorted(names)}"
            )
        epoch = state["epoch"]
        check_count("state['epoch']", epoch)
        loaded = {}
        for name, saved in state["layers"].items():
            where = f"state['layers'][{name!r}]"
            gate = saved["gate"]
            if gate is not None:
                if not isinstance(gate, (list, tuple)) or len(gate) != 3:
                    raise TypeError(f"{where}['gate'] must be None or [k, mu, s], got {gate!r}")
                for x in gate:
                    check_real(f"{where}['gate']", x)
                gate = Gate(*map(float, gate))
                check_gate(gate, f"{where}['gate']")
            elif epoch >= self.warmup_epochs and self.params.gate != "off":
                raise ValueError(
                    f"{where}['gate'] is None, but epoch {epoch} is past the warm-up of {self.warmup_epochs} epochs"
                )
            records = []
            for key in ("warmup_synchrony", "warmup_loss"):
                r = saved[key]
                if not isinstance(r, torch.Tensor) or r.ndim != 1 or not r.is_floating_point():
                    raise TypeError(f"{where}[{key!r}] must be a 1-d float tensor, got {r!r}")
                if not bool(torch.isfinite(r).all()):
                    raise ValueError(f"{where}[{key!r}] must be finite; it holds NaN or infinite values")
                records.append(r)
            if records[0].shape != records[1].shape:
                raise ValueError(f"{where}: warmup_synchrony and warmup_loss differ in length")
            loaded[name] = (gate, *records)
        self.epoch = int(epoch)
        for hooked in self.layers:
            gate, synchrony, loss = loaded[hooked.name]
            hooked.gate = gate
            hooked.warmup_synchrony = [synchrony.clone()] if synchrony.numel() else []
            hooked.warmup_loss = [loss.clone()] if loss.numel() else []

    def remove(self) -> None:
        """Detach every hook; the model is left as it was before the plug-in."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
