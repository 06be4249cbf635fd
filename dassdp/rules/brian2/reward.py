"""Outcome-dependent dopamine for three-factor rules: a reward-prediction-error volume.

After every learning window m of a group of label neurons (one per class), the reward is the
correct label neuron's share of the window's label spikes, and its prediction error is released
as phasic dopamine:

    ``r_m = n_label / sum_j n_j`` (0 if no label neuron spiked),
    ``DA <- DA + (r_m - rbar) / tau_n``,   ``rbar <- rbar + rate (r_m - rbar)``,

with ``DA`` relaxing to its tonic level ``DA_tonic`` with ``tau_n`` between releases (a
`dassdp.models.dopamine.DopamineVolume`), so ``DA(t) = DA_tonic + sum of decaying phasic
releases``, as dopamine acts on a tonic and a phasic time course (Schultz 2007, Annu. Rev.
Neurosci. 30:259). The phasic part is the reward-prediction-error signal of temporal-difference
models of dopamine (Schultz, Dayan & Montague 1997) in its simplest, one-step form with a running
average as prediction, as used with DA-STDP by Fremaux & Gerstner (2016); with NEST's
``stdp_dopamine_synapse`` convention (``DA`` in 1/s, one unit of dopamine adds ``1/tau_n``) it
drives `dassdp.rules.brian2.stdp.DASTDPSynapses`, whose ``dw/dt = c (DA - b)``. The phasic part
carries the outcome: above-average windows potentiate the pairs they tagged, below-average ones
depress them.
The tonic part lets tagged pairs change at all when the outcome is as expected: with a teacher
that makes every training window correct, the prediction error alone averages to zero for the
correct label neuron and could not form a new association.

The release runs in the ``groups`` slot of the step that opens window m + 1 (after the label
neurons' spike counts of window m are complete), only where the schedule says window m learnt.

With labels of one row per replica (`dassdp.rules.brian2.replicas`), the volume has one neuron
per replica: neuron r counts the spikes of replica r's block of label neurons only, against
``labels[r, m]``, and keeps its own ``rbar`` and ``DA``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["reward_prediction_error"]


def reward_prediction_error(
    labels_group, labels, schedule, window_s: float, tau_n: float, rate: float, tonic: float = 0.0
):
    """A `DopamineVolume` at tonic level ``tonic`` (1/s) that receives ``(r - rbar) / tau_n`` after
    every learning window (see the module docstring); ``labels[m]`` is the correct label neuron of
    window m and ``labels_group`` carries ``neuron_variables("readout")`` (the window's spike
    counts); with replicas, ``labels[r, m]`` (one row per replica, the volume then having one
    neuron per replica). ``schedule`` (a `dassdp.rules.reference.Schedule`) has windows of ``window_s``
    seconds; ``tau_n`` is in seconds. ``labels`` has one class per window of the run: a longer run
    raises a ValueError when it starts, where the last label would silently repeat. Add its
    ``objects``."""
    from brian2 import Synapses, second

    from dassdp.checks import check_positive, check_real
    from dassdp.models.dopamine import DopamineVolume
    from dassdp.rules.brian2.checks import check_group, check_schedule
    from dassdp.rules.brian2.losses import _check_labels, label_replicas, label_table
    from dassdp.rules.brian2.replicas import connect_replicas
    from dassdp.rules.brian2.windows import (
        on_window_clock,
        require_variables,
        schedule_table,
        track_windows,
        window_values_guard,
    )

    check_group("labels_group", labels_group)
    require_variables(labels_group, "readout", "labels_group")
    _check_labels(labels, len(labels_group), size="the size of labels_group")
    check_positive("window_s", window_s)
    check_schedule(schedule, window_s * second, optional=False)
    check_positive("tau_n", tau_n)
    check_real("rate", rate)
    if not 0 < rate <= 1:
        raise ValueError(f"rate must lie in (0, 1], got {rate!r}")
    check_positive("tonic", tonic, strict=False)
    volume = DopamineVolume(
        tau_DA=tau_n * second,
        DA_tonic=tonic,
        extra="n_label : 1\nn_total : 1\nrbar : 1",
        name=labels_group.name + "_dopamine*",
        replicas=label_replicas(labels),
    )
    volume.group.namespace.update(
        {
            "reward_learn": schedule_table(schedule, window_s * second),
            "reward_T": window_s * second,
            "reward_tau": tau_n,
            "reward_rate": rate,
        }
    )
    label_values, label = label_table(labels, len(labels_group), window_s * second)
    counts = Synapses(
        labels_group,
        volume.group,
        model=f"""
        n_label_post = ssdp_count_pre * int(abs(i - {label}) < 0.5) : 1 (summed)
        n_total_post = ssdp_count_pre : 1 (summed)""",
        namespace={"ssdp_label": label_values},
        name=volume.group.name + "_counts*",
    )
    connect_replicas(counts, volume.replicas)
    code = """on = int(t > 0*second) * reward_learn(t - 0.5 * reward_T)
reward = n_label / (n_total + int(n_total == 0))
DA += on * (reward - rbar) / reward_tau
rbar += on * reward_rate * (reward - rbar)"""
    release = volume.group.run_regularly(code, dt=window_s * second, when="groups", order=volume.group.order + 1)
    for updater in counts.summed_updaters.values():  # the counts are read once per window
        on_window_clock(updater, release.clock)
    guard = window_values_guard(
        "labels (reward_prediction_error)", np.shape(labels)[-1], window_s * second, name=volume.group.name + "_labels*"
    )
    volume.objects += [counts, release, *track_windows(labels_group, window_s * second, "first", "readout"), guard]
    return volume
