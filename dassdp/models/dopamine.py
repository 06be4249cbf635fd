"""The dopamine volume: a Brian2 group of one neuron (one per replica) holding ``DA``.

``dDA/dt = (DA_tonic - DA) / tau_DA``; every spike of a dopaminergic source adds ``DA_phasic``
(a volume transmitter in NEST's terms). Synapses cannot read a variable of another group, nor a
linked variable of their post-synaptic group, so the volume *delivers* its ``DA`` to a plain
``DA : 1`` variable of each target group through a one-to-all Synapses that the volume triggers:
on every step by default (``deliver="True"``), or on a condition such as a window end.

Schedule (for exact event-driven semantics): phasic input arrives in the ``synapses`` slot at
order -40, delivery runs at order -30, so plasticity in the same step sees ``DA(t)`` after the
jump; the decay runs in the ``end`` slot (order 10), after plasticity has integrated the step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Orders within the ``synapses`` slot used across dassdp's Brian2 objects.
ORDER_PHASIC = -40
ORDER_DELIVER = -30


@dataclass
class DopamineVolume:
    """A dopamine volume and the objects that feed and deliver it (add ``objects`` to a Network).

    ``DA_tonic`` is the resting level, ``tau_DA`` the decay time constant, ``DA_phasic`` the jump
    per dopaminergic spike. ``extra`` adds equation lines (used by rules that compute their own
    dopamine signal, e.g. the DA-SSDP gate). With ``replicas`` (`dassdp.rules.brian2.replicas`)
    the volume has one neuron per replica: neuron r receives the spikes of its replica's block of
    a phasic source and delivers to its replica's block of a target only.
    """

    tau_DA: Any = None
    DA_tonic: float = 0.0
    DA_phasic: float = 1.0
    deliver: str = "True"
    extra: str = ""
    name: str = "dopamine*"
    replicas: int = 1

    def __post_init__(self) -> None:
        from brian2 import NeuronGroup, ms

        from dassdp.checks import check_count, check_finite, check_type
        from dassdp.rules.brian2.checks import check_quantity

        if self.tau_DA is None:
            self.tau_DA = 200 * ms
        check_quantity("tau_DA", self.tau_DA)
        check_finite("DA_tonic", self.DA_tonic)
        check_finite("DA_phasic", self.DA_phasic)
        for name in ("deliver", "extra", "name"):
            check_type(name, getattr(self, name), str)
        check_count("replicas", self.replicas, minimum=1)
        self.group = NeuronGroup(
            self.replicas,
            "dDA/dt = (DA_tonic - DA) / tau_DA : 1\n" + self.extra,
            threshold=self.deliver,
            reset="",
            method="exact",
            namespace={"tau_DA": self.tau_DA, "DA_tonic": self.DA_tonic},
            name=self.name,
        )
        self.group.DA = self.DA_tonic
        self.group.state_updater.when = "end"
        self.group.state_updater.order = 10
        self.objects: list = [self.group]

    def phasic_input(self, source, name: str = "dopamine_input*"):
        """Each spike of ``source`` adds ``DA_phasic`` to ``DA`` (of its replica's neuron)."""
        from brian2 import Synapses

        from dassdp.rules.brian2.checks import check_group
        from dassdp.rules.brian2.replicas import check_replicas, connect_replicas

        check_group("source", source, spikes_only=True)
        check_replicas(self.replicas, source=source)
        syn = Synapses(
            source, self.group, on_pre="DA_post += DA_phasic", namespace={"DA_phasic": self.DA_phasic}, name=name
        )
        connect_replicas(syn, self.replicas)
        set_pathway_order(syn, ORDER_PHASIC)
        self.objects.append(syn)
        return syn

    def deliver_to(self, target, variables: tuple[str, ...] = ("DA",), name: str = "dopamine_delivery*"):
        """Copy ``variables`` of the volume into the same-named variables of ``target`` (of its
        replica's block)."""
        from dassdp.rules.brian2.checks import check_group
        from dassdp.rules.brian2.replicas import check_replicas

        check_group("target", target)
        check_replicas(self.replicas, target=target)
        _check_variables(variables)
        missing = [v for v in variables if v not in target.variables]
        if missing:
            raise ValueError(
                f"group {target.name!r} has no variable(s) {missing} to receive dopamine; "
                f"add e.g. 'DA : 1' to its equations"
            )
        return deliver(self.group, target, variables, name)


def deliver(source, target, variables: tuple[str, ...], name: str = "delivery*"):
    """Synapses that copy ``variables`` from ``source`` (one neuron per replica) to ``target``:
    neuron r of ``source`` to the r-th of ``len(source)`` equal blocks of ``target`` (one
    neuron: to all of ``target``)."""
    from brian2 import Synapses

    from dassdp.rules.brian2.replicas import connect_replicas

    _check_variables(variables)
    code = "\n".join(f"{v}_post = {v}_pre" for v in variables)
    syn = Synapses(source, target, on_pre=code, name=name)
    connect_replicas(syn, len(source))
    set_pathway_order(syn, ORDER_DELIVER)
    return syn


def _check_variables(variables) -> None:
    """A tuple (or list) of variable names: a single string would be read letter by letter."""
    if not isinstance(variables, (tuple, list)) or not all(isinstance(v, str) for v in variables):
        raise TypeError(f"variables must be a tuple of variable names, got {type(variables).__name__} {variables!r}")


def set_pathway_order(synapses, order: int) -> None:
    """Place every pathway of ``synapses`` at ``order`` in the ``synapses`` slot.

    Brian2 gives pre pathways order -1 and post pathways +1 whatever the Synapses' own order.
    """
    for pathway in synapses._pathways:
        pathway.order = order
