"""Per-window loss signals computed inside a Brian2 network, for the DA-SSDP warm-up.

A loss is a `WindowLoss`: variables it adds to the DA-SSDP volume (and, optionally, summed
variables it adds to the plastic synapses), namespace entries, objects that feed them, and an
expression for ``L`` evaluated at the window end (in the volume's ``groups`` slot of the step that
opens the next window). Users can define their own.

Values given per window (`ExternalLoss` values, the labels of `SpikeCountLoss` and `ReadoutLoss`)
are `TimedArray` s, which would hold their last value past their end: each loss adds to its
``objects`` a `windows.window_values_guard`, so a run longer than its values raises a ValueError
at ``Network.run`` (on standalone targets: when the run is recorded), before anything runs.

Replicas (`dassdp.rules.brian2.replicas`): values or labels with one row per replica (shape
``(replicas, windows)``) make a loss of ``replicas`` copies, each computed by its own neuron of
the volume from its own block of the readout (``L_r`` of replica r); a rule checks that its loss
has as many replicas (``replicas``, 1 where a user's loss lacks it) as it has.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from dassdp.checks import check_count, check_type, is_real_array
from dassdp.rules.brian2.checks import check_group
from dassdp.rules.brian2.replicas import connect_replicas
from dassdp.rules.brian2.windows import require_variables, track_windows, window_values_guard

__all__ = ["ExternalLoss", "ReadoutLoss", "SpikeCountLoss", "WindowLoss"]


@runtime_checkable
class WindowLoss(Protocol):
    """What `dassdp.rules.brian2.ssdp.DASSDPSynapses` asks of a loss."""

    #: equation lines added to the volume (variables the expression reads)
    volume_equations: str
    #: lines added to the plastic synapses' model (summed variables into the post group; they run
    #: once per window, before the reductions into the volume); may be empty
    synapse_equations: str
    # optional: ``replicas`` (int), the copies the loss computes (the volume's size); 1 if missing

    def expression(self) -> str:
        """The loss ``L`` of the window that just ended, in the volume's code (``ssdp_window`` is
        the window length)."""

    def namespace(self, window) -> dict[str, Any]:
        """Namespace entries of the volume (e.g. TimedArrays over windows)."""

    def objects(self, volume, window, latency) -> list:
        """Objects to add to the Network that feed ``volume_equations``."""


@dataclass
class ExternalLoss:
    """The loss of window w is ``values[w]``, computed elsewhere (a `TimedArray` over windows).

    ``values`` is a non-empty 1-d array of finite numbers, one per window of the run: a run that
    ends more windows than it has raises a ValueError when it starts (the module docstring). With
    replicas, ``(replicas, windows)``: ``L_r = values[r, w]``, read by volume neuron r.
    """

    values: Any
    volume_equations: str = ""
    synapse_equations: str = ""

    def __post_init__(self) -> None:
        values = np.asarray(self.values)
        if not is_real_array(values):
            raise TypeError(f"loss values must be real numbers, got {type(self.values).__name__} {self.values!r}")
        if values.ndim not in (1, 2) or values.size == 0 or not np.all(np.isfinite(values)):
            raise ValueError(
                "loss values must be a non-empty finite 1-d array, one value per window (2-d: one row per "
                f"replica), got shape {values.shape}"
            )

    @property
    def replicas(self) -> int:
        return 1 if np.ndim(self.values) == 1 else len(self.values)

    def expression(self) -> str:
        return "ssdp_loss_values(t - 0.5 * ssdp_window" + (")" if np.ndim(self.values) == 1 else ", i)")

    def namespace(self, window) -> dict[str, Any]:
        from brian2 import TimedArray

        values = np.asarray(self.values, dtype=np.float64).T  # windows first, then replicas
        self.table = TimedArray(values, dt=window)  # a run_args key
        return {"ssdp_loss_values": self.table}

    def objects(self, volume, window, latency) -> list:
        n = np.shape(self.values)[-1]
        return [window_values_guard("loss (ExternalLoss)", n, window, name=volume.name + "_loss_windows*")]


@dataclass
class SpikeCountLoss:
    """Cross-entropy of the readout's spike counts against the window's label (counts as logits):

    ``L = log(sum_j exp(n_j)) - n_label``, n_j the spikes of readout neuron j in the window
    (snnTorch's ``ce_count_loss``). ``labels[w]`` is the class of window w. Counts above ~700 per
    window would overflow ``exp`` in float64. With replicas, ``labels[r, w]`` is the class (0 ..
    n - 1) of window w in replica r, whose readout neurons are the block ``[r n, (r + 1) n)``.
    """

    readout: Any
    labels: Any
    volume_equations: str = field(default="ssdp_loss_sum_exp : 1\nssdp_loss_label_count : 1", init=False)
    synapse_equations: str = field(default="", init=False)

    def __post_init__(self) -> None:
        check_group("readout", self.readout)
        _check_labels(self.labels, len(self.readout))
        require_variables(self.readout, "readout", "readout")

    @property
    def replicas(self) -> int:
        return label_replicas(self.labels)

    def expression(self) -> str:
        return "log(ssdp_loss_sum_exp) - ssdp_loss_label_count"

    def namespace(self, window) -> dict[str, Any]:
        return {}

    def objects(self, volume, window, latency) -> list:
        from brian2 import Synapses

        trackers = track_windows(self.readout, window, latency, "readout")
        labels, label = label_table(self.labels, len(self.readout), window)
        syn = Synapses(
            self.readout,
            volume,
            model=f"""
ssdp_loss_sum_exp_post = exp(ssdp_count_pre) : 1 (summed)
ssdp_loss_label_count_post = ssdp_count_pre * int(abs(i - {label}) < 0.5) : 1 (summed)""",
            namespace={"ssdp_label": labels},
            name=volume.name + "_loss*",
        )
        connect_replicas(syn, self.replicas)
        n_windows = np.shape(self.labels)[-1]
        guard = window_values_guard("labels (SpikeCountLoss)", n_windows, window, name=volume.name + "_labels*")
        return [syn, *trackers, guard]


def _check_labels(labels, n: int, name: str = "labels", size: str = "the readout size") -> None:
    """One class per window: a non-empty 1-d integer array with values in ``[0, n)``; or one row
    per replica (2-d), with values in ``[0, n / replicas)`` (``n`` a multiple of the replicas)."""
    array = np.asarray(labels)
    if array.size and (array.dtype == bool or not np.issubdtype(array.dtype, np.integer)):
        raise TypeError(f"{name} must be integers (one class per window), got {array.dtype} {labels!r}")
    if array.ndim not in (1, 2) or array.size == 0:
        raise ValueError(
            f"{name} must be a non-empty 1-d integer array, one class per window (2-d: one row per replica), "
            f"got shape {array.shape}"
        )
    replicas = label_replicas(array)
    if n % replicas:
        raise ValueError(f"{name} has {replicas} rows (replicas), but {size} ({n}) is not a multiple of it")
    n //= replicas
    if array.min() < 0 or array.max() >= n:
        per = "" if replicas == 1 else " per replica"
        raise ValueError(f"{name} must lie in [0, {n}) ({size}{per}), got {array.min()}..{array.max()}")


def label_replicas(labels) -> int:
    """The replicas of per-window labels: one for a 1-d array, its rows for a 2-d one."""
    return 1 if np.ndim(labels) == 1 else len(labels)


def label_table(labels, n: int, window):
    """A `TimedArray` ``ssdp_label`` of each window's correct neuron in a group of ``n`` neurons,
    and the expression that reads it in a reduction into a volume (``j``: the volume neuron, the
    replica): ``labels[w]``, or with replicas its index in the whole group,
    ``labels[r, w] + r n / replicas``."""
    from brian2 import TimedArray

    labels = np.asarray(labels, dtype=np.float64)
    if labels.ndim == 1:
        return TimedArray(labels, dt=window), "ssdp_label(t - dt)"
    offsets = (n // len(labels)) * np.arange(len(labels))[:, None]
    return TimedArray((labels + offsets).T, dt=window), "ssdp_label(t - dt, j)"


@dataclass
class ReadoutLoss:
    """Cross-entropy of the readout's logits, the task loss of the surrogate-gradient network the
    readout came from, with the label neurons' own input only (a teacher current or lateral
    inhibition does not enter it):

    ``z_j = (1/T) sum_t (sum_i w_ij s_i[t] + b_j) = (sum_i w_ij n_i) / T + b_j``,
    ``L = log(sum_(j in C_w) exp(z_j)) - z_label``,

    with ``n_i`` the spikes of pre-synaptic neuron i in the window, ``w`` the plastic weights
    (DA-SSDP changes them only at window ends, so they are the window's), ``b`` the label neurons'
    per-step input ``bias`` (a variable of ``readout``, e.g. the bridge's ``b``; None for none),
    ``T = n_steps`` and ``C_w`` the classes window w is scored over (``classes[w]``, boolean per
    label neuron; None: all). ``pre`` and ``readout`` carry ``neuron_variables("readout")``.
    With replicas, ``labels`` is ``(replicas, windows)`` and ``classes`` ``(replicas, windows,
    n)``, for the readout blocks ``[r n, (r + 1) n)`` (``n`` label neurons per replica).
    """

    pre: Any
    readout: Any
    labels: Any
    n_steps: int
    classes: Any = None
    bias: str | None = "b"
    volume_equations: str = field(default="ssdp_loss_sum_exp : 1\nssdp_loss_label_logit : 1", init=False)
    synapse_equations: str = field(default="ssdp_logit_post = w * ssdp_count_pre : 1 (summed)", init=False)

    def __post_init__(self) -> None:
        check_group("pre", self.pre)
        check_group("readout", self.readout)
        _check_labels(self.labels, len(self.readout))
        n = len(self.readout) // self.replicas
        check_count("n_steps", self.n_steps, minimum=1)
        check_type("bias", self.bias, str, optional=True)
        if self.classes is not None:
            classes = np.asarray(self.classes)
            if classes.dtype != bool and not np.issubdtype(classes.dtype, np.number):
                raise TypeError(f"classes must be boolean, got {classes.dtype}")
            if not np.all(np.isin(classes, (0, 1))):
                raise ValueError("classes must be boolean (0 or 1 per window and label neuron)")
            classes = classes.astype(bool)
            shape = (*np.shape(self.labels), n)
            if classes.shape != shape or not classes.any(-1).all():
                where = "(windows, readout)" if self.replicas == 1 else "(replicas, windows, readout per replica)"
                raise ValueError(
                    f"classes must be boolean of shape {where} = {shape} with at least one class per window"
                )
        require_variables(self.pre, "readout", "pre")
        require_variables(self.readout, "readout", "readout")
        if self.bias is not None and self.bias not in self.readout.variables:
            raise ValueError(f"bias: the readout group has no variable {self.bias!r}")

    @property
    def replicas(self) -> int:
        return label_replicas(self.labels)

    def expression(self) -> str:
        return "log(ssdp_loss_sum_exp) - ssdp_loss_label_logit"

    def namespace(self, window) -> dict[str, Any]:
        return {}

    def _scored_by_window(self) -> np.ndarray:
        """``classes`` as ``(windows, readout)``: per window, the label neurons of every replica in
        turn (the readout's index ``i``); all of them without ``classes``."""
        n_windows, n = np.shape(self.labels)[-1], len(self.readout) // self.replicas
        shape = (self.replicas, n_windows, n)
        classes = np.ones(shape) if self.classes is None else np.asarray(self.classes, np.float64).reshape(shape)
        return classes.transpose(1, 0, 2).reshape(n_windows, -1)

    def objects(self, volume, window, latency) -> list:
        from brian2 import Synapses, TimedArray

        trackers = track_windows(self.pre, window, latency, "readout")
        labels, label = label_table(self.labels, len(self.readout), window)
        n_windows = np.shape(self.labels)[-1]
        scored = TimedArray(self._scored_by_window(), dt=window)
        logit = f"ssdp_logit_pre / {float(self.n_steps)!r}" + (f" + {self.bias}_pre" if self.bias else "")
        syn = Synapses(
            self.readout,
            volume,
            model=f"""
ssdp_loss_sum_exp_post = exp({logit}) * ssdp_scored(t - dt, i) : 1 (summed)
ssdp_loss_label_logit_post = ({logit}) * int(abs(i - {label}) < 0.5) : 1 (summed)""",
            namespace={"ssdp_label": labels, "ssdp_scored": scored},
            name=volume.name + "_loss*",
        )
        connect_replicas(syn, self.replicas)
        guard = window_values_guard("labels (ReadoutLoss)", n_windows, window, name=volume.name + "_labels*")
        return [syn, *trackers, guard]
