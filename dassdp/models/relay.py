"""Relay any Brian2 spike source into a NeuronGroup that spikes in the *same* time step.

A `SpikeGeneratorGroup` or `PoissonGroup` cannot carry extra variables (fired flags,
latencies, a dopamine variable), which plasticity rules need on their pre- and post-synaptic
groups. The relay is a NeuronGroup whose threshold reads a flag that a one-to-one Synapses from
the source sets within the ``thresholds`` slot, ordered after the source and before the relay's
own thresholder, so the relay's spikes carry the source's spike times exactly.
"""

from __future__ import annotations


def relay(source, extra: str = "", name: str = "relay*"):
    """Return ``(group, objects)``: the relaying NeuronGroup and all objects to add to a Network.

    ``source`` is any Brian2 spike source; ``extra`` adds equation lines to the relay (a line
    repeated verbatim is kept once, as in `dassdp.models.neurons.NeuronModel.group`).
    """
    from brian2 import NeuronGroup, Synapses

    from dassdp.checks import check_type
    from dassdp.rules.brian2.checks import check_group
    from dassdp.rules.brian2.windows import merge_equations

    check_group("source", source, spikes_only=True)
    check_type("extra", extra, str)
    check_type("name", name, str)
    group = NeuronGroup(
        len(source),
        merge_equations("relay_flag : 1", extra),
        threshold="relay_flag > 0.5",
        reset="relay_flag = 0",
        name=name,
    )
    link = Synapses(source, group, on_pre="relay_flag_post = 1", name=group.name + "_link")
    link.connect(j="i")
    link.pre.when = "thresholds"
    link.pre.order = source.order + 1
    group.thresholder["spike"].order = source.order + 2
    return group, [group, link]
