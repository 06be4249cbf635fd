"""Replicas: R independent copies of a network in one Brian2 simulation.

Many seeds of one network can run as one simulation: every group holds its neurons R times,
replica r owning the contiguous block ``[r n, (r + 1) n)`` of a group of ``R n`` neurons, and no
synapse crosses replicas. A rule built with ``replicas=R`` applies its connectivity within each
replica, so its synapses form R diagonal blocks, listed replica by replica (synapse ``s`` of
replica r is synapse ``r m + s`` of the Synapses, ``m`` synapses per replica, in the order that a
run with ``replicas=1`` gives them); every reduction into a group with one neuron per replica (the
DA-SSDP gate volume, a dopamine volume) sums the block of its own replica only, and what that
neuron delivers reaches its replica's block only. With ``replicas=1`` nothing changes.
"""

from __future__ import annotations

import numpy as np

from dassdp.checks import check_count

__all__ = ["block_size", "check_connect", "check_replicas", "connect_replicas"]


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
