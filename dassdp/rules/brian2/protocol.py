"""What every Brian2 plasticity rule of this package provides (`BrianRule`), and the weight
monitor they share, so that code using a rule never asks which rule it is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from dassdp.rules.reference import Gate

__all__ = ["BrianRule", "WeightMonitor", "split_sum"]


@runtime_checkable
class BrianRule(Protocol):
    """A plastic projection: `dassdp.rules.brian2.DASSDPSynapses`, `SSDPSynapses`, `STDPSynapses`
    or `DASTDPSynapses`.

    ``synapses`` holds the weights, ``objects`` is everything to add to a `brian2.Network`.
    """

    synapses: Any
    objects: list

    def weights(self) -> np.ndarray:
        """The weight ``w`` of every synapse, in synapse order, on any target (after a run); for a
        rule built with ``replicas=R > 1``, ``(R, synapses per replica)``."""

    def monitor_weights(self, dt, when: str = "end", name: str = "weights*") -> WeightMonitor:
        """Record every synapse's ``w`` each ``dt`` (add the monitor's ``objects`` to the Network)."""

    def monitor_dopamine(self, name: str = "dopamine*"):
        """A StateMonitor of the dopamine that modulates the rule, one sample per window, sample
        m + 1 holding what window m released (None for rules without dopamine); add it to the
        Network. For DA-SSDP the dopamine is the gate value g."""

    def fitted_gate(self) -> Gate | None:
        """The DA-SSDP gate ``(k, mu, s)`` fitted in the network (with replicas, a list of one per
        replica); None for other rules."""


def split_sum(stored, shares, post_index) -> np.ndarray:
    """Split weights ``w = stored + shares[post]`` from the stored parts (synapse first axis) and the
    post neurons' shares (post neuron first axis; any trailing sample axis alike)."""
    return np.asarray(stored) + np.asarray(shares)[np.asarray(post_index)]


@dataclass
class WeightMonitor:
    """Weights recorded over time: one StateMonitor of ``w``, or, for DA-SSDP's split weights, of
    the stored part ``ssdp_w_stored`` and the post shares ``ssdp_share`` (``synapses`` gives the post
    index)."""

    stored: Any
    shares: Any = None
    synapses: Any = None

    @property
    def objects(self) -> list:
        return [m for m in (self.stored, self.shares) if m is not None]

    @property
    def w(self) -> np.ndarray:
        """``[synapse, sample]``, like a StateMonitor's ``w``."""
        if self.shares is None:
            return np.asarray(self.stored.w[:])
        return split_sum(self.stored.ssdp_w_stored[:], self.shares.ssdp_share[:], self.synapses.j[:])
