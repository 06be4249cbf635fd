"""Brian2 neuron templates: current-based and conductance-based leaky integrate-and-fire.

A template is a `NeuronModel`: equations, threshold, reset and refractoriness as strings, with the
parameters in a namespace (physical units everywhere). ``model.group(n, extra=...)`` builds the
`brian2.NeuronGroup`; ``extra`` appends the neuron-side variables a plasticity rule needs (see
``dassdp.rules.brian2``). The templates check their parameters: a value without its unit (``5``
for ``5*ms``) is a TypeError, a NaN, infinite or (for times, capacitances and conductances)
non-positive one a ValueError, each naming the parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class NeuronModel:
    """A Brian2 neuron model as data: equations, threshold, reset, refractory period, namespace."""

    equations: str
    threshold: str
    reset: str
    refractory: Any
    namespace: dict[str, Any] = field(default_factory=dict)
    method: str = "exact"
    #: name of the variable that synapses add their input to, and its unit as a string
    input_variable: str = "I_syn"

    def group(self, n: int, extra: str = "", name: str | None = None, **kwargs):
        """Build a `brian2.NeuronGroup` of ``n`` neurons; ``extra`` adds equation lines (a line
        repeated verbatim, as in ``neuron_variables("pre") + neuron_variables("post")``, is kept
        once)."""
        from brian2 import NeuronGroup

        from dassdp.checks import check_count, check_type
        from dassdp.rules.brian2.windows import merge_equations

        check_count("n", n, minimum=1)
        check_type("extra", extra, str)
        check_type("name", name, str, optional=True)
        group = NeuronGroup(
            int(n),
            merge_equations(self.equations, extra),
            threshold=self.threshold,
            reset=self.reset,
            refractory=self.refractory,
            method=self.method,
            namespace=dict(self.namespace),
            name=name or "neurongroup*",
            **kwargs,
        )
        for var, value in self.initial_values().items():
            setattr(group, var, value)
        return group

    def initial_values(self) -> dict[str, Any]:
        return {"v": self.namespace["v_rest"]} if "v_rest" in self.namespace else {}


def current_lif(tau_m=None, tau_syn=None, v_rest=None, v_threshold=None, v_reset=None, refractory=None) -> NeuronModel:
    """Current-based LIF with exponential synaptic current (in volts, the resistance absorbed):

    ``tau_m dv/dt = v_rest - v + I_syn + I_ext``, ``tau_syn dI_syn/dt = -I_syn``;
    spike when ``v > v_threshold``, then ``v = v_reset`` and no integration for ``refractory``.
    Synapses add to ``I_syn`` (volt). Defaults: 20 ms, 5 ms, -70 mV, -50 mV, -70 mV, 2 ms.
    """
    from brian2 import ms, mV

    namespace = {
        "tau_m": 20 * ms if tau_m is None else tau_m,
        "tau_syn": 5 * ms if tau_syn is None else tau_syn,
        "v_rest": -70 * mV if v_rest is None else v_rest,
        "v_threshold": -50 * mV if v_threshold is None else v_threshold,
        "v_reset": -70 * mV if v_reset is None else v_reset,
    }
    _check_parameters(namespace, second=("tau_m", "tau_syn"), volt=("v_rest", "v_threshold", "v_reset"))
    refractory = 2 * ms if refractory is None else refractory
    _check_refractory(refractory)
    return NeuronModel(
        equations="""
        dv/dt = (v_rest - v + I_syn + I_ext) / tau_m : volt (unless refractory)
        dI_syn/dt = -I_syn / tau_syn : volt
        I_ext : volt
        """,
        threshold="v > v_threshold",
        reset="v = v_reset",
        refractory=refractory,
        namespace=namespace,
        method="exact",
        input_variable="I_syn",
    )


def conductance_lif(
    C_m=None,
    g_L=None,
    E_L=None,
    E_e=None,
    E_i=None,
    tau_e=None,
    tau_i=None,
    v_threshold=None,
    v_reset=None,
    refractory=None,
) -> NeuronModel:
    """Conductance-based LIF with exponential excitatory and inhibitory conductances:

    ``C_m dv/dt = g_L (E_L - v) + g_e (E_e - v) + g_i (E_i - v) + I_ext``,
    ``tau_e dg_e/dt = -g_e``, ``tau_i dg_i/dt = -g_i``; spike when ``v > v_threshold``, then
    ``v = v_reset``. Synapses add to ``g_e`` (siemens). Defaults (Brunel/Vogels-Abbott style):
    200 pF, 10 nS, -60 mV, 0 mV, -80 mV, 5 ms, 10 ms, -50 mV, -60 mV, 5 ms. Integrated with
    exponential Euler (the equations are conditionally linear in v).
    """
    from brian2 import ms, mV, nS, pF

    namespace = {
        "C_m": 200 * pF if C_m is None else C_m,
        "g_L": 10 * nS if g_L is None else g_L,
        "E_L": -60 * mV if E_L is None else E_L,
        "E_e": 0 * mV if E_e is None else E_e,
        "E_i": -80 * mV if E_i is None else E_i,
        "tau_e": 5 * ms if tau_e is None else tau_e,
        "tau_i": 10 * ms if tau_i is None else tau_i,
        "v_threshold": -50 * mV if v_threshold is None else v_threshold,
        "v_reset": -60 * mV if v_reset is None else v_reset,
    }
    _check_parameters(
        namespace,
        second=("tau_e", "tau_i"),
        volt=("E_L", "E_e", "E_i", "v_threshold", "v_reset"),
        siemens=("g_L",),
        farad=("C_m",),
    )
    refractory = 5 * ms if refractory is None else refractory
    _check_refractory(refractory)
    namespace["v_rest"] = namespace["E_L"]
    return NeuronModel(
        equations="""
        dv/dt = (g_L * (E_L - v) + g_e * (E_e - v) + g_i * (E_i - v) + I_ext) / C_m : volt (unless refractory)
        dg_e/dt = -g_e / tau_e : siemens
        dg_i/dt = -g_i / tau_i : siemens
        I_ext : amp
        """,
        threshold="v > v_threshold",
        reset="v = v_reset",
        refractory=refractory,
        namespace=namespace,
        method="exponential_euler",
        input_variable="g_e",
    )


def _check_parameters(namespace: dict, **names_by_unit: tuple[str, ...]) -> None:
    """Each parameter in its unit and finite; times, conductances and capacitances also > 0."""
    from dassdp.rules.brian2.checks import check_quantity

    for unit, names in names_by_unit.items():
        for name in names:
            check_quantity(name, namespace[name], unit, bound=None if unit == "volt" else "> 0")


def _check_refractory(refractory) -> None:
    """A time >= 0, or a string (Brian2's refractoriness condition)."""
    from dassdp.rules.brian2.checks import check_quantity

    if not isinstance(refractory, str):
        check_quantity("refractory", refractory, bound=">= 0")
