"""Biophysical (continuous-time) conversion: the same network with physical units, Brian2's own
differential equations and default schedule, simulated with a step ``sim_dt`` that may be finer
than the PyTorch step ``dt``.

For a LIF layer with decay ``beta`` per step ``dt`` (``IF``: ``beta = 1``)::

    dv/dt = -v / tau_m        tau_m = -dt / ln(beta)     (exact integration; no leak for IF)
    v > vth  ->  v = 0 mV | v = v - vth | nothing          (reset="zero" | "subtract" | "none")
    pre spike ->  v_post += w * mV                        (delta synapses, one simulation step later)
    every dt:     v += b * mV  (bias; the input current I_in(t, i) * mV in input_mode "current")

so ``v`` decays by exactly ``beta`` over one ``dt``, as in PyTorch (up to rounding of
``exp(ln beta)``), but a spike reaches the next layer one *simulation* step later: the synapses
run in the ``before_thresholds`` slot of the next step, after the decay and before the threshold,
so ``u[t+1] = beta v[t] + w s[t]`` (at ``sim_dt = dt``: PyTorch with a one-step synaptic delay;
input spikes in ``input_mode="spikes"`` are delayed likewise, an input current is not). Max
pooling relays spikes in the same step; the readout counts spikes in the step they happen. With
``sim_dt < dt`` a neuron can fire more than once within one PyTorch step (rasters are binned to
PyTorch steps, so they show one spike; the readout counts all). Windows stay independent: ``v``
is set to 0 at each window start after the previous window's last spikes have been delivered.
This is the model to study synchrony in continuous time; it is *not* spike-exact. `agreement`
of `dassdp.bridge.check` measures how close it stays (rasters are binned to PyTorch steps).

The readout accumulates ``W s + b`` per window; logits are the window sum over ``T``, as in PyTorch.
Supported: LIF/IF populations with reset ``"zero"``, ``"subtract"`` or ``"none"`` (no reset), max
pooling, linear stages. Rejected by name (`ConversionError`): CubaLIF and LI, and populations with
snnTorch's step (``reset_delay`` True or False): its pending reset ``r = H(v - vth)`` of the stored
membrane acts one step later, which continuous time with a threshold crossing has no counterpart of.
"""

from __future__ import annotations

import math

import numpy as np

from dassdp.bridge.brian2 import Converted, _Builder, check_name, prepare_inputs, resolve_input_mode
from dassdp.bridge.lower import check_model
from dassdp.bridge.plan import ConversionError, Neurons
from dassdp.rules.brian2.checks import check_quantity

__all__ = ["to_brian2_biophysical"]


class _BiophysicalBuilder(_Builder):
    """`_Builder` with units, differential equations and Brian2's default schedule."""

    def place(self, obj, when: str = "groups"):
        return obj  # keep Brian2's default slots

    def neuron_group(self, stage: Neurons, shape, role):
        from brian2 import NeuronGroup, mV, second

        if stage.kind != "lif":
            raise ConversionError(
                f"layer {stage.name!r} ({stage.kind}): biophysical mode supports LIF/IF populations only"
            )
        if stage.snntorch:
            raise ConversionError(
                f"layer {stage.name!r}: biophysical mode cannot follow snnTorch's step "
                f"(reset_delay={stage.reset_delay}): its pending reset of a membrane left above threshold "
                "has no continuous-time counterpart; use mode='exact'"
            )
        if role:
            raise ConversionError("plastic layers are supported in exact mode only")
        n = math.prod(shape)
        beta = np.broadcast_to(stage.beta, (n,)).astype(np.float64)
        if np.any(beta <= 0) or np.any(beta > 1):
            raise ConversionError(f"layer {stage.name!r}: beta must lie in (0, 1] for a continuous-time membrane")
        eqs = """dv/dt = -v * leak / tau : volt
                 tau : second (constant)
                 leak : 1 (constant)
                 vth : volt (constant)
                 b : 1 (constant)"""
        reset = {"zero": "v = 0*mV", "subtract": "v = v - vth", "none": ""}[stage.reset]
        group = NeuronGroup(
            n, eqs, threshold="v > vth", reset=reset, method="exact", dt=self.conv.sim_dt, name=self.objname(stage.name)
        )
        dt = float(self.conv.dt / second)
        leaky = beta < 1
        group.leak = leaky.astype(float)
        tau = np.ones(n)
        tau[leaky] = -dt / np.log(beta[leaky])
        group.tau = tau * second
        group.vth = np.broadcast_to(stage.threshold, (n,)) * mV
        return group

    def neuron_objects(self, stage: Neurons, group) -> None:
        window = self.conv.n_steps * self.conv.dt
        # after the synapses (order -10) deliver the previous window's last spikes, which are dropped
        start = group.run_regularly(
            "v = 0*mV", dt=window, when="before_thresholds", order=-5, name=group.name + "_window_reset"
        )
        bias = group.run_regularly(
            "v += b * mV", dt=self.conv.dt, when="before_thresholds", order=0, name=group.name + "_bias"
        )
        self.objects += [group, start, bias]
        self.spiking(stage.name, group)

    def project(self, stages, prev, prev_shape, group, layer):
        projection = super().project(stages, prev, prev_shape, group, layer)
        if "v" in group.variables:  # into neurons: last step's spikes, after the decay, before the threshold
            projection.synapses.pre.when = "before_thresholds"
            projection.synapses.pre.order = -10
        return projection  # into the readout: Brian2's default synapses slot, in the step of the spike

    def pool_link(self, stage, prev, prev_shape, group) -> None:
        super().pool_link(stage, prev, prev_shape, group)
        link = self.conv.projections[-1].synapses  # a relay (dassdp.models.relay): pools fire in the same step
        link.pre.when = "thresholds"
        link.pre.order = self.conv.groups[prev].thresholder["spike"].order + 1
        group.thresholder["spike"].order = link.pre.order + 1

    def on_pre(self, group) -> str:
        return "v_post += w * mV" if "v" in group.variables else "I_post += w"

    def input_pattern(self, values: np.ndarray):
        """Input spikes in the first simulation step of each PyTorch step only."""
        ratio = round(float(self.conv.dt / self.conv.sim_dt))
        table = np.zeros((values.shape[0] * ratio, values.shape[1]))
        table[::ratio] = values
        return table, self.conv.sim_dt

    def connect_input(self, group, stages, in_shape, layer: str) -> None:
        super().connect_input(group, stages, in_shape, layer)
        if self.conv.input_mode == "current":
            feed = self.objects[-1]  # the run_regularly "I = bridge_input_current(t, i)" of exact mode
            self.objects.remove(feed)
            self.objects.append(
                group.run_regularly(
                    "v += bridge_input_current(t, i) * mV",
                    dt=self.conv.dt,
                    when="before_thresholds",
                    order=1,
                    name=group.name + "_input_mv",
                )
            )

    def output(self, pending, prev: str, prev_shape) -> None:
        from brian2 import NeuronGroup, StateMonitor

        conv, stages = self.conv, self.conv.plan.stages
        if not pending:
            raise ConversionError("biophysical mode needs a linear readout after the last spiking layer")
        readout_stages = [stages[m] for m in pending]
        *_, shape = self._block(readout_stages, prev_shape, "readout")
        group = NeuronGroup(
            math.prod(shape), "I : 1\nb : 1 (constant)\ny : 1", dt=conv.sim_dt, name=self.objname("readout")
        )
        self.objects.append(group)
        self.project(readout_stages, prev, prev_shape, group, "readout")
        window = conv.n_steps * conv.dt
        self.objects += [
            group.run_regularly("y = 0", dt=window, when="start", order=0, name=group.name + "_window_reset"),
            group.run_regularly("y += I + b\nI = 0", dt=conv.dt, when="start", order=-2, name=group.name + "_update"),
        ]
        # I collects this step's spikes; it is folded into y at the start of the next step
        monitor = StateMonitor(group, "y", record=True, dt=conv.dt, when="start", order=-1, name=group.name + "_y")
        self.objects.append(monitor)
        conv.groups["readout"], conv.shapes["readout"] = group, tuple(int(n) for n in shape)
        conv.output = ("readout", monitor, "cumulative")


def to_brian2_biophysical(
    model,
    inputs,
    *,
    n_steps=None,
    encoding=None,
    seed: int = 0,
    dt=None,
    sim_dt=None,
    input_mode: str = "auto",
    name: str = "bio",
) -> Converted:
    """The continuous-time Brian2 version of ``model`` (see the module docstring).

    ``dt`` is the duration of one PyTorch step (default ``defaultclock.dt``); ``sim_dt`` Brian2's integration
    step (default ``dt``; must divide ``dt``); both Brian2 times (TypeError otherwise). Other arguments
    as `dassdp.bridge.to_brian2`, and checked as there.
    """
    import copy

    import torch
    from brian2 import defaultclock

    from dassdp.bridge.lower import lower

    check_model(model)
    for name, value in (("dt", dt), ("sim_dt", sim_dt)):
        if value is not None:
            check_quantity(name, value)
    check_name(name)
    x = prepare_inputs(inputs, n_steps, encoding, seed)
    model = copy.deepcopy(model).to(torch.float64)
    plan = lower(model, input_shape=tuple(x.shape[2:]))
    dt = defaultclock.dt if dt is None else dt
    sim_dt = dt if sim_dt is None else sim_dt
    ratio = float(dt / sim_dt)
    if ratio < 1 or abs(ratio - round(ratio)) > 1e-9:
        raise ConversionError(f"sim_dt ({sim_dt}) must divide dt ({dt})")
    input_mode = resolve_input_mode(x, input_mode)
    conv = Converted(plan, x, dt, input_mode, sim_dt=sim_dt)
    builder = _BiophysicalBuilder(conv, model, {}, name)
    builder.build()
    return conv
