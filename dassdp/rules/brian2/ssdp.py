"""DA-SSDP (and SSDP, its gate switched off) as Brian2 synapse equations with a dopamine variable.

Implements the contract of DESIGN.md ("DA-SSDP: the contract"; Tian et al., arXiv 2512.07194)
with one sample per window of duration ``window``, entirely in generated code (no
``network_operation``), so the same objects run on ``numpy``, ``cython``, ``cpp_standalone`` and
``cuda_standalone``.

**Split weights (batches of one window, the default).** A pre neuron that did not fire has
latency ``T_win``, so the eligibility of its synapses, ``e = -A_base K(t_j - T_win)``, depends on
the post neuron only. Each synapse's weight is therefore kept in two parts,
``w = ssdp_w + ssdp_Q_post`` (a subexpression, so ``on_pre`` code reads ``w`` as usual): the post
neuron's share ``Q_j`` receives ``q_j = clip(g (-A_base) K(t_j - T_win), -c, c)`` every window,
which is the update of every synapse whose pre neuron was silent, and only the synapses of pre
neurons that fired are visited, through a window-end event (`windows.window_end_event`), to add
``clip(g e_ij, -c, c) - q_j``. The result is the contract's update, clip included, at a cost
proportional to the synapses of firing neurons rather than to all synapses. **Batches of B > 1
windows** keep ``w`` whole and visit every synapse each window (an accumulator per synapse).

At t = 0 (once, ``run_at``) the synapses load their weights from ``w0`` and write each post
neuron's in-degree into ``nin``. Then, in the step that opens window m+1 (the end of window m):

``groups``
    Summed variables (on the volume's clock, of period ``window``) reduce the post group into the
    one-neuron *gate volume*: ``sum_j fired_j * nfp_j`` (synchronous synapses; ``nfp_j`` counts
    connected pre neurons that fired) and ``sum_j nin_j`` (synapses). With all-to-all
    connectivity the synchronous synapses are ``(sum_i fired_i)(sum_j fired_j)``, from one
    reduction of each group, and nothing is counted per spike. The volume's
    ``run_regularly`` computes ``S = nsync / nsyn``, the loss ``L``, updates the warm-up
    statistics (Welford), fits the gate ``(k, mu, s)`` after window ``warmup - 1``, sets ``DA``
    to the gate value ``g`` (0 during warm-up: no update) and ``ssdp_apply`` to 1 at the end of
    each batch, then spikes.
``after_thresholds``
    (split weights) pre neurons that fired in window m emit the window-end event.
``synapses``
    order -30: the volume's spike delivers ``DA`` and ``ssdp_apply`` to the post group (split
    weights: and adds ``q_j`` to ``Q_j``);
    order -20: split weights: the event pathway corrects the synapses of the pre neurons that
    fired; batches: every synapse computes ``e = K ((A_plus + A_base) sync - A_base)``,
    accumulates ``DA * e`` and at batch end adds ``clip(acc / B, -c, c)`` to ``w``;
    order -10: fired flags, latencies and counts are cleared;
    order -1: the user's transmission (``on_pre``, Brian2's default order for pre pathways), which
    also counts first pre spikes into ``nfp`` of the post neurons when it has no delay (other
    than all-to-all);
    order 10: otherwise (no transmission, or a delayed one) the ``ssdp_sync`` pathway counts them;
    order 20: spikes of this step are recorded as fired flags and latencies of the new window.

The run therefore needs one step past the last window: use ``rule.duration(n_windows)``.
Only one DA-SSDP projection may target a given post group (the post-side variables are shared).
Read weights with `DASSDP.weights` / `DASSDP.weight_matrix` and record them with
`DASSDP.monitor_weights`: Brian2 reads the subexpression ``w`` on runtime targets only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dassdp.models.dopamine import ORDER_DELIVER, deliver, set_pathway_order
from dassdp.rules.brian2.normalization import SYNAPSE_EQUATIONS, RowNormalization
from dassdp.rules.brian2.protocol import WeightMonitor, split_sum
from dassdp.rules.brian2.windows import (
    ORDER_SYNC,
    ORDER_UPDATE,
    on_window_clock,
    require_variables,
    schedule_table,
    track_windows,
    window_end_event,
)
from dassdp.rules.reference import STD_EPS, DASSDPParams, Gate, Schedule

_VOLUME = """
DA : 1
S : 1
L : 1
k : 1
mu : 1
s : 1
ssdp_nsync : 1
ssdp_nsyn : 1
ssdp_npre : 1
ssdp_widx : 1
ssdp_wn : 1
ssdp_mS : 1
ssdp_mL : 1
ssdp_M2S : 1
ssdp_M2L : 1
ssdp_CSL : 1
ssdp_index_mean : 1
ssdp_index_m2 : 1
ssdp_index_cov_S : 1
ssdp_index_cov_L : 1
ssdp_nbatch : 1
ssdp_apply : 1
ssdp_ready : 1
ssdp_W : 1 (shared, constant)
ssdp_B : 1 (shared, constant)
ssdp_tol : 1 (shared, constant)
ssdp_T : second (shared, constant)
"""

_GATE = {
    "continuous": "clip(1 + k * (S - mu) / s, 0, 2)",
    "sign": "int(abs(k) < ssdp_tol) + int(abs(k) >= ssdp_tol) * sign(k)",
    "off": "1",
}

_CONSTANTS = """
ssdp_a_plus : 1 (shared, constant)
ssdp_a_base : 1 (shared, constant)
ssdp_clip : 1 (shared, constant)
ssdp_Tw : second (shared, constant)
ssdp_Bw : 1 (shared, constant)
"""

#: The synapse's weight: stored whole (batches of B > 1 windows), or split (B = 1) into a stored
#: part and the post neuron's share ``ssdp_Q``, which carries the update of every synapse whose
#: pre neuron did not fire in a window (module docstring).
_WEIGHT = {
    "split": "ssdp_w : 1\nw = ssdp_w + ssdp_Q_post : 1\n",
    "whole": "w : 1\nssdp_acc : 1\nssdp_w_min : 1 (shared, constant)\nssdp_w_max : 1 (shared, constant)\n",
}

#: Run once, at t = 0: initial weights (into ``ssdp_w`` or ``w``) and the in-degree of each post neuron.
_LOAD = """
{} = ssdp_w0(0*second, (i * ssdp_n_post + j) * ssdp_w0_stride)
ssdp_nin_post = N_incoming
"""

#: The post latency, T_win for a post neuron that did not fire.
_LAT_POST = "tj = ssdp_fired_post * ssdp_lat_post + (1 - ssdp_fired_post) * ssdp_Tw\n"

#: Delivered with the gate (order -30), per post neuron j: the update of every synapse whose pre
#: neuron did not fire, ``q_j = clip(g (-A_base) K(t_j - T_win), -c, c)``, added to ``Q_j``; and,
#: for the event pass, ``h_j = g ((A_plus + A_base) f_j - A_base)`` (0 when no update is due) and
#: the latency ``t_j``.
_SHARE = _LAT_POST + """DA_post = DA_pre
ssdp_apply_post = ssdp_apply_pre
ssdp_tj_post = tj
ssdp_h_post = ssdp_apply_pre * DA_pre * ((ssdp_a_plus + ssdp_a_base) * ssdp_fired_post - ssdp_a_base)
ssdp_qinc_post = ssdp_apply_pre * clip(DA_pre * (ssdp_kernel(tj) * (-ssdp_a_base)), -ssdp_clip, ssdp_clip)
ssdp_Q_post += ssdp_qinc_post
"""

#: Synapses of a pre neuron that fired (window-end event, order -20): the exact update
#: ``clip(g e_ij, -c, c)``, with ``e_ij = K(t_j - t_i) ((A_plus + A_base) f_j - A_base)``, less
#: the share ``q_j`` that ``Q_j`` already received.
_CORRECTION = """
ssdp_w += clip(ssdp_h_post * ssdp_kernel(ssdp_tj_post - ssdp_lat_pre + ssdp_Tw), -ssdp_clip, ssdp_clip) - ssdp_qinc_post
"""

#: Whole weights (batches of B > 1 windows, weight bounds, or a normalisation): every synapse
#: accumulates ``DA * e`` each window (a pass over all synapses, order -20) and adds
#: ``clip(acc / B, -c, c)`` at the batch end, clipped to ``[w_min, w_max]`` (the bounds act where
#: an update is applied, as in `dassdp.rules.reference.simulate_dassdp`).
_WHOLE = """
ti = ssdp_fired_pre * ssdp_lat_pre + (1 - ssdp_fired_pre) * ssdp_Tw
""" + _LAT_POST + """e = ssdp_kernel(tj - ti + ssdp_Tw) * ((ssdp_a_plus + ssdp_a_base) * ssdp_fired_pre * ssdp_fired_post - ssdp_a_base)
ssdp_acc += DA_post * e
w_new = clip(w + clip(ssdp_acc / ssdp_Bw, -ssdp_clip, ssdp_clip), ssdp_w_min, ssdp_w_max)
w = ssdp_apply_post * w_new + (1 - ssdp_apply_post) * w
ssdp_acc *= 1 - ssdp_apply_post
"""


def _volume_code(gate: str, fit: str, loss_expression: str, learn_expression: str, n_sync: str) -> str:
    """The volume's window-end code. Warm-up statistics are running (Welford) means and co-moments
    of S, L and the record index b; with ``fit = "detrended"`` the co-moments of S and L lose
    the part a least-squares line on b explains (`dassdp.rules.reference.fit_gate`),
    ``C_SL - C_Sb C_Lb / M2_b`` and ``M2_x - C_xb^2 / M2_b``."""
    detrend = int(fit == "detrended")
    return f"""
started = int(t > 0*second)
active = started * ({learn_expression})
S = {n_sync} / (ssdp_nsyn + int(ssdp_nsyn == 0))
L = {loss_expression}
inwarm = active * int(ssdp_widx < ssdp_W)
n_new = ssdp_wn + inwarm
denom = n_new + int(n_new == 0)
dS = S - ssdp_mS
dL = L - ssdp_mL
ssdp_mS += inwarm * dS / denom
ssdp_mL += inwarm * dL / denom
ssdp_M2S += inwarm * dS * (S - ssdp_mS)
ssdp_M2L += inwarm * dL * (L - ssdp_mL)
ssdp_CSL += inwarm * dS * (L - ssdp_mL)
d_index = ssdp_wn - ssdp_index_mean
ssdp_index_mean += inwarm * d_index / denom
ssdp_index_m2 += inwarm * d_index * (ssdp_wn - ssdp_index_mean)
ssdp_index_cov_S += inwarm * d_index * (S - ssdp_mS)
ssdp_index_cov_L += inwarm * d_index * (L - ssdp_mL)
ssdp_wn = n_new
fit = active * int(abs(ssdp_widx - (ssdp_W - 1)) < 0.5)
index_m2 = ssdp_index_m2 + int(ssdp_index_m2 == 0)
trend_cov = {detrend} * ssdp_index_cov_S * ssdp_index_cov_L / index_m2
trend_S = {detrend} * ssdp_index_cov_S**2 / index_m2
trend_L = {detrend} * ssdp_index_cov_L**2 / index_m2
sd_S = sqrt(ssdp_M2S / denom) + {STD_EPS!r}
sd_rS = sqrt(abs(ssdp_M2S - trend_S) / denom) + {STD_EPS!r}
sd_rL = sqrt(abs(ssdp_M2L - trend_L) / denom) + {STD_EPS!r}
k = (1 - fit) * k - fit * ((ssdp_CSL - trend_cov) / denom) / (sd_rS * sd_rL)
mu = (1 - fit) * mu + fit * ssdp_mS
s = (1 - fit) * s + fit * sd_S
after = active * int(ssdp_widx > ssdp_W - 0.5)
DA = after * ({_GATE[gate]})
ssdp_nbatch += after
ssdp_apply = int(ssdp_nbatch > ssdp_B - 0.5)
ssdp_nbatch *= 1 - ssdp_apply
ssdp_widx += active
ssdp_ready = started
"""


@dataclass
class DASSDP:
    """DA-SSDP between two Brian2 groups, with an in-network gate carried by dopamine.

    Parameters (DESIGN.md contract; defaults are the published ones):

    pre, post
        NeuronGroups carrying ``neuron_variables("pre")`` and ``neuron_variables("post")``.
    window
        Duration of one sample window ``T_win`` (an integer multiple of ``dt``).
    sigma
        Width of the latency kernel ``K = exp(-(t_j - t_i)^2 / (2 sigma^2))``; default one ``dt``.
        Latencies lie on the time grid, so ``K`` is read from a table over the ``2 T_win / dt + 1``
        possible differences (``ssdp_kernel``), which is exact and much cheaper than ``exp`` per
        synapse and window.
    a_plus, a_base
        Potentiation of synchronous pairs and depression of the others (1.5e-3, 5e-4; the paper's
        text gives ``A_base = 1e-4``, `dassdp.rules.reference.A_BASE_PAPER`).
    warmup
        Windows whose ``(S, L)`` fit the gate before any update.
    batch
        Windows ``B`` averaged per update.
    gate
        ``"continuous"``, ``"sign"`` or ``"off"`` (SSDP, the two-factor rule).
    clip
        Bound ``c`` on every element of an update.
    latency
        ``"first"`` (default) or ``"last"`` spike of the window.
    loss
        A loss signal (`SpikeCountLoss`, `ExternalLoss` or your own); needed unless ``gate="off"``.
    schedule
        A `dassdp.rules.reference.Schedule` over windows of length ``window`` (None: always on).
        Windows where it is 0 (e.g. evaluation windows) are skipped as if not presented: no
        update, and they count neither for the warm-up nor for a batch.
    connect
        Keyword arguments for ``Synapses.connect`` (default: all-to-all).
    on_pre, delay
        Transmission code of the plastic synapses (e.g. ``"I_syn_post += w * mV"``) and its delay.
    w0
        Initial weights: a scalar or a ``(len(post), len(pre))`` matrix, read where synapses exist;
        they are loaded at t = 0 (values assigned to ``synapses.w`` before the run are replaced).
    """

    pre: Any
    post: Any
    window: Any
    sigma: Any = None
    a_plus: float = DASSDPParams.a_plus
    a_base: float = DASSDPParams.a_base
    warmup: int = 100
    batch: int = 1
    gate: str = "continuous"
    clip: float = 1.0
    latency: str = "first"
    sign_tol: float = DASSDPParams.sign_tol
    w_min: float = DASSDPParams.w_min
    w_max: float = DASSDPParams.w_max
    gate_fit: str = DASSDPParams.gate_fit
    normalization: RowNormalization | None = None
    loss: Any = None
    schedule: Schedule | None = None
    connect: dict | None = None
    on_pre: str = ""
    delay: Any = None
    w0: Any = 0.0
    name: str = "dassdp*"

    def __post_init__(self) -> None:
        from brian2 import NeuronGroup, Synapses, TimedArray, second

        dt = self.pre.clock.dt
        if float(self.post.clock.dt) != float(dt):
            raise ValueError(f"pre and post must share dt, got {self.pre.clock.dt} and {self.post.clock.dt}")
        if float(self.window) <= 0:
            raise ValueError(f"window must be a positive duration, got {self.window}")
        steps = float(self.window / dt)
        if abs(steps - round(steps)) > 1e-9 * steps:
            raise ValueError(f"window ({self.window}) must be an integer multiple of dt ({dt})")
        sigma = dt if self.sigma is None else self.sigma
        self.params = DASSDPParams(
            sigma=float(sigma / second), a_plus=self.a_plus, a_base=self.a_base, warmup=self.warmup,
            batch=self.batch, gate=self.gate, clip=self.clip, latency=self.latency, sign_tol=self.sign_tol,
            w_min=self.w_min, w_max=self.w_max, gate_fit=self.gate_fit,
        )
        if self.loss is None and self.gate != "off":
            raise ValueError(f"loss is required for gate={self.gate!r} (the warm-up correlates S with L)")
        require_variables(self.pre, "pre", "pre")
        require_variables(self.post, "post", "post")
        owner = getattr(self.post, "_ssdp_rule", None)
        if owner is not None:
            raise ValueError(f"post ({self.post.name!r}) already receives the DA-SSDP projection {owner!r}: only one "
                             "may target a group, whose post-side variables (DA, ssdp_Q, ...) it owns")
        # validate w0 and the loss before any group is modified
        weights_namespace = self._initial_weights()
        self.kernel_table = TimedArray(self._kernel(sigma), dt=dt)  # a run_args key for sigma
        weights_namespace["ssdp_kernel"] = self.kernel_table
        namespace = self.loss.namespace(self.window) if self.loss is not None else {}
        learn = "1"
        if self.schedule is not None:
            namespace["ssdp_learn"] = schedule_table(self.schedule, self.window)
            learn = "ssdp_learn(t - 0.5 * ssdp_T)"
        loss_eqs = self.loss.volume_equations if self.loss is not None else ""
        trackers = track_windows(self.pre, self.window, self.latency, "pre")
        trackers += track_windows(self.post, self.window, self.latency, "post")
        self.volume = NeuronGroup(  # runs once per window, in the step that opens the next one
            1, _VOLUME + loss_eqs, threshold="ssdp_ready > 0.5", reset="ssdp_ready = 0",
            namespace=namespace, dt=self.window, name=self.name.replace("*", "") + "_volume*",
        )
        self.volume.s = 1.0
        self.volume.ssdp_W = self.warmup
        self.volume.ssdp_B = self.batch
        self.volume.ssdp_tol = self.sign_tol
        self.volume.ssdp_T = self.window
        expression = self.loss.expression() if self.loss is not None else "0"
        # synchronous synapses sum_ij f_i f_j; all-to-all, (sum_i f_i)(sum_j f_j): no count per spike
        all_to_all = not self.connect
        n_sync = "ssdp_npre * ssdp_nsync" if all_to_all else "ssdp_nsync"
        self.volume.run_regularly(_volume_code(self.gate, self.gate_fit, expression, learn, n_sync), dt=self.window, when="groups")

        # summed variables run on the volume's clock
        per_post = "ssdp_fired_pre" if all_to_all else "ssdp_fired_pre * ssdp_nfp_pre"
        reductions = [Synapses(self.post, self.volume, model=f"""ssdp_nsync_post = {per_post} : 1 (summed)
                                                              ssdp_nsyn_post = ssdp_nin_pre : 1 (summed)""",
                               name=self.volume.name + "_reduce*")]
        if all_to_all:
            reductions.append(Synapses(self.pre, self.volume, model="ssdp_npre_post = ssdp_fired_pre : 1 (summed)",
                                       name=self.volume.name + "_reduce_pre*"))
        for reduction in reductions:
            reduction.connect()

        on_pre = {"pre": self.on_pre} if self.on_pre else {}
        if not all_to_all:  # first pre spikes of a window count into nfp of their post neurons
            count = "ssdp_nfp_post += 1 - ssdp_fired_pre"
            if self.on_pre and self.delay is None:
                on_pre = {"pre": self.on_pre + "\n" + count}  # one pass over a spike's synapses
            else:
                on_pre["ssdp_sync"] = count
        bounded = np.isfinite(self.w_min) or np.isfinite(self.w_max)
        self.mode = "whole" if self.batch > 1 or bounded or self.normalization is not None else "split"
        on_event = {}
        if self.mode == "split":
            on_pre["ssdp_end"] = _CORRECTION
            on_event = {"ssdp_end": window_end_event(self.pre, self.window)}
        own = {"ssdp_sync", "ssdp_end"} & set(on_pre)  # scalar delays: no per-synapse delay arrays
        self.synapses = Synapses(
            self.pre, self.post, model=_CONSTANTS + _WEIGHT[self.mode] + (SYNAPSE_EQUATIONS if self.normalization else ""),
            on_pre=on_pre, on_event=on_event,
            delay={name: 0 * second for name in own}, namespace=weights_namespace, name=self.name,
        )
        self.synapses.connect(**(self.connect or {}))
        if "ssdp_sync" in on_pre:
            self.synapses.ssdp_sync.order = ORDER_SYNC
        if self.on_pre and self.delay is not None:
            self.synapses.pre.delay = self.delay
        constants = {"a_plus": self.a_plus, "a_base": self.a_base, "clip": self.clip, "Tw": self.window,
                     "Bw": self.batch}
        for name, value in constants.items():
            setattr(self.synapses, f"ssdp_{name}", value)
        self.synapses.run_at(_LOAD.format("ssdp_w" if self.mode == "split" else "w"), times=[0 * second], when="start")
        if self.mode == "split":
            self.synapses.ssdp_end.order = ORDER_UPDATE
            on_window_clock(self.synapses.ssdp_end, self.pre.thresholder[on_event["ssdp_end"]].clock)
            self.delivery = Synapses(
                self.volume, self.post, model=_CONSTANTS, on_pre=_SHARE, namespace={"ssdp_kernel": self.kernel_table},
                dt=self.window, name=self.volume.name + "_delivery*",
            )
            self.delivery.connect()
            set_pathway_order(self.delivery, ORDER_DELIVER)
            for name, value in constants.items():
                setattr(self.delivery, f"ssdp_{name}", value)
        else:
            self.synapses.ssdp_w_min, self.synapses.ssdp_w_max = self.w_min, self.w_max
            self.synapses.run_regularly(_WHOLE, dt=self.window, when="synapses", order=ORDER_UPDATE)
            if self.normalization is not None:
                self.normalization.attach(self.synapses, self.post, self.window, self.schedule, self.w_min, self.w_max)
            self.delivery = deliver(self.volume, self.post, ("DA", "ssdp_apply"), name=self.volume.name + "_delivery*",
                                    dt=self.window)
        extra = self.loss.objects(self.volume, self.window, self.latency) if self.loss is not None else []
        self.objects = [self.volume, *reductions, self.synapses, self.delivery, *trackers, *extra]
        self.post._ssdp_rule = self.synapses.name

    def _kernel(self, sigma) -> np.ndarray:
        """``K(d) = exp(-d^2 / (2 sigma^2))`` at ``d = (k - n) dt``, ``k = 0 .. 2n``, ``n = T_win / dt``:
        indexed by ``lat_post - lat_pre + T_win`` as a time."""
        from brian2 import second

        dt = float(self.pre.clock.dt / second)
        n = int(round(float(self.window / second) / dt))
        d = (np.arange(2 * n + 1) - n) * dt
        return np.exp(-(d**2) / (2 * float(sigma / second) ** 2))

    def _initial_weights(self) -> dict:
        """Namespace entries that set ``w`` from a scalar or a ``(len(post), len(pre))`` matrix.

        The values are read in generated code at t = 0 from a one-row `TimedArray` indexed by
        ``(i * len(post) + j) * ssdp_w0_stride``, so they work for any connectivity, on
        standalone targets (where synapses only exist once the network runs) and through
        ``run_args`` (applied after Brian2's initialisation). A scalar is a table of one value
        (stride 0), so a large network does not load a matrix of equal values.
        """
        from brian2 import TimedArray, second

        w0 = np.asarray(self.w0, dtype=np.float64)
        shape = (len(self.post), len(self.pre))
        if (w0.ndim != 0 and w0.shape != shape) or not np.all(np.isfinite(w0)):
            raise ValueError(
                f"w0 must be a finite scalar or an array of shape (len(post), len(pre)) = {shape}, got shape {w0.shape}"
            )
        self.w0_table = TimedArray(w0.T.reshape(1, -1), dt=1 * second)
        return {"ssdp_w0": self.w0_table, "ssdp_n_post": shape[0], "ssdp_w0_stride": int(w0.ndim != 0)}

    def run_args(self, **changes) -> dict:
        """``run_args`` that change this rule in a compiled standalone network, without rebuilding.

        Accepts ``a_plus``, ``a_base``, ``sigma``, ``clip``, ``warmup``, ``batch``, ``sign_tol``
        and ``w0`` (a scalar, or a ``(len(post), len(pre))`` matrix where the network was built
        with one); pass the result to
        `dassdp.models.standalone.StandaloneNetwork.run`. Values are validated as at build time.
        """
        from brian2 import second

        unknown = set(changes) - {"a_plus", "a_base", "sigma", "clip", "warmup", "batch", "sign_tol", "w0"}
        if unknown:
            raise ValueError(f"run_args: unknown DA-SSDP parameter(s) {sorted(unknown)}")
        current = {name: getattr(self.params, name) for name in ("a_plus", "a_base", "clip", "warmup", "batch", "sign_tol")}
        sigma = changes.get("sigma", self.params.sigma * second)
        merged = {**current, **{k: v for k, v in changes.items() if k not in ("sigma", "w0")}}
        DASSDPParams(sigma=float(sigma / second), gate=self.gate, latency=self.latency, **merged)
        if self.batch == 1 and changes.get("batch", 1) != 1:
            raise ValueError("run_args: batch can only change in a network built with batch > 1 "
                             "(batch = 1 compiles an update without accumulator)")
        syn, vol = self.synapses, self.volume
        views = {"a_plus": [syn.ssdp_a_plus], "a_base": [syn.ssdp_a_base], "clip": [syn.ssdp_clip],
                 "warmup": [vol.ssdp_W], "batch": [vol.ssdp_B, syn.ssdp_Bw], "sign_tol": [vol.ssdp_tol]}
        if self.mode == "split":  # the delivery computes the post share and h
            for name in ("a_plus", "a_base", "clip"):
                views[name].append(getattr(self.delivery, f"ssdp_{name}"))
        args = {view: value for name, value in changes.items() if name not in ("w0", "sigma") for view in views[name]}
        if "sigma" in changes:
            args[self.kernel_table] = self._kernel(changes["sigma"])
        if "w0" in changes:
            w0 = np.asarray(changes["w0"], dtype=np.float64)
            shape, scalar_build = (len(self.post), len(self.pre)), np.ndim(self.w0) == 0
            if scalar_build and w0.ndim != 0:
                raise ValueError("run_args: this network was built with a scalar w0, so w0 can only change to a "
                                 f"scalar; build it with a {shape} matrix to pass matrices per run")
            if not scalar_build and w0.ndim != 0 and w0.shape != shape:
                raise ValueError(f"run_args: w0 must be a scalar or have shape {shape}, got {w0.shape}")
            if not np.all(np.isfinite(w0)):
                raise ValueError("run_args: w0 must be finite")
            args[self.w0_table] = (w0 if scalar_build else np.broadcast_to(w0, shape)).T.reshape(1, -1)
        return args

    def duration(self, n_windows: int):
        """Run time for ``n_windows`` windows: one step more, in which the last window ends."""
        if int(n_windows) != n_windows or n_windows < 1:
            raise ValueError(f"n_windows must be a positive integer, got {n_windows!r}")
        if self.warmup > n_windows:
            raise ValueError(f"warmup ({self.warmup} windows) is longer than the run ({n_windows} windows)")
        return n_windows * self.window + self.pre.clock.dt

    def fitted_gate(self) -> Gate | None:
        """The gate ``(k, mu, s)`` fitted in the network (None for ``gate="off"``)."""
        if self.gate == "off":
            return None
        return Gate(k=float(self.volume.k[0]), mu=float(self.volume.mu[0]), s=float(self.volume.s[0]))

    def weights(self) -> np.ndarray:
        """The weight ``w`` of every synapse, in synapse order, on any target.

        With ``batch = 1``, ``w = ssdp_w + ssdp_Q_post`` is a subexpression, which Brian2 can
        read on runtime targets only; this sums the two parts, so it also works after a
        standalone run.
        """
        if self.mode == "whole":
            return np.asarray(self.synapses.w[:], dtype=np.float64)
        return split_sum(self.synapses.ssdp_w[:], self.post.ssdp_Q[:], self.synapses.j[:])

    def weight_matrix(self) -> np.ndarray:
        """Weights as a dense ``(len(post), len(pre))`` matrix (NaN where there is no synapse)."""
        out = np.full((len(self.post), len(self.pre)), np.nan)
        out[self.synapses.j[:], self.synapses.i[:]] = self.weights()
        return out

    def monitor_weights(self, dt, when: str = "end", name: str = "ssdp_weights*") -> WeightMonitor:
        """Record every synapse's ``w`` each ``dt`` (add ``.objects`` to the Network).

        A StateMonitor cannot record the subexpression ``w`` (it reads a post variable), so this
        records its two parts. Synapses must have known indices (``record=True``): in standalone
        mode connect them with explicit ``i``, ``j``.
        """
        from brian2 import StateMonitor

        base = name.replace("*", "")
        if self.mode == "whole":
            return WeightMonitor(StateMonitor(self.synapses, "w", record=True, dt=dt, when=when, name=name))
        stored = StateMonitor(self.synapses, "ssdp_w", record=True, dt=dt, when=when, name=base + "_stored*")
        shares = StateMonitor(self.post, "ssdp_Q", record=True, dt=dt, when=when, name=base + "_shares*")
        return WeightMonitor(stored, shares, self.synapses)

    def monitor_dopamine(self, name: str = "ssdp_gate*"):
        """The gate ``g`` as the volume delivers it (``DA``): sample m + 1 is window m's gate."""
        return self.monitor(("DA",), name=name)

    def monitor(self, variables=("S", "L", "DA", "k"), name: str = "statemonitor*"):
        """A StateMonitor of the volume, one sample per window end (add it to the Network).

        Sample m (m >= 1) holds the values computed for window m - 1; sample 0 is the initial state.
        """
        from brian2 import StateMonitor

        return StateMonitor(self.volume, list(variables), record=0, dt=self.window, when="synapses", order=-35,
                            name=name)


def SSDP(pre, post, window, **kwargs) -> DASSDP:
    """Spike-synchrony-dependent plasticity without the dopamine gate (``gate="off"``)."""
    if kwargs.get("gate", "off") != "off":
        raise ValueError("SSDP is DA-SSDP with gate='off'; use DASSDP for other gate modes")
    kwargs.setdefault("warmup", 0)
    return DASSDP(pre, post, window, gate="off", **kwargs)
