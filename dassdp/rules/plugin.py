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
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from dassdp.checks import check_choice
from dassdp.models.snn import LIF
from dassdp.rules.reference import DASSDPParams, Gate, GateMode, fit_gate
from dassdp.rules.torch import (
    Backend,
    RunningActivity,
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


def _check_binary(x: torch.Tensor, what: str) -> None:
    if bool(((x != 0) & (x != 1)).any()):
        raise ValueError(f"{what} is not a spike tensor (values other than 0 and 1); DA-SSDP needs spikes")


def _concat(records: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat(records) if records else torch.zeros(0, dtype=torch.float64)


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
    """DA-SSDP plug-in (see the module docstring). ``layers`` are module names of ``model``
    (as in ``model.named_modules()``) or the modules themselves; each must be a spiking layer.
    ``backend``: ``"auto"``, ``"tensor"`` or ``"numba"`` (see the module docstring)."""

    def __init__(
        self,
        model: nn.Module,
        layers: list[str | nn.Module],
        params: DASSDPParams | None = None,
        warmup_epochs: int = 100,
        backend: Backend = "auto",
    ) -> None:
        check_choice("backend", backend, ("auto", "tensor", "numba"))
        self.backend = backend
        self.params = params or DASSDPParams()
        if int(warmup_epochs) != warmup_epochs or warmup_epochs < 0:
            raise ValueError(f"warmup_epochs must be an integer >= 0, got {warmup_epochs!r}")
        if self.params.gate != "off" and warmup_epochs < 1:
            raise ValueError(f"warmup_epochs must be >= 1 to fit the {self.params.gate!r} gate, got {warmup_epochs}")
        if not layers:
            raise ValueError("layers must name at least one spiking layer of the model")
        self.model, self.warmup_epochs, self.epoch = model, int(warmup_epochs), 0
        self.layers = [self._resolve(layer) for layer in layers]
        self._last_weight: tuple[nn.Module, torch.Tensor] | None = None
        self._handles = [
            m.register_forward_hook(self._weight_hook) for m in model.modules() if isinstance(m, _WEIGHT_TYPES)
        ]
        self._handles += [hl.neuron.register_forward_hook(self._neuron_hook(hl)) for hl in self.layers]
        self._handles.append(model.register_forward_hook(self._forward_end))

    def _resolve(self, layer: str | nn.Module) -> _HookedLayer:
        modules = dict(self.model.named_modules())
        if isinstance(layer, str):
            if layer not in modules:
                raise ValueError(f"layers: the model has no module named {layer!r}")
            name, module = layer, modules[layer]
        else:
            names = [n for n, m in modules.items() if m is layer]
            if not names:
                raise ValueError(f"layers: {type(layer).__name__} module is not part of the model")
            name, module = names[0], layer
        if not is_spiking_layer(module):
            raise ValueError(
                f"layers: {name!r} ({type(module).__name__}) does not emit spikes; hook a spiking neuron layer "
                "(dassdp LIF, snnTorch neuron, SpikingJelly node)"
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
            _check_binary(spikes, f"output of layer {hooked.name!r}")
            _check_binary(pre, f"input of the weight feeding layer {hooked.name!r}")
            weight = weight_layer.weight
            if post.shape[2] != weight.shape[0] or pre.shape[2] != weight.shape[1]:
                raise ValueError(
                    f"layer {hooked.name!r}: spikes ({post.shape[2]} post, {pre.shape[2]} pre channels) "
                    f"do not match the weight feeding it {tuple(weight.shape)}"
                )
        if hooked.pre is None:
            hooked.pre, hooked.post = RunningActivity(self.params.latency), RunningActivity(self.params.latency)
        hooked.pre.update(pre, positions=pre.ndim - 3)  # a channel fires if any of its positions does
        hooked.post.update(post, positions=post.ndim - 3)

    def step(self, loss: torch.Tensor | float) -> None:
        """Close the window of the last forward pass: record ``(S_b, L_b)`` during warm-up, else
        add ``dW`` to each hooked weight. Call after ``optimizer.step()``."""
        self._last_weight = None  # drop the reference to the last weight layer's input
        loss = loss.detach() if isinstance(loss, torch.Tensor) else loss
        p = self.params
        for hooked in self.layers:
            pre, post = hooked.pre, hooked.post
            if pre is None:
                continue
            hooked.pre = hooked.post = None
            hooked.checked = True
            weight = hooked.weight_layer.weight
            line = None if self.in_warmup else gate_line(hooked.gate, p.gate, p.sign_tol)
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
                hooked.warmup_loss.append(torch.full_like(hooked.warmup_synchrony[-1], float(loss)))

    def end_epoch(self) -> None:
        """Count an epoch; when warm-up ends, fit each layer's gate once from its records."""
        self.epoch += 1
        if self.epoch != self.warmup_epochs:
            return
        for hooked in self.layers:
            if not hooked.warmup_synchrony:
                raise RuntimeError(
                    f"layer {hooked.name!r} recorded no (S, L) pairs during warm-up; "
                    "was step(loss) called after each training batch?"
                )
            records = (_concat(hooked.warmup_synchrony), _concat(hooked.warmup_loss))
            hooked.gate = fit_gate(*(r.to(torch.float64).cpu().numpy() for r in records), self.params.gate_fit)

    @property
    def gates(self) -> dict[str, Gate | None]:
        """The fitted gate ``(k, mu, s)`` of each plastic layer by name (None before the fit)."""
        return {hooked.name: hooked.gate for hooked in self.layers}

    def set_gate(self, layer: str, gate: Gate) -> None:
        """Use ``gate`` for the plastic layer named ``layer`` (e.g. one fitted in Brian2), as if the
        warm-up had fitted it."""
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
        names = {hooked.name for hooked in self.layers}
        if set(state.get("layers", {})) != names:
            raise ValueError(
                f"state_dict layers {sorted(state.get('layers', {}))} do not match the hooked layers {sorted(names)}"
            )
        self.epoch = int(state["epoch"])
        for hooked in self.layers:
            saved = state["layers"][hooked.name]
            hooked.gate = None if saved["gate"] is None else Gate(*map(float, saved["gate"]))
            hooked.warmup_synchrony = [saved["warmup_synchrony"].clone()] if saved["warmup_synchrony"].numel() else []
            hooked.warmup_loss = [saved["warmup_loss"].clone()] if saved["warmup_loss"].numel() else []

    def remove(self) -> None:
        """Detach every hook; the model is left as it was before the plug-in."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
