"""Per-window loss signals computed inside a Brian2 network, for the DA-SSDP warm-up.

A loss is a `WindowLoss`: variables it adds to the DA-SSDP volume, namespace entries, objects
that feed the variables, and an expression for ``L`` evaluated at the window end (in the volume's
``groups`` slot of the step that opens the next window). Users can define their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from dassdp.rules.brian2.windows import require_variables, track_windows

__all__ = ["ExternalLoss", "SpikeCountLoss", "WindowLoss"]


@runtime_checkable
class WindowLoss(Protocol):
    """What `dassdp.rules.brian2.ssdp.DASSDPSynapses` asks of a loss."""

    #: equation lines added to the volume (variables the expression reads)
    volume_equations: str

    def expression(self) -> str:
        """The loss ``L`` of the window that just ended, in the volume's code (``ssdp_window`` is
        the window length)."""

    def namespace(self, window) -> dict[str, Any]:
        """Namespace entries of the volume (e.g. TimedArrays over windows)."""

    def objects(self, volume, window, latency) -> list:
        """Objects to add to the Network that feed ``volume_equations``."""


@dataclass
class ExternalLoss:
    """The loss of window w is ``values[w]``, computed elsewhere (a `TimedArray` over windows)."""

    values: Any
    volume_equations: str = ""

    def expression(self) -> str:
        return "ssdp_loss_values(t - 0.5 * ssdp_window)"

    def namespace(self, window) -> dict[str, Any]:
        from brian2 import TimedArray

        values = np.asarray(self.values, dtype=np.float64)
        if values.ndim != 1 or not np.all(np.isfinite(values)):
            raise ValueError("loss values must be a finite 1-d array, one value per window")
        self.table = TimedArray(values, dt=window)  # a run_args key in compiled networks
        return {"ssdp_loss_values": self.table}

    def objects(self, volume, window, latency) -> list:
        return []


@dataclass
class SpikeCountLoss:
    """Cross-entropy of the readout's spike counts against the window's label (counts as logits):

    ``L = log(sum_j exp(n_j)) - n_label``, n_j the spikes of readout neuron j in the window
    (snnTorch's ``ce_count_loss``). ``labels[w]`` is the class of window w. Counts above ~700 per
    window would overflow ``exp`` in float64.
    """

    readout: Any
    labels: Any
    volume_equations: str = field(default="ssdp_loss_sum_exp : 1\nssdp_loss_label_count : 1", init=False)

    def __post_init__(self) -> None:
        labels = np.asarray(self.labels)
        n = len(self.readout)
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() >= n:
            raise ValueError(f"labels must be a 1-d integer array with values in [0, {n}) (the readout size)")
        require_variables(self.readout, "readout", "readout")

    def expression(self) -> str:
        return "log(ssdp_loss_sum_exp) - ssdp_loss_label_count"

    def namespace(self, window) -> dict[str, Any]:
        return {}

    def objects(self, volume, window, latency) -> list:
        from brian2 import Synapses, TimedArray

        trackers = track_windows(self.readout, window, latency, "readout")
        labels = TimedArray(np.asarray(self.labels, dtype=np.float64), dt=window)
        syn = Synapses(
            self.readout,
            volume,
            model="""
ssdp_loss_sum_exp_post = exp(ssdp_count_pre) : 1 (summed)
ssdp_loss_label_count_post = ssdp_count_pre * int(abs(i - ssdp_label(t - dt)) < 0.5) : 1 (summed)""",
            namespace={"ssdp_label": labels},
            name=volume.name + "_loss*",
        )
        syn.connect()
        return [syn, *trackers]
