"""Competition among the neurons of one group: lateral inhibition.

Each spike of neuron k takes ``strength * vth_j`` from the input ``I`` of every other neuron j of
the group, so that it acts at j's next update:

    ``I_j <- I_j - strength * vth_j * sum_(k != j) s_k(t)``

where ``s_k(t)`` is 1 if k spiked in step t. This is the winner-take-all circuit of Diehl &
Cook (2015, Front. Comput. Neurosci. 9:99) with the inhibitory population folded into direct
connections, for groups built by `dassdp.bridge.to_brian2` (variables ``I`` and ``vth``). The
Synapses run in Brian2's ``synapses`` slot, after the group's threshold and reset, so the
inhibition of step t reaches the update of step t + 1 (and the bridge clears ``I`` at every
window start, so it never crosses into the next sample). With a `dassdp.rules.reference.Schedule`
it acts only in windows whose value is 1, e.g. in training but not in evaluation windows. With
``replicas`` (`dassdp.rules.brian2.replicas`), the sum runs over the other neurons of j's own
replica block only.
"""

from __future__ import annotations

__all__ = ["lateral_inhibition"]


def lateral_inhibition(group, strength: float, schedule=None, name: str | None = None, replicas: int = 1):
    """The Synapses (add it to the Network) of lateral inhibition within ``group`` (within each
    of its ``replicas`` blocks)."""
    from brian2 import Synapses

    from dassdp.checks import check_positive, check_type
    from dassdp.rules.brian2.checks import check_group, check_schedule
    from dassdp.rules.brian2.replicas import block_size, check_replicas
    from dassdp.rules.brian2.windows import schedule_table

    check_group("group", group)
    check_replicas(replicas, group=group)
    check_positive("strength", strength)
    check_schedule(schedule)
    check_type("name", name, str, optional=True)
    missing = [v for v in ("I", "vth") if v not in group.variables]
    if missing:
        raise ValueError(f"lateral_inhibition: group {group.name!r} lacks the variable(s) {missing}")
    namespace = {"inhibition_strength": float(strength)}
    on = ""
    if schedule is not None:
        namespace["inhibition_on"] = schedule_table(schedule)
        on = " * inhibition_on(t)"
    syn = Synapses(
        group,
        group,
        on_pre=f"I_post -= inhibition_strength * vth_post{on}",
        namespace=namespace,
        name=name or group.name + "_inhibition",
    )
    n = block_size(group, replicas)
    syn.connect(condition="i != j" if replicas == 1 else f"i != j and i // {n} == j // {n}")
    return syn
