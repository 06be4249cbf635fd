"""Exact PyTorch -> Brian2 conversion of discrete-time spiking networks.

`to_brian2` builds one Brian2 group per neuron population (and per max-pooling stage) and one
Synapses per projection. Samples run back to back in windows of ``T`` steps of ``dt``. Every
step runs, in Brian2's ``groups`` slot and in this order (explicit ``order`` values)::

    input (TimedArray current, or input spikes and their synapses)
    for each population l:  update  v = beta v + (I + b); I = 0        (run_regularly)
                            threshold  v > vth                      (strict, as PyTorch)
                            reset  v = v - vth  |  v = 0  |  none
                            synapses l -> l+1:  I_post += w  (or the max-pool flag)
    readout:  y = I + b; I = 0 (recorded every step)

Populations with snnTorch's step (``reset_delay`` True or False, `dassdp.bridge.plan.Neurons`)
keep the pending reset ``r`` in a variable: the update computes ``r = int(v > vth)`` first and
then ``u`` exactly as snnTorch (``v = beta*v + (I + b)`` followed by ``v = v - r*vth``, or
``v = (1 - r)*v`` before it, ...), the threshold ``v > vth`` spikes, and instead of a reset a
``run_regularly`` after the threshold stores ``v = v - (int(v > vth) - r)*vth`` (or ``*v``) where
``reset_delay=False``, for spiking and silent neurons alike. Every statement is one or two
operations in snnTorch's order, so float64 results are the same numbers.

so a spike reaches the next layer in the step it is emitted, as in PyTorch. A ``run_regularly``
in the ``start`` slot with ``dt = T dt`` sets ``v``, ``I`` (and ``syn``) to 0 at every window start.

Exactness: the first layer's input current can be computed by PyTorch itself (``W x[t] + b``,
float64) and fed through a 2-d `TimedArray` (``input_mode="current"``, the default for real-valued
inputs); binary encodings may instead enter as spikes (``"spikes"``) through synapses. Summed
synaptic input is added in Brian2's order, not BLAS's, so membrane potentials agree to rounding
(~1e-15) and spike rasters are identical unless a potential lies within rounding of the threshold.

Arguments are checked before anything is built: a ``model`` that is not a ``torch.nn.Module``, inputs
that are not numeric, a ``dt`` that is not a Brian2 time, a non-integer ``n_steps`` raise TypeError;
NaN or infinite inputs or parameters, empty inputs, ``n_steps < 1`` raise ValueError (a
`ConversionError` where a layer is at fault), each naming the argument or layer.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, get_args

import numpy as np
import torch

from dassdp.bridge.lower import apply_stage, check_model, lower
from dassdp.bridge.plan import LINEAR, BlockAffine, ConversionError, Flatten, MaxPool, Neurons, Plan, TimeMean
from dassdp.checks import check_choice, check_count, describe
from dassdp.models.encoders import Encoding
from dassdp.rules.brian2.checks import check_quantity

__all__ = ["Converted", "Projection", "brian2_name", "to_brian2"]

_WINDOW_RESET = {"lif": "v = 0\nI = 0", "li": "v = 0\nI = 0", "cubalif": "v = 0\nI = 0\nsyn = 0", "readout": "I = 0"}
_UPDATE = {
    "lif": "v = beta*v + (I + b)\nI = 0",
    "li": "v = beta*v + (I + b)\nI = 0",
    "cubalif": "syn = alpha*syn + (I + b)\nv = beta*v + syn\nI = 0",
    "readout": "y = I + b\nI = 0",
}
_RESET = {"subtract": "v = v - vth", "zero": "v = 0", "none": ""}
#: snnTorch's step (`Neurons.reset_delay` True/False): ``u`` from the pending reset ``r`` ...
_SNNTORCH_MEMBRANE = {
    ("lif", "subtract"): "v = beta*v + (I + b)\nv = v - r*vth",
    ("lif", "zero"): "v = (1 - r)*v\nv = beta*v + (I + b)",
    ("lif", "none"): "v = beta*v + (I + b)",
    ("cubalif", "subtract"): "syn = alpha*syn + (I + b)\nv = beta*v + syn\nv = v - r*vth",
    ("cubalif", "zero"): "syn = alpha*syn + (I + b)\nv = beta*v + syn\nv = v - v*r",
    ("cubalif", "none"): "syn = alpha*syn + (I + b)\nv = beta*v + syn",
}
#: ... and the membrane stored after the threshold with ``reset_delay=False``
_SNNTORCH_STORE = {"subtract": "v = v - (int(v > vth) - r)*vth", "zero": "v = v - (int(v > vth) - r)*v"}


def _update_code(stage: Neurons) -> str:
    """The per-step update of a population (before its threshold)."""
    if not stage.snntorch:
        return _UPDATE[stage.kind]
    return f"r = int(v > vth)\n{_SNNTORCH_MEMBRANE[stage.kind, stage.reset]}\nI = 0"


def _store_code(stage: Neurons) -> str | None:
    """snnTorch ``reset_delay=False``: the membrane stored after the threshold (None: no such step)."""
    return _SNNTORCH_STORE.get(stage.reset) if stage.reset_delay is False else None


def brian2_name(name: str) -> str:
    """A Brian2 object name for a layer name (``fc.0`` -> ``fc_0``)."""
    out = "".join(c if c.isalnum() else "_" for c in name)
    return out if out[:1].isalpha() else "l_" + out


@dataclass
class Projection:
    """Synapses from ``pre`` to ``post`` implementing the linear ``stages`` (one unless composed).

    ``k`` maps each synapse to its entry of the single stage's ``weight.ravel()`` (None when
    composed, or for pooling), which is how weights go back to PyTorch.
    """

    stages: list
    pre: str
    post: str
    synapses: Any = None
    k: np.ndarray | None = None
    i: np.ndarray | None = None
    j: np.ndarray | None = None
    rule: Any = None

    @property
    def name(self) -> str:
        return "+".join(s.name for s in self.stages) or f"{self.pre}->{self.post}"

    @property
    def composed(self) -> bool:
        return len([s for s in self.stages if not isinstance(s, Flatten)]) > 1


@dataclass
class Converted:
    """A Brian2 network equivalent to a PyTorch model on given inputs.

    ``groups`` maps layer names (``lif.0``, ``pool.1``, ``input``, ``readout``) to Brian2 groups,
    ``spike_monitors`` the spiking ones to SpikeMonitors; ``inputs`` is the encoded float64 input
    ``[T, N, ...]`` the network was built for.
    """

    plan: Plan
    inputs: torch.Tensor
    dt: Any
    input_mode: str
    network: Any = None
    groups: dict = field(default_factory=dict)
    shapes: dict = field(default_factory=dict)
    spike_monitors: dict = field(default_factory=dict)
    projections: list = field(default_factory=list)
    output: tuple | None = None  # (layer name, monitor, variable)
    namespace: dict = field(default_factory=dict)
    input_projection: Projection | None = None
    results: dict | None = None
    sim_dt: Any = None  # biophysical mode: the simulation step (exact mode: None, one step per dt)

    @property
    def n_steps(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def n_samples(self) -> int:
        return int(self.inputs.shape[1])

    @property
    def duration(self):
        extra = 0 * self.dt if self.sim_dt is None else self.sim_dt  # biophysical: one more sample of the readout
        return self.n_samples * self.n_steps * self.dt + extra

    @property
    def rules(self) -> dict:
        return {p.name: p.rule for p in self.projections if p.rule is not None}

    def run(self, duration=None, **kwargs) -> Converted:
        """Run all samples (or ``duration``) and read the monitors back into NumPy arrays."""
        self.network.run(self.duration if duration is None else duration, namespace=dict(self.namespace), **kwargs)
        self._read()
        return self

    def _read(self) -> None:
        from brian2 import second

        steps_total = self.n_samples * self.n_steps
        dt = float(self.dt / second)
        rasters = {}
        for name, monitor in self.spike_monitors.items():
            shape = self.shapes[name]
            raster = np.zeros((steps_total, math.prod(shape)), dtype=bool)
            times = np.asarray(monitor.t[:] / second) / dt
            # exact mode: spikes at step starts; finer simulation steps belong to the step they fall in
            steps = (np.rint(times) if self.sim_dt is None else np.floor(times + 1e-9)).astype(np.int64)
            keep = steps < steps_total
            raster[steps[keep], np.asarray(monitor.i[:])[keep]] = True
            rasters[name] = raster.reshape(self.n_samples, self.n_steps, *shape)
        values = None
        if self.output is not None:
            name, monitor, variable = self.output
            if variable == "spikes":
                values = rasters[name].reshape(self.n_samples, self.n_steps, -1).astype(np.float64)
            elif variable == "cumulative":  # sampled at step starts, before the window reset
                trace = np.asarray(monitor.y[:]).T[1 : steps_total + 1].reshape(self.n_samples, self.n_steps, -1)
                values = np.diff(trace, axis=1, prepend=0.0)
            else:
                trace = np.asarray(getattr(monitor, variable)[:]).T[:steps_total]  # (steps, neurons)
                values = trace.reshape(self.n_samples, self.n_steps, -1)
        self.results = {"rasters": rasters, "outputs": values}

    def _need_results(self) -> dict:
        if self.results is None:
            raise RuntimeError("run() the converted network first")
        return self.results

    def spike_rasters(self) -> dict[str, np.ndarray]:
        """``{layer: bool[N, T, *shape]}`` for every spiking group (input spikes included)."""
        return self._need_results()["rasters"]

    def outputs(self) -> np.ndarray:
        """Per-step output ``[N, T, n_out]``: readout ``W s + b``, LI potential, or output spikes."""
        return self._need_results()["outputs"]

    def logits(self) -> np.ndarray:
        """The model's output per sample: the time mean of `outputs` if the model ends in one."""
        out = self.outputs()
        return out.mean(axis=1) if isinstance(self.plan.stages[-1], TimeMean) else out

    def predictions(self) -> np.ndarray:
        """``argmax`` of the time-mean output, per sample."""
        return self.outputs().mean(axis=1).argmax(axis=1)

    def summary(self) -> dict:
        """Layers, neurons and synapses (synapse counts are known after connect, or after a run)."""
        layers = []
        for name, group in self.groups.items():
            layers.append({"layer": name, "neurons": len(group), "shape": self.shapes.get(name)})
        synapses = []
        for p in ([self.input_projection] if self.input_projection else []) + self.projections:
            synapses.append({"projection": p.name, "pre": p.pre, "post": p.post, "synapses": len(p.i)})
        return {
            "layers": layers,
            "projections": synapses,
            "neurons": int(sum(len(g) for n, g in self.groups.items())),
            "synapses": int(sum(s["synapses"] for s in synapses)),
            "input_mode": self.input_mode,
            "samples": self.n_samples,
            "steps": self.n_steps,
        }


ENCODINGS = get_args(Encoding)


def check_name(name) -> None:
    """A Brian2 object name prefix: letters, digits and underscores, not starting with a digit."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {describe(name)}")
    if not name.isidentifier() or not name.isascii():
        raise ValueError(f"name must consist of letters, digits and '_' and not start with a digit, got {name!r}")


def _check_mapping(name: str, value) -> None:
    if value is not None and not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict keyed by layer name, got {describe(value)}")


def _as_tensor(inputs) -> torch.Tensor:
    """``inputs`` as a real tensor: TypeError naming ``inputs`` for anything else, ValueError for NaN or inf."""
    x = None
    if not isinstance(inputs, (str, bytes)):
        try:
            x = torch.as_tensor(inputs)
        except (TypeError, ValueError, RuntimeError):
            x = None
    if x is None or x.dtype.is_complex:
        raise TypeError(
            f"inputs must be a real-valued tensor or array [T, N, ...] (or [N, ...]), got {describe(inputs)}"
        )
    bad = int((~torch.isfinite(x.to(torch.float64))).sum())
    if bad:
        raise ValueError(f"inputs contain {bad} NaN or infinite value(s)")
    return x


def prepare_inputs(inputs, n_steps, encoding, seed) -> torch.Tensor:
    """The float64 time-major input ``[T, N, ...]`` that `to_brian2` builds for: ``inputs`` as
    given (``encoding`` None) or encoded (``"rate"`` seeded by ``seed``); errors name the argument."""
    from dassdp.models.encoders import encode

    if n_steps is not None:
        check_count("n_steps", n_steps, minimum=1)
    if encoding is not None:
        check_choice("encoding", encoding, ENCODINGS)
    check_count("seed", seed, minimum=-(2**63))
    x = _as_tensor(inputs)
    if x.ndim == 0 or 0 in x.shape:
        raise ValueError(f"inputs must hold at least one sample (and time step), got shape {tuple(x.shape)}")
    if encoding is None:
        if n_steps is not None and x.shape[0] != n_steps:
            raise ConversionError(f"inputs have {x.shape[0]} time steps but n_steps={n_steps}")
        if x.ndim < 3:
            raise ConversionError(
                "inputs must be time-major [T, N, ...] (or give encoding= and n_steps= for static [N, ...]), "
                f"got shape {tuple(x.shape)}"
            )
        return x.to(torch.float64)
    if n_steps is None:
        raise ConversionError(f"encoding={encoding!r} needs n_steps")
    generator = torch.Generator().manual_seed(int(seed)) if encoding == "rate" else None
    return encode(x.to(torch.float64), encoding, int(n_steps), generator).contiguous()


def resolve_input_mode(x: torch.Tensor, input_mode: str) -> str:
    """``"current"`` or ``"spikes"`` (``"auto"``: spikes for binary inputs); spikes need 0/1 inputs."""
    binary = bool(torch.all((x == 0) | (x == 1)))
    if input_mode == "auto":
        input_mode = "spikes" if binary else "current"
    if input_mode not in ("current", "spikes"):
        raise ConversionError(f"input_mode must be 'current', 'spikes' or 'auto', got {input_mode!r}")
    if input_mode == "spikes" and not binary:
        raise ConversionError("input_mode='spikes' needs binary inputs (0/1); use input_mode='current' for real values")
    return input_mode


def _roles(plan: Plan, plastic: dict) -> dict[int, str]:
    """Which stage indices need DA-SSDP variables: ``post`` for the stage after a plastic
    projection, ``pre`` for the population before it."""
    roles: dict[int, str] = {}
    names = [s.name for s in plan.stages]
    for layer, rule in plastic.items():
        if layer not in names:
            raise ConversionError(f"plastic: no layer named {layer!r} (layers: {names})")
        k = names.index(layer)
        if not isinstance(plan.stages[k], LINEAR) or isinstance(plan.stages[k], Flatten):
            raise ConversionError(f"plastic: layer {layer!r} is not a weight layer")
        post = next((m for m in range(k + 1, len(names)) if isinstance(plan.stages[m], Neurons)), None)
        pre = next((m for m in range(k - 1, -1, -1) if isinstance(plan.stages[m], (Neurons, MaxPool))), None)
        if post is None or pre is None:
            raise ConversionError(
                f"plastic: layer {layer!r} must connect two spiking populations (not the input or readout)"
            )
        if isinstance(rule, dict):  # DA-SSDP keyword arguments: the rule's neuron-side variables
            roles[post] = "post"
            roles.setdefault(pre, "pre")
        elif not callable(rule):
            raise ConversionError(
                f"plastic: the entry of layer {layer!r} must be DASSDPSynapses keyword arguments or a rule factory"
            )
    return roles


def to_brian2(
    model: torch.nn.Module,
    inputs,
    *,
    n_steps: int | None = None,
    encoding: str | None = None,
    seed: int = 0,
    dt=None,
    input_mode: str = "auto",
    plastic: dict | None = None,
    drive: dict | None = None,
    extra_variables: dict | None = None,
    name: str = "bridge",
    mode: str = "exact",
    sim_dt=None,
) -> Converted:
    """Build the Brian2 equivalent of ``model`` (a float64 copy of it) for ``inputs``.

    ``inputs`` is either the encoded, time-major ``[T, N, ...]`` tensor, or static samples
    ``[N, ...]`` with ``encoding`` (``"rate"`` seeded by ``seed``, ``"latency"``, ``"direct"``)
    and ``n_steps``. ``input_mode``: ``"current"`` (PyTorch computes the first layer's current),
    ``"spikes"`` (binary inputs only: an input group and synapses carry the first layer), or
    ``"auto"`` (spikes for binary inputs, current otherwise). ``plastic`` maps a weight layer's
    name to keyword arguments of `dassdp.rules.brian2.ssdp.DASSDPSynapses`, which then carries that
    projection (``window`` is ``T dt``; the initial weights are the layer's), or to a rule factory
    called as ``factory(pre, post, on_pre=..., w0=..., connect=..., name=...)`` (``w0`` a dense
    ``(len(post), len(pre))`` matrix, ``connect`` the ``i``/``j`` arrays) that returns an object
    with ``synapses`` and ``objects`` (e.g. `dassdp.rules.brian2.STDPSynapses`). For a
    `dassdp.bridge.replicas.Replicas` model the rule gets ``replicas=R`` as well, ``w0`` one
    matrix per replica ``(R, n_post, n_pre)`` and ``connect`` one replica's ``i``/``j``, as the
    rules' ``replicas`` argument takes them (`dassdp.rules.brian2.replicas`).

    ``drive`` maps a population's name to an extra input current ``[n_samples * T, n]`` (one row
    per step, samples back to back) added to its ``I`` every step before the update: a teacher
    signal, for instance. ``extra_variables`` maps a population's name to equation lines added to
    its group (e.g. ``neuron_variables("readout")`` for a spike-count loss).

    ``mode="biophysical"`` builds the continuous-time version instead (units, differential
    equations, one simulation step ``sim_dt`` of synaptic delay; not spike-exact), see
    `dassdp.bridge.biophysical`.

    ``dt`` defaults to Brian2's ``defaultclock.dt``. The network is built on the current Brian2
    device (see `dassdp.models.targets.use_target`).
    """
    from brian2 import defaultclock

    check_model(model)
    if dt is not None:
        check_quantity("dt", dt)
    check_name(name)
    for what, value in (("plastic", plastic), ("drive", drive), ("extra_variables", extra_variables)):
        _check_mapping(what, value)
    if mode == "biophysical":
        if plastic or drive or extra_variables:
            raise ConversionError("plastic, drive and extra_variables are supported in exact mode only")
        from dassdp.bridge.biophysical import to_brian2_biophysical

        return to_brian2_biophysical(
            model,
            inputs,
            n_steps=n_steps,
            encoding=encoding,
            seed=seed,
            dt=dt,
            sim_dt=sim_dt,
            input_mode=input_mode,
            name=name,
        )
    if mode != "exact":
        raise ConversionError(f"mode must be 'exact' or 'biophysical', got {mode!r}")
    if sim_dt is not None:
        raise ConversionError("sim_dt applies to mode='biophysical' only (exact mode runs one step per dt)")
    x = prepare_inputs(inputs, n_steps, encoding, seed)
    model = copy.deepcopy(model).to(torch.float64)
    plan = lower(model, input_shape=tuple(x.shape[2:]))
    input_mode = resolve_input_mode(x, input_mode)
    dt = defaultclock.dt if dt is None else dt
    if plastic and float(dt) != float(defaultclock.dt):
        raise ConversionError(
            f"plastic layers need dt equal to Brian2's defaultclock.dt ({defaultclock.dt}), which the DA-SSDP "
            f"objects use; got dt={dt}"
        )
    conv = Converted(plan, x, dt, input_mode)
    builder = _Builder(conv, model, dict(plastic or {}), name)
    builder.drive, builder.extra_variables = _check_drive(plan, x, drive), _check_extra(plan, extra_variables)
    builder.build()
    return conv


def _populations(plan: Plan) -> dict[str, Neurons]:
    return {s.name: s for s in plan.stages if isinstance(s, Neurons)}


def _check_drive(plan: Plan, x: torch.Tensor, drive: dict | None) -> dict[str, np.ndarray]:
    shapes = dict(zip([s.name for s in plan.stages], plan.shapes()))
    checked = {}
    for layer, values in (drive or {}).items():
        if layer not in _populations(plan):
            raise ConversionError(f"drive: no neuron layer named {layer!r} (neuron layers: {list(_populations(plan))})")
        values = np.asarray(values, dtype=np.float64)
        expected = (int(x.shape[0]) * int(x.shape[1]), math.prod(shapes[layer]))
        if values.shape != expected or not np.all(np.isfinite(values)):
            raise ConversionError(
                f"drive[{layer!r}] must be finite with shape (n_samples * T, n) = {expected}, got {values.shape}"
            )
        checked[layer] = values
    return checked


def _check_extra(plan: Plan, extra_variables: dict | None) -> dict[str, str]:
    for layer in extra_variables or {}:
        if layer not in _populations(plan):
            raise ConversionError(
                f"extra_variables: no neuron layer named {layer!r} (neuron layers: {list(_populations(plan))})"
            )
    return dict(extra_variables or {})


class _Builder:
    def __init__(self, conv: Converted, model, plastic: dict, prefix: str) -> None:
        self.conv, self.model, self.plastic, self.prefix = conv, model, plastic, prefix
        self.order = 0
        self.step = conv.dt if conv.sim_dt is None else conv.sim_dt  # the clock of every group
        self.objects: list = []
        self.non_spiking: set[str] = set()  # layers whose output is a potential, not spikes
        self.roles = _roles(conv.plan, plastic)
        self.drive: dict[str, np.ndarray] = {}
        self.extra_variables: dict[str, str] = {}

    def place(self, obj, when: str = "groups"):
        obj.when, obj.order = when, self.order
        self.order += 1
        return obj

    def on_pre(self, group) -> str:
        """Transmission code of a projection into ``group``."""
        return "I_post += w"

    def input_pattern(self, values: np.ndarray):
        """``(table, dt)`` of the input spike TimedArray (one row per step)."""
        return values, self.conv.dt

    def objname(self, layer: str) -> str:
        return f"{self.prefix}_{brian2_name(layer)}"

    def build(self) -> None:
        from brian2 import Network

        conv, plan = self.conv, self.conv.plan
        shapes = plan.shapes()
        stages = plan.stages
        # split into linear blocks and the nonlinear stage (or readout) that follows each
        pending: list[int] = []
        prev: str | None = None  # name of the previous group; None = the input
        prev_shape = tuple(plan.input_shape)
        in_shape = prev_shape
        first = True
        for k, stage in enumerate(stages):
            if isinstance(stage, LINEAR):
                pending.append(k)
                continue
            if isinstance(stage, TimeMean):
                break
            if prev in self.non_spiking:
                raise ConversionError(
                    f"layer {stage.name!r} follows the non-spiking layer {prev!r}; only spikes can be transmitted"
                )
            if isinstance(stage, MaxPool):
                if pending:
                    raise ConversionError(
                        f"layer {stage.name!r} (MaxPool) follows the linear layer {stages[pending[-1]].name!r}: "
                        "only max pooling of spikes is supported"
                    )
                if prev is None:
                    raise ConversionError(
                        f"layer {stage.name!r} (MaxPool) cannot pool the raw input; put a neuron layer first"
                    )
                group = self.pool_group(stage.name, shapes[k])
                self.pool_link(stage, prev, prev_shape, group)
                self.spiking(stage.name, group)
            else:
                group = self.neuron_group(stage, shapes[k], self.roles.get(k))
                if first:
                    self.connect_input(group, [stages[m] for m in pending], in_shape, stage.name)
                else:
                    self.project([stages[m] for m in pending], prev, prev_shape, group, stage.name)
                self.neuron_objects(stage, group)
            conv.groups[stage.name] = group
            conv.shapes[stage.name] = tuple(int(n) for n in shapes[k])
            if not getattr(stage, "spiking", True):
                self.non_spiking.add(stage.name)
            prev, prev_shape, pending, first = stage.name, tuple(shapes[k]), [], False
        if first:
            raise ConversionError("the model has no neuron layer: nothing to convert to Brian2")
        self.output(pending, prev, prev_shape)
        conv.network = Network(self.objects, name=f"{self.prefix}_network")
        conv.network.bridge = conv  # lets to_torch accept the Network itself

    # ---- groups -------------------------------------------------------------------------------
    def neuron_group(self, stage: Neurons, shape, role):
        from brian2 import NeuronGroup

        from dassdp.rules.brian2.windows import neuron_variables

        n = math.prod(shape)
        eqs = "v : 1\nI : 1\nb : 1 (constant)\nbeta : 1 (constant)\nvth : 1 (constant)\n"
        if stage.kind == "cubalif":
            eqs += "syn : 1\nalpha : 1 (constant)\n"
        if stage.snntorch:
            eqs += "r : 1\n"
        if role:
            eqs += neuron_variables(role)
        eqs += self.extra_variables.get(stage.name, "")
        reset = "" if stage.snntorch else _RESET[stage.reset]
        kwargs = {} if not stage.spiking else {"threshold": "v > vth", "reset": reset}
        group = NeuronGroup(n, eqs, dt=self.step, name=self.objname(stage.name), **kwargs)
        group.beta = np.broadcast_to(stage.beta, (n,))
        group.vth = np.broadcast_to(stage.threshold, (n,)) if stage.spiking else np.inf
        if stage.kind == "cubalif":
            group.alpha = np.broadcast_to(stage.alpha, (n,))
        return group

    def neuron_objects(self, stage: Neurons, group) -> None:
        window = self.conv.n_steps * self.conv.dt
        start = group.run_regularly(
            _WINDOW_RESET[stage.kind], dt=window, when="start", order=0, name=group.name + "_window_reset"
        )
        if stage.name in self.drive:
            from brian2 import TimedArray

            key = f"bridge_drive_{brian2_name(stage.name)}"
            self.conv.namespace[key] = TimedArray(self.drive[stage.name], dt=self.conv.dt, name=f"{self.prefix}_{key}")
            self.objects.append(
                self.place(group.run_regularly(f"I += {key}(t, i)", dt=self.conv.dt, name=group.name + "_drive"))
            )
        update = self.place(group.run_regularly(_update_code(stage), dt=self.conv.dt, name=group.name + "_update"))
        self.objects += [group, start, update]
        if stage.spiking:
            self.place(group.thresholder["spike"])
            if "spike" in group.resetter:
                self.place(group.resetter["spike"])
            if _store_code(stage):
                store = group.run_regularly(_store_code(stage), dt=self.conv.dt, name=group.name + "_store")
                self.objects.append(self.place(store))
            self.spiking(stage.name, group)
        else:
            self.last_trace = (stage.name, group)

    def spiking(self, name: str, group) -> None:
        from brian2 import SpikeMonitor

        monitor = SpikeMonitor(group, name=group.name + "_spikes")
        self.conv.spike_monitors[name] = monitor
        self.objects.append(monitor)

    def pool_group(self, name: str, shape):
        from brian2 import NeuronGroup

        group = NeuronGroup(
            math.prod(shape),
            "flag : 1",
            threshold="flag > 0.5",
            reset="flag = 0",
            dt=self.step,
            name=self.objname(name),
        )
        self.objects.append(group)
        return group

    def pool_link(self, stage: MaxPool, prev: str, prev_shape, group) -> None:
        from brian2 import Synapses

        i, j = stage.pairs(prev_shape)
        syn = Synapses(self.conv.groups[prev], group, on_pre="flag_post = 1", dt=self.step, name=group.name + "_link")
        syn.connect(i=i, j=j)
        self.place(syn.pre)
        self.place(group.thresholder["spike"])
        self.place(group.resetter["spike"])
        self.objects.append(syn)
        self.conv.projections.append(Projection([stage], prev, stage.name, syn, None, i, j))

    # ---- projections --------------------------------------------------------------------------
    def _block(self, stages, in_shape, layer: str):
        """``(i, j, w, k, bias, out_shape)`` of a chain of linear stages."""
        import scipy.sparse as sp

        real = [s for s in stages if not isinstance(s, Flatten)]
        shape = tuple(in_shape)
        if not real:  # identity (e.g. a Flatten only): one-to-one, weight 1
            n = math.prod(shape)
            for s in stages:
                shape = s.output_shape(shape)
            idx = np.arange(n)
            return idx, idx, np.ones(n), None, np.zeros(n), shape
        if len(real) == 1:
            for s in stages:
                if s is real[0]:
                    i, j, w, k = s.triplets(shape)
                    bias = s.bias_vector(shape)
                shape = s.output_shape(shape)
            return i, j, w, k, bias, shape
        matrix, bias = None, np.zeros(math.prod(shape))
        for s in stages:
            out = s.output_shape(shape)
            if not isinstance(s, Flatten):
                i, j, w, _ = s.triplets(shape)
                m = sp.csr_matrix((w, (j, i)), shape=(math.prod(out), math.prod(shape)))
                matrix = m if matrix is None else m @ matrix
                bias = m @ bias + s.bias_vector(shape)
            shape = out
        coo = matrix.tocoo()
        return coo.col.astype(np.int64), coo.row.astype(np.int64), coo.data.astype(np.float64), None, bias, shape

    def connect_input(self, group, stages, in_shape, layer: str) -> None:
        from brian2 import NeuronGroup, TimedArray

        conv = self.conv
        if conv.input_mode == "current":
            if not stages:
                raise ConversionError(f"input_mode='current' needs a weight layer before {layer!r}")
            x = conv.inputs
            for s in stages:
                x = apply_stage(s, x)
            x = x.detach().flatten(2)  # [T, N, n]
            if x.shape[2] != len(group):
                raise ConversionError(
                    f"the input current has {x.shape[2]} values per sample but {layer!r} has {len(group)} neurons"
                )
            values = x.transpose(0, 1).reshape(-1, x.shape[2]).numpy().copy()  # sample-major steps
            table = TimedArray(values, dt=conv.dt, name=f"{self.prefix}_input_current")
            conv.namespace["bridge_input_current"] = table
            feed = self.place(
                group.run_regularly("I = bridge_input_current(t, i)", dt=conv.dt, name=group.name + "_input")
            )
            self.objects.append(feed)
            conv.input_projection = Projection(list(stages), "input", layer, None, None, np.zeros(0), np.zeros(0))
            group.b = 0.0
            return
        n_in = math.prod(in_shape)
        x = conv.inputs.reshape(conv.n_steps, conv.n_samples, n_in)
        values, table_dt = self.input_pattern(x.transpose(0, 1).reshape(-1, n_in).numpy().copy())
        pattern = TimedArray(values, dt=table_dt, name=f"{self.prefix}_input_pattern")
        conv.namespace["bridge_input_pattern"] = pattern
        source = NeuronGroup(
            n_in, "", threshold="bridge_input_pattern(t, i) > 0.5", reset="", dt=self.step, name=self.objname("input")
        )
        self.place(source.thresholder["spike"])
        self.objects.append(source)
        conv.groups["input"] = source
        conv.shapes["input"] = tuple(in_shape)
        self.spiking("input", source)
        self.project(stages, "input", in_shape, group, layer)
        conv.input_projection = conv.projections.pop()

    def project(self, stages, prev: str, prev_shape, group, layer: str):
        from brian2 import Synapses

        conv = self.conv
        i, j, w, k, bias, shape = self._block(stages, prev_shape, layer)
        if math.prod(shape) != len(group):
            names = ", ".join(s.name for s in stages) or "(none)"
            raise ConversionError(
                f"shape mismatch: layer(s) {names} produce {math.prod(shape)} values "
                f"but {layer!r} has {len(group)} neurons"
            )
        group.b = bias
        projection = Projection(list(stages), prev, layer, None, k, i, j)
        plastic = [s.name for s in stages if s.name in self.plastic]
        if plastic:
            projection.rule = self.plastic_rule(plastic[0], projection, conv.groups[prev], group, w)
            syn = projection.rule.synapses
            self.objects += projection.rule.objects
        else:
            syn = Synapses(
                conv.groups[prev],
                group,
                model="w : 1",
                on_pre=self.on_pre(group),
                dt=self.step,
                name=f"{self.prefix}_syn_{brian2_name(projection.name)}",
            )
            syn.connect(i=i, j=j)
            syn.w = w
            self.objects.append(syn)
        projection.synapses = syn
        self.place(syn.pre)
        conv.projections.append(projection)
        return projection

    def plastic_rule(self, layer: str, projection: Projection, pre, post, w):
        from dassdp.rules.brian2.ssdp import DASSDPSynapses

        if projection.composed:
            raise ConversionError(
                f"plastic: layer {layer!r} is composed with other linear layers and cannot be plastic"
            )
        rule = self.plastic[layer]
        common = {"on_pre": "I_post += w", "name": f"{self.prefix}_plastic_{brian2_name(layer)}"}
        stage = next(s for s in projection.stages if not isinstance(s, Flatten))
        if isinstance(stage, BlockAffine):  # replicas: each one's matrix, one replica's synapses
            m = len(projection.i) // stage.replicas
            connect = {"i": projection.i[:m], "j": projection.j[:m]}
            common.update(w0=stage.weight, connect=connect, replicas=stage.replicas)
        else:
            w0 = np.full((len(post), len(pre)), 0.0)
            w0[projection.j, projection.i] = w
            common.update(w0=w0, connect={"i": projection.i, "j": projection.j})
        if callable(rule):
            return rule(pre, post, **common)
        kwargs = dict(rule)
        kwargs.setdefault("window", self.conv.n_steps * self.conv.dt)
        return DASSDPSynapses(pre, post, **common, **kwargs)

    def output(self, pending, prev: str, prev_shape) -> None:
        from brian2 import NeuronGroup, StateMonitor

        conv, stages = self.conv, self.conv.plan.stages
        if pending:
            readout_stages = [stages[m] for m in pending]
            if prev in self.non_spiking:
                raise ConversionError(f"layer {readout_stages[0].name!r} reads the non-spiking layer {prev!r}")
            _, _, _, _, _, shape = self._block(readout_stages, prev_shape, "readout")
            group = NeuronGroup(
                math.prod(shape), "I : 1\nb : 1 (constant)\ny : 1", dt=conv.dt, name=self.objname("readout")
            )
            self.objects.append(group)
            self.project(readout_stages, prev, prev_shape, group, "readout")
            window = conv.n_steps * conv.dt
            self.objects.append(
                group.run_regularly(
                    _WINDOW_RESET["readout"], dt=window, when="start", order=0, name=group.name + "_window_reset"
                )
            )
            self.objects.append(
                self.place(group.run_regularly(_UPDATE["readout"], dt=conv.dt, name=group.name + "_update"))
            )
            monitor = self.place(StateMonitor(group, "y", record=True, dt=conv.dt, name=group.name + "_y"))
            self.objects.append(monitor)
            conv.groups["readout"], conv.shapes["readout"] = group, tuple(int(n) for n in shape)
            conv.output = ("readout", monitor, "y")
        elif hasattr(self, "last_trace") and self.last_trace[0] == prev:
            group = self.last_trace[1]
            monitor = self.place(StateMonitor(group, "v", record=True, dt=conv.dt, name=group.name + "_v"))
            self.objects.append(monitor)
            conv.output = (prev, monitor, "v")
        else:
            conv.output = (prev, None, "spikes")
