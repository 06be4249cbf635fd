"""Weight normalisation per post-synaptic neuron, once per window, as Brian2 code.

For each post neuron j with ``n_j`` incoming synapses, ``m_j = (1/n_j) sum_i w_ij`` and
``d_j = sqrt(sum_i (w_ij - m_j)^2)``; after every learning window:

- ``"subtractive"`` (Miller & MacKay 1994): ``w_ij <- w_ij - m_j + mu_j``;
- ``"divisive"``: ``w_ij <- mu_j + (w_ij - m_j) rho_j / d_j`` (``d_j > 0``), the mean held at
  ``mu_j`` and the spread at ``rho_j``, as multiplicative synaptic scaling does (Turrigiano 2008;
  Oja 1982 for the rate form);

then ``w`` is clipped to the rule's bounds (each synapse's own where the rule holds them per
synapse: with params per replica, `dassdp.rules.brian2.replicas`).
`dassdp.rules.reference.normalize_rows` is the NumPy oracle and
`dassdp.rules.reference.row_set_points` gives set points from initial weights.

Schedule, in the step that opens window m + 1 (``synapses`` slot): the rules' window-end updates
run at order -20 (`windows.ORDER_UPDATE`), the row sums ``sum_i w_ij``, ``sum_i w_ij^2`` and
``n_j`` (summed variables, moved from the ``groups`` slot) at ``ORDER_NORMALIZE - 1``, the
normalisation at ``ORDER_NORMALIZE``, before the window's flags are cleared (-10) and before the
transmission of the step's spikes (-1; a transmission in the ``groups`` slot, as the bridge
places it, runs before and uses the previous weights for that one step). Pair-based rules
change ``w`` at spikes, so for them the normalisation acts on everything up to the end of
window m. With a `Schedule`, only learning
windows are followed by a normalisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dassdp.checks import check_choice, is_real_array
from dassdp.rules.brian2.windows import ORDER_UPDATE, on_window_clock, schedule_table
from dassdp.rules.reference import Normalization, Schedule

__all__ = ["ORDER_NORMALIZE", "POST_VARIABLES", "RowNormalization"]

ORDER_NORMALIZE = ORDER_UPDATE + 5

#: the variables a post-synaptic group needs (the row sums and the set points)
POST_VARIABLES = """
norm_sum : 1
norm_sumsq : 1
norm_count : 1
norm_mean : 1
norm_spread : 1
"""

#: lines added to the plastic Synapses' model
SYNAPSE_EQUATIONS = """
norm_sum_post = w : 1 (summed)
norm_sumsq_post = w * w : 1 (summed)
norm_count_post = 1 : 1 (summed)
"""

_CODE = """
norm_on = int(t > 0*second) * {learn}
norm_m = norm_sum_post / norm_count_post
norm_d2 = norm_sumsq_post - norm_count_post * norm_m**2
norm_flat = int(norm_d2 <= 1e-24 * (1 + norm_sumsq_post))
norm_scale = {scale}
w = norm_on * clip(norm_mean_post + (w - norm_m) * norm_scale, {w_min}, {w_max}) + (1 - norm_on) * w
"""

_SCALE = {
    "subtractive": "1",
    "divisive": "norm_flat + (1 - norm_flat) * norm_spread_post / sqrt(norm_d2 + norm_flat)",
}


@dataclass(frozen=True, eq=False)  # holds arrays: compared by identity
class RowNormalization:
    """Normalisation of a plastic projection's weights per post neuron (see the module docstring).

    ``mean`` and ``spread`` are the set points ``mu_j`` and ``rho_j``, one per post neuron
    (``spread`` is needed by ``"divisive"`` only).
    """

    mode: Normalization
    mean: np.ndarray
    spread: np.ndarray | None = None

    def __post_init__(self) -> None:
        check_choice("normalization", self.mode, ("subtractive", "divisive"))
        if self.mode == "divisive" and self.spread is None:
            raise ValueError("normalization 'divisive' needs spread set points")
        for name in ("mean", "spread"):
            value = getattr(self, name)
            if value is None:
                continue
            array = np.asarray(value)
            if not is_real_array(array):
                raise TypeError(f"normalization: {name} must be real numbers, got {type(value).__name__} {value!r}")
            if array.ndim != 1 or not np.all(np.isfinite(array)):
                raise ValueError(f"normalization: {name} must be a finite 1-d array, one value per post neuron")

    def check_post(self, post) -> None:
        """Raise a ValueError naming ``post`` if it cannot take this normalisation: it lacks
        `POST_VARIABLES`, or the set points are not one per post neuron."""
        needed = [line.split(":")[0].strip() for line in POST_VARIABLES.splitlines() if line.strip()]
        missing = [name for name in needed if name not in getattr(post, "variables", {})]
        if missing:
            raise ValueError(
                f"post ({getattr(post, 'name', post)!r}) lacks the normalisation variables {missing}: "
                "add dassdp.rules.brian2.normalization.POST_VARIABLES to its equations"
            )
        for name, value in (("mean", self.mean), ("spread", self.spread)):
            if value is not None and len(value) != len(post):
                raise ValueError(f"normalization: {name} has {len(value)} values for {len(post)} post neurons")

    def attach(self, synapses, post, window, schedule: Schedule | None, w_min: float | str, w_max: float | str) -> None:
        """Add the normalisation to ``synapses`` (whose model holds `SYNAPSE_EQUATIONS`) into ``post``
        (which holds `POST_VARIABLES`); ``w_min``, ``w_max``: the rule's bounds, each a number (one
        bound for all synapses, the constant ``norm_w_min`` or ``norm_w_max`` in the synapses'
        namespace) or the name of a variable of ``synapses`` that holds each synapse's bound (with
        params per replica, e.g. ``"stdp_w_min"``: every replica clips to its own bounds)."""
        from brian2 import second

        self.check_post(post)
        post.norm_mean = self.mean
        post.norm_spread = 0.0 if self.spread is None else self.spread
        namespace, bounds = {}, {}
        for name, bound in (("w_min", w_min), ("w_max", w_max)):
            if isinstance(bound, str):
                if bound not in synapses.variables:
                    raise ValueError(f"normalization: {name} names {bound!r}, which is no variable of the synapses")
                bounds[name] = bound
            else:
                namespace[f"norm_{name}"], bounds[name] = float(bound), f"norm_{name}"
        learn = "1"
        if schedule is not None:
            namespace["norm_learn"] = schedule_table(schedule, window)
            learn = f"norm_learn(t - {0.5 * float(window / second)!r}*second)"
        synapses.namespace.update(namespace)
        code = _CODE.format(learn=learn, scale=_SCALE[self.mode], **bounds)
        runner = synapses.run_regularly(
            code, dt=window, when="synapses", order=ORDER_NORMALIZE, name=synapses.name + "_normalize"
        )
        for updater in synapses.summed_updaters.values():
            if updater.target_varname.startswith("norm_"):
                updater.when, updater.order = "synapses", ORDER_NORMALIZE - 1
                on_window_clock(updater, runner.clock)
