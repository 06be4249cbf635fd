"""DA-SSDP (and SSDP, its gate switched off) as Brian2 synapse equations with a dopamine variable.

Implements the DA-SSDP contract (the module docstring of `dassdp.rules.reference`; Tian et al.,
arXiv 2512.07194) with one sample per window of duration ``window``, entirely in generated code
(no ``network_operation``), so the same objects run on ``numpy``, ``cython``, ``cpp_standalone``
and ``cuda_standalone``.

**Split weights (batches of one window, no bounds, no normalisation: the default).** A pre neuron
that did not fire has latency ``T_win``, so the eligibility of its synapses,
``e = -A_base K(t_j - T_win)``, depends on the post neuron only. Each synapse's weight is
therefore kept in two parts, ``w = ssdp_w_stored + ssdp_share_post`` (a subexpression, so
``on_pre`` code reads ``w`` as usual): the post neuron's share ``Q_j`` receives
``q_j = clip(g (-A_base) K(t_j - T_win), -c, c)`` every window, which is the update of every
synapse whose pre neuron was silent, and only the synapses of pre neurons that fired are visited,
through a window-end event (`windows.window_end_event`), to add ``clip(g e_ij, -c, c) - q_j``.
The result is the contract's update, clip included, at a cost proportional to the synapses of
firing neurons rather than to all synapses. **Whole weights** (batches of B > 1 windows, weight
bounds, or a `dassdp.rules.brian2.normalization.RowNormalization`) visit every synapse each
window (an accumulator per synapse).

At t = 0 (once, ``run_at``) the synapses load their weights from ``w0`` and write each post
neuron's in-degree into ``ssdp_n_inputs``. Then, in the step that opens window m+1 (the end of
window m), on a clock of period ``window``:

``groups``
    Summed variables reduce the post group into the *gate volume* (one neuron; with replicas, below,
    one per replica):
    ``sum_j fired_j * n_inputs_fired_j`` (synchronous synapses; ``ssdp_n_inputs_fired`` counts a
    post neuron's connected pre neurons that fired) and ``sum_j n_inputs_j`` (synapses). With
    all-to-all connectivity the synchronous synapses are ``(sum_i fired_i)(sum_j fired_j)``, from
    one reduction of each group, and nothing is counted per spike. The volume's ``run_regularly``
    (`_volume_code`) computes ``S``, the loss ``L``, updates the warm-up statistics (Welford), fits
    the gate ``(k, mu, s)`` after window ``warmup - 1``, sets ``DA`` to the gate value ``g`` (0
    during warm-up: no update) and ``ssdp_apply`` to 1 at the end of each batch, then spikes.
``after_thresholds``
    (split weights) pre neurons that fired in window m emit the window-end event.
``synapses``
    order -30: the volume's spike delivers ``DA`` and ``ssdp_apply`` to the post group (split
    weights: `_SHARE`, which adds ``q_j`` to ``Q_j``);
    order -20: split weights: the event pathway (`_CORRECTION`) corrects the synapses of the pre
    neurons that fired; whole weights (`_WHOLE`): every synapse computes
    ``e = K ((A_plus + A_base) sync - A_base)``, accumulates ``DA * e`` and at batch end adds
    ``clip(acc / B, -c, c)`` to ``w``, clipped to ``[w_min, w_max]``;
    order -15: the normalisation, if any;
    order -10: fired flags, latencies and counts are cleared;
    order -1: the user's transmission (``on_pre``, Brian2's default order for pre pathways);
    order 10: (other than all-to-all) the ``ssdp_count_inputs`` pathway counts first pre spikes
    into ``ssdp_n_inputs_fired`` of the post neurons;
    order 20: spikes of this step are recorded as fired flags and latencies of the new window.

The run therefore needs one step past the last window: use ``rule.duration(n_windows)``. A
transmission placed earlier in that step than the ``synapses`` slot (the bridge puts it in
``groups``, so that a spike reaches the next layer in its own step) still uses the weights of
before window m's update for the spikes of window m+1's first step.
Only one DA-SSDP projection may target a given post group (the post-side variables are shared).
Read weights with `DASSDPSynapses.weights` / `DASSDPSynapses.weight_matrix` and record them with
`DASSDPSynapses.monitor_weights`: Brian2 reads the subexpression ``w`` on runtime targets only.
With no synapse at all, ``S`` is 0 here (NumPy's `sample_synchrony` gives NaN for an empty mask).

**Replicas** (``replicas=R``, `dassdp.rules.brian2.replicas`): the groups hold R blocks of
neurons, the plastic synapses R diagonal blocks, and the gate volume R neurons. Every reduction
above connects the block of replica r to volume neuron r only (``S_r``, ``L_r`` and, all-to-all,
``(sum_(i in r) f_i)(sum_(j in r) f_j)``), every volume neuron keeps its own warm-up statistics
and gate ``(k_r, mu_r, s_r)``, and its spike delivers ``DA`` and ``ssdp_apply`` (or the share
``q_j``) to the post neurons of replica r only. The post-side variables are per neuron already,
so each replica computes exactly what a run of it alone computes (with params per replica that
mix bounded and unbounded ones, the unbounded replicas use whole weights: equal up to rounding).
``params`` may be one params object per replica, differing in ``a_plus``, ``a_base``, ``clip``,
``w_min`` and ``w_max`` (`dassdp.rules.brian2.replicas.replica_params`): these constants then
are per-synapse variables of the plastic synapses and of the split weights' delivery (one post
neuron per synapse there), each synapse holding its replica's values, and the weights are whole
if any replica has a finite bound.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dassdp.checks import check_count, check_type
from dassdp.models.dopamine import ORDER_DELIVER, deliver, set_pathway_order
from dassdp.rules.brian2.checks import check_group, check_quantity, check_schedule, check_weights
from dassdp.rules.brian2.losses import WindowLoss
from dassdp.rules.brian2.normalization import SYNAPSE_EQUATIONS, RowNormalization
from dassdp.rules.brian2.protocol import WeightMonitor, split_sum
from dassdp.rules.brian2.replicas import (
    block_size,
    check_connect,
    check_replicas,
    connect_replicas,
    per_replica,
    per_synapse,
    replica_params,
)
from dassdp.rules.brian2.windows import (
    ORDER_COUNT_INPUTS,
    ORDER_UPDATE,
    on_window_clock,
    require_variables,
    schedule_table,
    track_windows,
    window_end_event,
)
from dassdp.rules.reference import STD_EPS, DASSDPParams, Gate, Schedule, check_windows

__all__ = ["DASSDPSynapses", "SSDPSynapses"]

_VOLUME = """
DA : 1
S : 1
L : 1
k : 1
mu : 1
s : 1
ssdp_n_sync : 1
ssdp_n_synapses : 1
ssdp_n_pre_fired : 1
ssdp_window_index : 1
ssdp_warmup_seen : 1
ssdp_mean_S : 1
ssdp_mean_L : 1
ssdp_m2_S : 1
ssdp_m2_L : 1
ssdp_cov_S_L : 1
ssdp_index_mean : 1
ssdp_index_m2 : 1
ssdp_index_cov_S : 1
ssdp_index_cov_L : 1
ssdp_batch_count : 1
ssdp_apply : 1
ssdp_ready : 1
ssdp_warmup : 1 (shared, constant)
ssdp_batch : 1 (shared, constant)
ssdp_sign_tol : 1 (shared, constant)
"""

_GATE = {
    "continuous": "clip(1 + k * (S - mu) / s, 0, 2)",
    "sign": "int(abs(k) < ssdp_sign_tol) + int(abs(k) >= ssdp_sign_tol) * sign(k)",
    "off": "1",
}

#: The rule constants that may differ between replicas (`dassdp.rules.brian2.replicas.replica_params`)
_PER_REPLICA = ("a_plus", "a_base", "clip", "w_min", "w_max")

#: Rule constants of the plastic synapses (and of the split weights' delivery); shared, or one
#: per synapse with a params object per replica
_CONSTANTS = """
ssdp_a_plus : 1 (shared, constant)
ssdp_a_base : 1 (shared, constant)
ssdp_clip : 1 (shared, constant)
"""

#: The synapse's weight: whole, or split into a stored part and the post neuron's share
#: ``ssdp_share``, which carries the update of every synapse whose pre neuron did not fire in a
#: window (module docstring).
_WEIGHT = {
    "split": "ssdp_w_stored : 1\nw = ssdp_w_stored + ssdp_share_post : 1\n",
    "whole": """w : 1
ssdp_accumulated : 1
ssdp_batch : 1 (shared, constant)
ssdp_w_min : 1 (shared, constant)
ssdp_w_max : 1 (shared, constant)
""",
}

#: Run once, at t = 0: initial weights and the in-degree of each post neuron. The weight of
#: synapse (i, j) of replica r (pre ``i = r n_pre + a``, post ``j = r n_post + b``) is entry
#: ``r n_pre n_post + a n_post + b = i n_post + j mod n_post`` of the table (`_w0_table`).
_LOAD = """
{} = ssdp_initial_w(0*second, (i * ssdp_n_post + j % ssdp_n_post) * ssdp_initial_w_stride)
ssdp_n_inputs_post = N_incoming
"""

#: The post latency, T_win for a post neuron that did not fire.
_LAT_POST = "tj = ssdp_fired_post * ssdp_lat_post + (1 - ssdp_fired_post) * ssdp_window\n"

#: Delivered with the gate (order -30), per post neuron j: the update of every synapse whose pre
#: neuron did not fire, ``q_j = clip(g (-A_base) K(t_j - T_win), -c, c)``, added to ``Q_j``; and,
#: for the event pass, ``h_j = g ((A_plus + A_base) f_j - A_base)`` (0 when no update is due) and
#: the latency ``t_j``.
_SHARE = (
    _LAT_POST
    + """DA_post = DA_pre
ssdp_apply_post = ssdp_apply_pre
ssdp_post_latency_post = tj
ssdp_update_factor_post = ssdp_apply_pre * DA_pre * ((ssdp_a_plus + ssdp_a_base) * ssdp_fired_post - ssdp_a_base)
ssdp_share_increment_post = ssdp_apply_pre * clip(DA_pre * (ssdp_kernel(tj) * (-ssdp_a_base)), -ssdp_clip, ssdp_clip)
ssdp_share_post += ssdp_share_increment_post
"""
)

#: Synapses of a pre neuron that fired (window-end event, order -20): the exact update
#: ``clip(g e_ij, -c, c)``, with ``e_ij = K(t_j - t_i) ((A_plus + A_base) f_j - A_base)``, less
#: the share ``q_j`` that ``Q_j`` already received.
_CORRECTION = """
k_ij = ssdp_kernel(ssdp_post_latency_post - ssdp_lat_pre + ssdp_window)
ssdp_w_stored += clip(ssdp_update_factor_post * k_ij, -ssdp_clip, ssdp_clip) - ssdp_share_increment_post
"""

#: Whole weights: every synapse accumulates ``DA * e`` each window (a pass over all synapses,
#: order -20) and adds ``clip(acc / B, -c, c)`` at the batch end, clipped to ``[w_min, w_max]``
#: (the bounds act where an update is applied, as in `dassdp.rules.reference.simulate_dassdp`).
_WHOLE = (
    """
ti = ssdp_fired_pre * ssdp_lat_pre + (1 - ssdp_fired_pre) * ssdp_window
"""
    + _LAT_POST
    + """k_ij = ssdp_kernel(tj - ti + ssdp_window)
e = k_ij * ((ssdp_a_plus + ssdp_a_base) * ssdp_fired_pre * ssdp_fired_post - ssdp_a_base)
ssdp_accumulated += DA_post * e
w_new = clip(w + clip(ssdp_accumulated / ssdp_batch, -ssdp_clip, ssdp_clip), ssdp_w_min, ssdp_w_max)
w = ssdp_apply_post * w_new + (1 - ssdp_apply_post) * w
ssdp_accumulated *= 1 - ssdp_apply_post
"""
)


def _volume_code(gate: str, fit: str, loss_expression: str, learn_expression: str, n_sync: str) -> str:
    """The volume's window-end code. Warm-up statistics are running (Welford) means and co-moments
    of S, L and the record index b; with ``fit = "detrended"`` the co-moments of S and L lose
    the part a least-squares line on b explains (`dassdp.rules.reference.fit_gate`),
    ``C_SL - C_Sb C_Lb / M2_b`` and ``M2_x - C_xb^2 / M2_b``."""
    detrend = int(fit == "detrended")
    return f"""
started = int(t > 0*second)
active = started * ({learn_expression})
S = {n_sync} / (ssdp_n_synapses + int(ssdp_n_synapses == 0))
L = {loss_expression}
inwarm = active * int(ssdp_window_index < ssdp_warmup)
n_new = ssdp_warmup_seen + inwarm
denom = n_new + int(n_new == 0)
dS = S - ssdp_mean_S
dL = L - ssdp_mean_L
ssdp_mean_S += inwarm * dS / denom
ssdp_mean_L += inwarm * dL / denom
ssdp_m2_S += inwarm * dS * (S - ssdp_mean_S)
ssdp_m2_L += inwarm * dL * (L - ssdp_mean_L)
ssdp_cov_S_L += inwarm * dS * (L - ssdp_mean_L)
d_index = ssdp_warmup_seen - ssdp_index_mean
ssdp_index_mean += inwarm * d_index / denom
ssdp_index_m2 += inwarm * d_index * (ssdp_warmup_seen - ssdp_index_mean)
ssdp_index_cov_S += inwarm * d_index * (S - ssdp_mean_S)
ssdp_index_cov_L += inwarm * d_index * (L - ssdp_mean_L)
ssdp_warmup_seen = n_new
fit = active * int(abs(ssdp_window_index - (ssdp_warmup - 1)) < 0.5)
index_m2 = ssdp_index_m2 + int(ssdp_index_m2 == 0)
trend_cov = {detrend} * ssdp_index_cov_S * ssdp_index_cov_L / index_m2
trend_S = {detrend} * ssdp_index_cov_S**2 / index_m2
trend_L = {detrend} * ssdp_index_cov_L**2 / index_m2
sd_S = sqrt(ssdp_m2_S / denom) + {STD_EPS!r}
sd_rS = sqrt(abs(ssdp_m2_S - trend_S) / denom) + {STD_EPS!r}
sd_rL = sqrt(abs(ssdp_m2_L - trend_L) / denom) + {STD_EPS!r}
k = (1 - fit) * k - fit * ((ssdp_cov_S_L - trend_cov) / denom) / (sd_rS * sd_rL)
mu = (1 - fit) * mu + fit * ssdp_mean_S
s = (1 - fit) * s + fit * sd_S
after = active * int(ssdp_window_index > ssdp_warmup - 0.5)
DA = after * ({_GATE[gate]})
ssdp_batch_count += after
ssdp_apply = int(ssdp_batch_count > ssdp_batch - 0.5)
ssdp_batch_count *= 1 - ssdp_apply
ssdp_window_index += active
ssdp_ready = started
"""


class DASSDPSynapses:
    """DA-SSDP between two Brian2 groups, with an in-network gate carried by dopamine.

    pre, post
        NeuronGroups carrying ``neuron_variables("pre")`` and ``neuron_variables("post")`` (and
        `normalization.POST_VARIABLES` on ``post`` with a normalisation). They may be the same
        group (a recurrent projection, self-synapses included unless ``connect`` excludes them),
        which then needs ``neuron_variables("post")`` only (it includes the ``pre`` lines).
    window
        Duration of one sample window ``T_win``: a Brian2 time (e.g. ``5*ms``), an integer
        multiple of ``dt``.
    params
        The rule's constants (`dassdp.rules.reference.DASSDPParams`; the defaults are the
        published ones). ``params.sigma`` is the width of the latency kernel
        ``K = exp(-(t_j - t_i)^2 / (2 sigma^2))`` in steps of ``dt``. Latencies lie on the time
        grid, so ``K`` is read from a table over the ``2 T_win / dt + 1`` possible differences
        (``ssdp_kernel``), which is exact and much cheaper than ``exp`` per synapse and window.
        With replicas, also a list or tuple of exactly ``replicas`` params objects, replica r
        using ``params[r]`` (`dassdp.rules.brian2.replicas.replica_params`): they may differ in
        ``a_plus``, ``a_base``, ``clip``, ``w_min`` and ``w_max`` only, which then become
        per-synapse constants of the plastic synapses (and of the split weights' delivery),
        ``ssdp_a_plus``, ``ssdp_a_base``, ``ssdp_clip``, ``ssdp_w_min``, ``ssdp_w_max``, each
        holding its replica's value; every other field must be equal in all of them (ValueError
        naming the field). The weights are whole (below) if any replica has a finite bound; a
        replica without bounds then keeps ``-inf`` and ``inf`` as its bounds, which clip nothing.
        ``run_args`` cannot change ``a_plus``, ``a_base`` or ``clip`` of such a rule.
    warmup, batch
        Windows whose ``(S, L)`` fit the gate before any update, and windows ``B`` averaged per
        update (`dassdp.rules.reference.check_windows`).
    loss
        A `dassdp.rules.brian2.losses.WindowLoss` (`SpikeCountLoss`, `ExternalLoss` or your own);
        needed unless ``params.gate == "off"``.
    schedule
        A `dassdp.rules.reference.Schedule` over windows of length ``window`` (None: always on).
        Windows where it is 0 (e.g. evaluation windows) are skipped as if not presented: no
        update, and they count neither for the warm-up nor for a batch.
    normalization
        A `dassdp.rules.brian2.normalization.RowNormalization` applied after every learning window.
    connect
        Keyword arguments for ``Synapses.connect`` (default: all-to-all).
    on_pre, delay
        Transmission code of the plastic synapses (e.g. ``"I_syn_post += w * mV"``) and its delay.
    w0
        Initial weights: a scalar or a ``(len(post), len(pre))`` matrix, read where synapses exist;
        they are loaded at t = 0 (values assigned to ``synapses.w`` before the run are replaced).
        With replicas, a scalar, an ``(n_post, n_pre)`` matrix for every replica or
        ``(replicas, n_post, n_pre)``, one matrix per replica.
    replicas
        R independent copies of the projection in one simulation
        (`dassdp.rules.brian2.replicas`): ``pre`` and ``post`` hold ``R n_pre`` and ``R n_post``
        neurons, replica r the blocks ``[r n, (r + 1) n)``; ``connect`` (None or explicit ``i``,
        ``j`` of one replica) applies within each replica; the gate volume has one neuron per
        replica, with its own ``S``, ``L``, warm-up statistics and gate, fed by its replica's
        neurons only and delivering to its replica's post neurons only; the loss has one row of
        values or labels per replica; ``params`` may be one per replica (above). Weights, gates
        and monitors are then read per replica.

    Every argument is checked before any group is modified: a TypeError (wrong kind: a window
    without a unit, a string for a group) or ValueError (wrong value) names the argument.
    """

    def __init__(
        self,
        pre,
        post,
        window,
        params: DASSDPParams | Sequence[DASSDPParams] = DASSDPParams(),
        *,
        warmup: int = 100,
        batch: int = 1,
        loss: WindowLoss | None = None,
        schedule: Schedule | None = None,
        normalization: RowNormalization | None = None,
        connect: dict | None = None,
        on_pre: str = "",
        delay: Any = None,
        w0: Any = 0.0,
        name: str = "dassdp*",
        replicas: int = 1,
    ) -> None:
        from brian2 import TimedArray

        self.pre, self.post, self.window, self.params = pre, post, window, params
        self.warmup, self.batch, self.loss, self.schedule = warmup, batch, loss, schedule
        self.normalization, self.connect, self.on_pre, self.delay, self.w0 = normalization, connect, on_pre, delay, w0
        self.name, self.replicas = name, replicas
        self._check()
        p = self._shared  # the fields every replica shares
        self.n_pre, self.n_post = block_size(pre, replicas), block_size(post, replicas)
        bounded = any(np.isfinite(q.w_min) or np.isfinite(q.w_max) for q in self._replica_params())
        self.mode = "whole" if batch > 1 or bounded or normalization is not None else "split"
        self.all_to_all = _all_to_all(connect, self.n_pre, self.n_post)
        weights_namespace = self._initial_weights()  # validates w0 before any group is modified
        self.kernel_table = TimedArray(self._kernel(p.sigma), dt=pre.clock.dt)  # a run_args key for sigma
        trackers = track_windows(pre, window, p.latency, "pre") + track_windows(post, window, p.latency, "post")
        self.volume = self._build_volume(name)
        reductions = self._build_reductions()
        self.synapses = self._build_synapses({**weights_namespace, "ssdp_kernel": self.kernel_table}, name)
        self.delivery = self._build_delivery()
        extra = loss.objects(self.volume, window, p.latency) if loss is not None else []
        for obj in extra:  # the loss's reductions into the volume also run once per window
            for updater in getattr(obj, "summed_updaters", {}).values():
                on_window_clock(updater, self._window_end.clock)
        self.objects = [self.volume, *reductions, self.synapses, self.delivery, *trackers, *extra]
        post._ssdp_rule = self.synapses.name

    # ---- construction -------------------------------------------------------------------------
    def _check(self) -> None:
        """Raise a TypeError or ValueError naming the argument that does not fit (before anything
        is built or any group is modified)."""
        check_group("pre", self.pre, whole=True)  # it carries the window-end event
        check_group("post", self.post, whole=True)
        check_replicas(self.replicas, pre=self.pre, post=self.post)
        dt = self.pre.clock.dt
        if float(self.post.clock.dt) != float(dt):
            raise ValueError(f"pre and post must share dt, got {self.pre.clock.dt} and {self.post.clock.dt}")
        check_quantity("window", self.window)
        steps = float(self.window / dt)
        if abs(steps - round(steps)) > 1e-9 * steps:
            raise ValueError(f"window ({self.window}) must be an integer multiple of dt ({dt})")
        #: the params of each replica (None: one params object for all)
        self.replica_params = replica_params(self.params, self.replicas, DASSDPParams, _PER_REPLICA)
        self._shared = self.params if self.replica_params is None else self.replica_params[0]
        check_count("warmup", self.warmup)
        check_count("batch", self.batch, minimum=1)
        check_windows(self.warmup, self.batch, self._shared.gate)
        if self.loss is None and self._shared.gate != "off":
            raise ValueError(f"loss is required for gate={self._shared.gate!r} (the warm-up correlates S with L)")
        if self.loss is not None:
            _check_loss(self.loss, self.replicas)
        check_schedule(self.schedule, self.window)
        check_type("normalization", self.normalization, RowNormalization, optional=True)
        check_type("connect", self.connect, dict, optional=True)
        check_connect(self.connect, self.replicas, len(self.pre) // self.replicas, len(self.post) // self.replicas)
        check_type("on_pre", self.on_pre, str)
        if self.delay is not None and not isinstance(self.delay, str):  # a string: a Brian2 expression
            check_quantity("delay", self.delay, bound=">= 0", scalar=False)
        check_type("name", self.name, str)
        require_variables(self.pre, "pre", "pre")
        require_variables(self.post, "post", "post")
        if self.normalization is not None:
            self.normalization.check_post(self.post)
        owner = getattr(self.post, "_ssdp_rule", None)
        if owner is not None:
            raise ValueError(
                f"post ({self.post.name!r}) already receives the DA-SSDP projection {owner!r}: only one "
                "may target a group, whose post-side variables (DA, ssdp_share, ...) it owns"
            )

    def _build_volume(self, name: str):
        """The gate volume (one neuron per replica) and its window-end ``run_regularly`` (module
        docstring)."""
        from brian2 import NeuronGroup

        namespace = self.loss.namespace(self.window) if self.loss is not None else {}
        namespace["ssdp_window"] = self.window
        learn = "1"
        if self.schedule is not None:
            namespace["ssdp_learn"] = schedule_table(self.schedule, self.window)
            learn = "ssdp_learn(t - 0.5 * ssdp_window)"
        equations = _VOLUME + (self.loss.volume_equations if self.loss is not None else "")
        volume = NeuronGroup(
            self.replicas,
            equations,
            threshold="ssdp_ready > 0.5",
            reset="ssdp_ready = 0",
            namespace=namespace,
            name=name.replace("*", "") + "_volume*",
        )
        volume.s = 1.0
        volume.ssdp_warmup, volume.ssdp_batch, volume.ssdp_sign_tol = self.warmup, self.batch, self._shared.sign_tol
        expression = self.loss.expression() if self.loss is not None else "0"
        # synchronous synapses sum_ij f_i f_j; all-to-all, (sum_i f_i)(sum_j f_j): no count per spike
        n_sync = "ssdp_n_pre_fired * ssdp_n_sync" if self.all_to_all else "ssdp_n_sync"
        code = _volume_code(self._shared.gate, self._shared.gate_fit, expression, learn, n_sync)
        self._window_end = volume.run_regularly(code, dt=self.window, when="groups")
        return volume

    def _build_reductions(self) -> list:
        """Summed variables into the volume, once per window (on the window-end code's clock), each
        replica's block into its own volume neuron."""
        from brian2 import Synapses

        per_post = "ssdp_fired_pre" if self.all_to_all else "ssdp_fired_pre * ssdp_n_inputs_fired_pre"
        reductions = [
            Synapses(
                self.post,
                self.volume,
                model=f"""ssdp_n_sync_post = {per_post} : 1 (summed)
                                                              ssdp_n_synapses_post = ssdp_n_inputs_pre : 1 (summed)""",
                name=self.volume.name + "_reduce*",
            )
        ]
        if self.all_to_all:
            reductions.append(
                Synapses(
                    self.pre,
                    self.volume,
                    model="ssdp_n_pre_fired_post = ssdp_fired_pre : 1 (summed)",
                    name=self.volume.name + "_reduce_pre*",
                )
            )
        for reduction in reductions:
            connect_replicas(reduction, self.replicas)
            for updater in reduction.summed_updaters.values():
                on_window_clock(updater, self._window_end.clock)
        return reductions

    def _pathways(self) -> tuple[dict, dict]:
        """``on_pre`` pathways and ``on_event`` events of the plastic synapses."""
        on_pre = {"pre": self.on_pre} if self.on_pre else {}
        if not self.all_to_all:  # first pre spikes of a window count into their post neurons' inputs fired
            # a pathway of its own, after the window's flags were cleared: the transmission may run
            # in another slot (the bridge moves it to ``groups``, before the clear)
            on_pre["ssdp_count_inputs"] = "ssdp_n_inputs_fired_post += 1 - ssdp_fired_pre"
        on_event = {}
        if self.mode == "split":
            on_pre["ssdp_window_end"] = _CORRECTION
            on_event = {"ssdp_window_end": window_end_event(self.pre, self.window)}
        return on_pre, on_event

    def _build_synapses(self, namespace: dict, name: str):
        from brian2 import Synapses, second

        on_pre, on_event = self._pathways()
        own = {"ssdp_count_inputs", "ssdp_window_end"} & set(on_pre)  # scalar delays: no per-synapse arrays
        model = self._constants(_CONSTANTS + _WEIGHT[self.mode])
        model += SYNAPSE_EQUATIONS if self.normalization is not None else ""
        loss_equations = getattr(self.loss, "synapse_equations", "")  # optional for a user's loss
        model += loss_equations
        syn = Synapses(
            self.pre,
            self.post,
            model=model,
            on_pre=on_pre,
            on_event=on_event,
            delay={pathway: 0 * second for pathway in own},
            namespace={**namespace, "ssdp_window": self.window},
            name=name,
        )
        connect_replicas(syn, self.replicas, self.connect)
        if "ssdp_count_inputs" in on_pre:
            syn.ssdp_count_inputs.order = ORDER_COUNT_INPUTS
        if self.on_pre and self.delay is not None:
            syn.pre.delay = self.delay
        self._set_constants(syn, self.connect, self.n_pre)
        syn.run_at(_LOAD.format("ssdp_w_stored" if self.mode == "split" else "w"), times=[0 * second], when="start")
        loss_targets = {line.split("=")[0].strip().removesuffix("_post") for line in loss_equations.splitlines()}
        for updater in syn.summed_updaters.values():  # the loss's: once per window, before its reductions
            if updater.target_varname in loss_targets:
                updater.when, updater.order = "groups", self.volume.order - 2
                on_window_clock(updater, self._window_end.clock)
        if self.mode == "split":
            syn.ssdp_window_end.order = ORDER_UPDATE
            on_window_clock(syn.ssdp_window_end, self.pre.thresholder[on_event["ssdp_window_end"]].clock)
        else:
            syn.ssdp_batch = self.batch
            if self.replica_params is None:
                w_min, w_max = self.params.w_min, self.params.w_max
                syn.ssdp_w_min, syn.ssdp_w_max = w_min, w_max
            else:  # each synapse holds its replica's bounds, which the normalisation reads too
                syn.ssdp_w_min = self._values("w_min", self.connect, self.n_pre)
                syn.ssdp_w_max = self._values("w_max", self.connect, self.n_pre)
                w_min, w_max = "ssdp_w_min", "ssdp_w_max"
            syn.run_regularly(_WHOLE, dt=self.window, when="synapses", order=ORDER_UPDATE)
            if self.normalization is not None:
                self.normalization.attach(syn, self.post, self.window, self.schedule, w_min, w_max)
        return syn

    def _replica_params(self) -> tuple:
        """The params of each replica (one params object: the same for all)."""
        return self.replica_params or (self.params,) * self.replicas

    def _constants(self, equations: str) -> str:
        """``equations`` with the constants that differ per replica (`_PER_REPLICA`) per synapse,
        if the params are given per replica; otherwise unchanged (shared constants)."""
        if self.replica_params is None:
            return equations
        return per_replica(equations, [f"ssdp_{name}" for name in _PER_REPLICA])

    def _values(self, name: str, connect: dict | None, n_pre: int):
        """The constant ``name`` of every replica, one value per synapse of Synapses connected
        with ``connect`` (``n_pre`` source neurons per replica) by `connect_replicas`."""
        return per_synapse([getattr(q, name) for q in self.replica_params], connect, n_pre, self.n_post)

    def _set_constants(self, group, connect: dict | None, n_pre: int) -> None:
        """The amplitudes and the update clip on ``group`` (the plastic synapses, ``connect`` and
        ``n_pre`` pre neurons per replica, or the split weights' delivery): shared, or per synapse
        with params per replica."""
        if self.replica_params is None:
            p = self.params
            group.ssdp_a_plus, group.ssdp_a_base, group.ssdp_clip = p.a_plus, p.a_base, p.clip
            return
        for name in ("a_plus", "a_base", "clip"):
            setattr(group, f"ssdp_{name}", self._values(name, connect, n_pre))

    def _build_delivery(self):
        """The volume's spike delivers the gate as dopamine to the post group (order -30)."""
        from brian2 import Synapses

        if self.mode == "whole":
            return deliver(self.volume, self.post, ("DA", "ssdp_apply"), name=self.volume.name + "_delivery*")
        delivery = Synapses(
            self.volume,
            self.post,
            model=self._constants(_CONSTANTS),
            on_pre=_SHARE,
            namespace={"ssdp_kernel": self.kernel_table, "ssdp_window": self.window},
            name=self.volume.name + "_delivery*",
        )
        connect_replicas(delivery, self.replicas)
        set_pathway_order(delivery, ORDER_DELIVER)
        self._set_constants(delivery, None, 1)  # one volume neuron per replica
        return delivery

    def _kernel(self, sigma_steps: float) -> np.ndarray:
        """``K(d) = exp(-d^2 / (2 sigma^2))`` at ``d = k - n`` steps, ``k = 0 .. 2n``, ``n = T_win / dt``:
        indexed by ``lat_post - lat_pre + T_win`` as a time."""
        n = int(round(float(self.window / self.pre.clock.dt)))
        d = np.arange(2 * n + 1) - n
        return np.exp(-(d**2) / (2 * float(sigma_steps) ** 2))

    def _initial_weights(self) -> dict:
        """Namespace entries that set ``w`` from a scalar or a matrix per replica (`_w0_table`).

        The values are read in generated code at t = 0 from a one-row `TimedArray` indexed by
        ``(i * n_post + j mod n_post) * ssdp_initial_w_stride`` (``n_post`` per replica; `_LOAD`),
        so they work for any connectivity, on standalone targets (where synapses only exist once
        the network runs) and through ``run_args`` (applied after Brian2's initialisation). A
        scalar is a table of one value (stride 0), so a large network does not load a matrix of
        equal values.
        """
        from brian2 import TimedArray, second

        w0 = check_weights("w0", self.w0)
        self.w0_table = TimedArray(self._w0_table("w0", w0), dt=1 * second)
        return {"ssdp_initial_w": self.w0_table, "ssdp_n_post": self.n_post, "ssdp_initial_w_stride": int(w0.ndim != 0)}

    def _w0_table(self, name: str, w0: np.ndarray) -> np.ndarray:
        """The one-row table of ``w0``: a scalar as one value; a ``(n_post, n_pre)`` matrix (every
        replica alike) or ``(replicas, n_post, n_pre)`` matrices with ``w0[r, b, a]`` at
        ``r n_pre n_post + a n_post + b`` (`_LOAD`). ValueError naming ``name`` for another shape."""
        shape = (self.n_post, self.n_pre)
        if w0.ndim != 0 and w0.shape not in (shape, (self.replicas, *shape)):
            allowed = "(len(post), len(pre))"
            if self.replicas > 1:
                allowed = f"(n_post, n_pre) or {(self.replicas, *shape)} (replicas, n_post, n_pre)"
            raise ValueError(
                f"{name} must be a finite scalar or an array of shape {shape} {allowed}, got shape {w0.shape}"
            )
        if w0.ndim == 0:
            return w0.reshape(1, 1)
        return np.broadcast_to(w0, (self.replicas, *shape)).transpose(0, 2, 1).reshape(1, -1)

    # ---- use ----------------------------------------------------------------------------------
    def run_args(self, **changes) -> dict:
        """``run_args`` that change this rule in a compiled standalone network, without rebuilding.

        Accepts ``a_plus``, ``a_base``, ``sigma`` (steps), ``clip``, ``sign_tol``, ``warmup``,
        ``batch`` and ``w0`` (a scalar, or matrices as the constructor takes them where the network
        was built with a matrix); pass the result to `dassdp.models.standalone.StandaloneNetwork.run`.
        Values are validated as at build time. With params per replica, ``a_plus``, ``a_base``
        and ``clip`` (constants per synapse) cannot change here: ValueError.
        """
        from dataclasses import replace

        constants = {"a_plus", "a_base", "sigma", "clip", "sign_tol"}
        unknown = set(changes) - constants - {"warmup", "batch", "w0"}
        if unknown:
            raise ValueError(f"run_args: unknown DA-SSDP parameter(s) {sorted(unknown)}")
        per_synapse_constants = sorted({"a_plus", "a_base", "clip"} & set(changes))
        if self.replica_params is not None and per_synapse_constants:
            raise ValueError(
                f"run_args: {per_synapse_constants} cannot change in a network built with params per replica "
                "(they are per-synapse constants there); rebuild it with the new params"
            )
        replace(self._shared, **{k: v for k, v in changes.items() if k in constants})  # validates
        for name, minimum in (("warmup", 0), ("batch", 1)):
            if name in changes:
                check_count(name, changes[name], minimum)
        check_windows(changes.get("warmup", self.warmup), changes.get("batch", self.batch), self._shared.gate)
        if self.batch == 1 and changes.get("batch", 1) != 1:
            raise ValueError(
                "run_args: batch can only change in a network built with batch > 1 "
                "(batch = 1 compiles an update without accumulator)"
            )
        syn, vol = self.synapses, self.volume
        views = {
            "a_plus": [syn.ssdp_a_plus],
            "a_base": [syn.ssdp_a_base],
            "clip": [syn.ssdp_clip],
            "warmup": [vol.ssdp_warmup],
            "sign_tol": [vol.ssdp_sign_tol],
        }
        if self.mode == "whole":
            views["batch"] = [vol.ssdp_batch, syn.ssdp_batch]
        if self.mode == "split":  # the delivery computes the post share and h
            for name in ("a_plus", "a_base", "clip"):
                views[name].append(getattr(self.delivery, f"ssdp_{name}"))
        args = {view: value for name, value in changes.items() if name not in ("w0", "sigma") for view in views[name]}
        if "sigma" in changes:
            args[self.kernel_table] = self._kernel(changes["sigma"])
        if "w0" in changes:
            args[self.w0_table] = self._w0_args(changes["w0"])
        return args

    def _w0_args(self, value) -> np.ndarray:
        w0 = check_weights("run_args: w0", value)
        if np.ndim(self.w0) == 0 and w0.ndim != 0:
            raise ValueError(
                "run_args: this network was built with a scalar w0, so w0 can only change to a "
                f"scalar; build it with a {(self.n_post, self.n_pre)} matrix to pass matrices per run"
            )
        if np.ndim(self.w0) != 0 and w0.ndim == 0:  # the table keeps the size it was built with
            w0 = np.full((self.replicas, self.n_post, self.n_pre), w0)
        return self._w0_table("run_args: w0", w0)

    def duration(self, n_windows: int):
        """Run time for ``n_windows`` windows: one step more, in which the last window ends."""
        check_count("n_windows", n_windows, minimum=1)
        if self.warmup > n_windows:
            raise ValueError(f"warmup ({self.warmup} windows) is longer than the run ({n_windows} windows)")
        return n_windows * self.window + self.pre.clock.dt

    def fitted_gate(self) -> Gate | list[Gate] | None:
        """The gate ``(k, mu, s)`` fitted in the network (None for ``gate="off"``); with replicas,
        a list of one gate per replica (the gate volume's neuron r)."""
        if self._shared.gate == "off":
            return None
        k, mu, s = (np.asarray(getattr(self.volume, name)[:], dtype=np.float64) for name in ("k", "mu", "s"))
        gates = [Gate(k=float(k[r]), mu=float(mu[r]), s=float(s[r])) for r in range(self.replicas)]
        return gates[0] if self.replicas == 1 else gates

    def weights(self) -> np.ndarray:
        """The weight ``w`` of every synapse, in synapse order, on any target; with replicas, an
        array ``(replicas, synapses per replica)`` (the synapses are listed replica by replica).

        With split weights, ``w = ssdp_w_stored + ssdp_share_post`` is a subexpression, which
        Brian2 can read on runtime targets only; this sums the two parts, so it also works after a
        standalone run.
        """
        if self.mode == "whole":
            w = np.asarray(self.synapses.w[:], dtype=np.float64)
        else:
            w = split_sum(self.synapses.ssdp_w_stored[:], self.post.ssdp_share[:], self.synapses.j[:])
        return w if self.replicas == 1 else w.reshape(self.replicas, -1)

    def weight_matrix(self) -> np.ndarray:
        """Weights as a dense ``(len(post), len(pre))`` matrix (NaN where there is no synapse); with
        replicas, ``(replicas, n_post, n_pre)``, one matrix per replica."""
        i, j = np.asarray(self.synapses.i[:]), np.asarray(self.synapses.j[:])
        out = np.full((self.replicas, self.n_post, self.n_pre), np.nan)
        out[j // self.n_post, j % self.n_post, i % self.n_pre] = self.weights().ravel()
        return out[0] if self.replicas == 1 else out

    def monitor_weights(self, dt, when: str = "end", name: str = "ssdp_weights*") -> WeightMonitor:
        """Record every synapse's ``w`` each ``dt`` (add ``.objects`` to the Network).

        A StateMonitor cannot record the subexpression ``w`` (it reads a post variable), so this
        records its two parts. Synapses must have known indices (``record=True``): in standalone
        mode connect them with explicit ``i``, ``j``.
        """
        from brian2 import StateMonitor

        check_quantity("dt", dt)
        check_type("name", name, str)
        base = name.replace("*", "")
        if self.mode == "whole":
            return WeightMonitor(StateMonitor(self.synapses, "w", record=True, dt=dt, when=when, name=name))
        stored = StateMonitor(self.synapses, "ssdp_w_stored", record=True, dt=dt, when=when, name=base + "_stored*")
        shares = StateMonitor(self.post, "ssdp_share", record=True, dt=dt, when=when, name=base + "_shares*")
        return WeightMonitor(stored, shares, self.synapses)

    def monitor_dopamine(self, name: str = "ssdp_gate*"):
        """The gate ``g`` as the volume delivers it (``DA``): sample m + 1 is window m's gate."""
        return self.monitor(("DA",), name=name)

    def monitor(self, variables=("S", "L", "DA", "k"), name: str = "statemonitor*"):
        """A StateMonitor of the volume, one sample per window end (add it to the Network).

        Sample m (m >= 1) holds the values computed for window m - 1; sample 0 is the initial state.
        Row r (``monitor.S[r]``) is replica r.
        """
        from brian2 import StateMonitor

        if isinstance(variables, str):
            raise TypeError(f"variables must be a tuple of variable names, got the string {variables!r}")
        unknown = [v for v in variables if v not in self.volume.variables or v.startswith("_")]
        if unknown:
            names = sorted(v for v in self.volume.variables if not v.startswith("_") and v not in ("i", "N"))
            raise ValueError(f"variables: the gate volume has no variable(s) {unknown}; it has {names}")
        return StateMonitor(
            self.volume, list(variables), record=True, dt=self.window, when="synapses", order=-35, name=name
        )


class SSDPSynapses(DASSDPSynapses):
    """Spike-synchrony-dependent plasticity without the dopamine gate: `DASSDPSynapses` with
    ``params.gate = "off"`` (the two-factor ablation), no loss and no warm-up by default. With
    replicas, ``params`` may be one per replica, as in `DASSDPSynapses` (each with the gate off)."""

    def __init__(
        self,
        pre,
        post,
        window,
        params: DASSDPParams | Sequence[DASSDPParams] = DASSDPParams(gate="off"),
        *,
        warmup: int = 0,
        **kwargs,
    ) -> None:
        for r, p in enumerate(params if isinstance(params, (list, tuple)) else [params]):
            label = "params" if p is params else f"params[{r}]"
            check_type(label, p, DASSDPParams)
            if p.gate != "off":
                raise ValueError(f"SSDPSynapses has the gate off; got {label}.gate={p.gate!r} (use DASSDPSynapses)")
        super().__init__(pre, post, window, params, warmup=warmup, **kwargs)


def _check_loss(loss, replicas: int) -> None:
    """A `WindowLoss` for ``replicas``: TypeError naming ``loss`` for anything else, ValueError
    for another number of replicas (``synapse_equations`` and ``replicas`` may be missing from a
    user's loss: none, and one replica)."""
    methods = ("expression", "namespace", "objects")
    has_methods = all(callable(getattr(loss, m, None)) for m in methods)
    if not (has_methods and isinstance(getattr(loss, "volume_equations", None), str)):
        raise TypeError(
            "loss must be a WindowLoss (SpikeCountLoss, ReadoutLoss, ExternalLoss or an object with "
            f"volume_equations, expression(), namespace() and objects()), got {type(loss).__name__} {loss!r}"
        )
    if getattr(loss, "replicas", 1) != replicas:
        raise ValueError(
            f"loss has values for {getattr(loss, 'replicas', 1)} replica(s), the rule has replicas={replicas}: "
            "give one row of values or labels per replica"
        )


def _all_to_all(connect: dict | None, n_pre: int, n_post: int) -> bool:
    """Whether ``connect`` makes every (pre, post) pair a synapse: by default, or as explicit
    ``i``, ``j`` arrays that list every pair once (the bridge connects dense layers that way)."""
    if not connect:
        return True
    if set(connect) != {"i", "j"}:
        return False
    i, j = np.asarray(connect["i"]), np.asarray(connect["j"])
    return i.size == n_pre * n_post and np.unique(i * n_post + j).size == i.size
