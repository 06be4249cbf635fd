"""Replicas: R independent copies of a network in one Brian2 simulation.

Many seeds of one network can run as one simulation: every group holds its neurons R times,
replica r owning the contiguous block ``[r n, (r + 1) n)`` of a group of ``R n`` neurons, and no
synapse crosses replicas. A rule built with ``replicas=R`` applies its connectivity within each
replica, so its synapses form R diagonal blocks, listed replica by replica (synapse ``s`` of
replica r is synapse ``r m + s`` of the Synapses, ``m`` synapses per replica, in the order that a
run with ``replicas=1`` gives them); every reduction into a group with one neuron per replica (the
DA-SSDP gate volume, a dopamine volume) sums the block of its own replica only, and what that
neuron delivers reaches its replica's block only. With ``replicas=1`` nothing changes.

**Parameters per replica.** A rule's ``params`` may be one params object, which every replica
uses, or a list or tuple of exactly R params objects of the rule's type, replica r using
``params[r]`` (`replica_params`). Only the constants that the rule holds per synapse then may
differ between replicas:

- DA-SSDP and SSDP (`dassdp.rules.reference.DASSDPParams`): ``a_plus``, ``a_base``, ``clip``,
  ``w_min`` and ``w_max``;
- STDP and DA-STDP (`dassdp.rules.reference.STDPParams`, `dassdp.rules.reference.DASTDPParams`):
  ``a_plus``, ``a_minus``, ``w_min`` and ``w_max`` (and so the same-step correction derived from
  them).

Every other field is compiled into the network's code or held once for the whole network, so it
must be equal in all R params objects (ValueError naming the field). With one params object the
constants stay shared (namespace constants or shared variables, the code of a single network);
with a list or tuple each of the constants above becomes a per-synapse variable of the plastic
synapses (``ssdp_a_plus``, ``stdp_w_max``, ...; also of DA-SSDP's split-weight delivery), holding
replica r's value on replica r's synapses, and a normalisation clips each synapse to its own
bounds. DA-SSDP keeps whole weights if any replica has a finite bound; a replica without bounds
then clips to ``-inf`` and ``inf``: the same update, but in the whole-weight form, which equals
the split form it would use alone up to rounding, not bit for bit.
"""

from __future__ import annotations

import numpy as np

from dassdp.checks import check_count, check_type

__all__ = [
    "block_size",
    "check_connect",
    "check_replicas",
    "connect_replicas",
    "per_replica",
    "per_synapse",
    "replica_params",
]


def check_replicas(replicas, **groups) -> None:
    """``replicas`` a positive integer that divides the size of each of ``groups`` (name: group);
    TypeError or ValueError naming the parameter."""
    check_count("replicas", replicas, minimum=1)
    for name, group in groups.items():
        if len(group) % replicas:
            raise ValueError(
                f"{name} has {len(group)} neurons, not a multiple of replicas={replicas} "
                "(each replica owns an equal block of every group)"
            )


def block_size(group, replicas: int) -> int:
    """The neurons of one replica in ``group``."""
    return len(group) // replicas


def connect_replicas(synapses, replicas: int, connect: dict | None = None) -> None:
    """Connect ``synapses`` within each of ``replicas`` blocks of its source and target.

    ``connect`` (keyword arguments of ``Synapses.connect`` for one replica, whose indices are
    local to the replica's blocks) may be None (all-to-all within each replica: one neuron per
    replica on either side, e.g. a gate volume, reaches or reads its replica's block) or explicit
    ``i``, ``j`` arrays, repeated in every replica; with ``replicas=1`` any ``connect`` is
    passed on unchanged.
    """
    if replicas == 1:
        synapses.connect(**(connect or {}))
        return
    n_source, n_target = block_size(synapses.source, replicas), block_size(synapses.target, replicas)
    if not connect:
        block = f"(i // {n_source})"
        synapses.connect(j=f"k for k in range({block} * {n_target}, ({block} + 1) * {n_target})")
        return
    i, j = np.asarray(connect["i"]), np.asarray(connect["j"])
    offsets = np.arange(replicas)[:, None]
    synapses.connect(i=(i + offsets * n_source).ravel(), j=(j + offsets * n_target).ravel())


def check_connect(connect: dict | None, replicas: int, n_pre: int, n_post: int) -> None:
    """With replicas, ``connect`` must be None or explicit ``i``, ``j`` arrays within one replica
    (other forms, e.g. a condition or a probability, would see global indices)."""
    if replicas == 1 or not connect:
        return
    if set(connect) != {"i", "j"}:
        raise ValueError(
            f"connect: with replicas={replicas}, give None (all-to-all within each replica) or explicit "
            f"'i', 'j' arrays of one replica, got the keys {sorted(connect)}"
        )
    i, j = np.asarray(connect["i"]), np.asarray(connect["j"])
    integers = np.issubdtype(i.dtype, np.integer) and np.issubdtype(j.dtype, np.integer)
    if i.shape != j.shape or i.ndim != 1 or not integers:
        raise ValueError("connect: 'i' and 'j' must be 1-d integer arrays of equal length")
    if i.size and (i.min() < 0 or i.max() >= n_pre or j.min() < 0 or j.max() >= n_post):
        raise ValueError(
            f"connect: with replicas={replicas}, 'i' must lie in [0, {n_pre}) and 'j' in [0, {n_post}) "
            "(indices within one replica)"
        )


def replica_params(params, replicas: int, kind: type, varying: tuple[str, ...]) -> tuple | None:
    """The params of each replica, or None for one params object (of type ``kind``) for all.

    ``params`` may be one ``kind`` or a list or tuple of exactly ``replicas`` of them, which may
    differ in the fields ``varying`` only (the module docstring). TypeError naming ``params`` for
    another type (of the value or of an element), ValueError for another length or a field
    outside ``varying`` that differs between replicas.
    """
    from dataclasses import fields

    if not isinstance(params, (list, tuple)):
        check_type("params", params, kind)
        return None
    if len(params) != replicas:
        raise ValueError(
            f"params: give one {kind.__name__} for all replicas or a list of exactly replicas={replicas} "
            f"of them (one per replica), got {len(params)}"
        )
    for r, p in enumerate(params):
        check_type(f"params[{r}]", p, kind)
    allowed = ", ".join(repr(name) for name in varying)
    for field in fields(kind):
        if field.name in varying:
            continue
        first = getattr(params[0], field.name)
        for r, p in enumerate(params[1:], start=1):
            value = getattr(p, field.name)
            if value != first:
                raise ValueError(
                    f"params: replicas must share {field.name!r} (it is compiled into the network's code or "
                    f"held once for all replicas; only {allowed} may differ); replica {r} has {value!r}, "
                    f"replica 0 has {first!r}"
                )
    return tuple(params)


def per_synapse(values, connect: dict | None, n_pre: int, n_post: int) -> float | np.ndarray:
    """One value per replica (``values``) as one value per synapse of Synapses connected by
    `connect_replicas` (``n_pre``, ``n_post`` neurons per replica; ``connect`` None or explicit
    ``i``, ``j``), replica r's value on its ``m`` synapses ``r m .. (r + 1) m - 1``; with one
    replica, its value (any connectivity)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 1:
        return float(values[0])
    m = n_pre * n_post if not connect else len(connect["i"])
    return np.repeat(values, m)


def per_replica(equations: str, names) -> str:
    """``equations`` with the shared constants ``names`` (``name : 1 (shared, constant)``) as
    per-synapse ones (``name : 1 (constant)``), to hold a value per replica."""
    for name in names:
        shared = f"{name} : 1 (shared, constant)"
        if shared in equations:
            equations = equations.replace(shared, f"{name} : 1 (constant)")
    return equations
