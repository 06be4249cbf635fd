"""Pair-based STDP and three-factor DA-STDP as Brian2 synapses.

Both match `dassdp.rules.reference` (`stdp_weight`, `dastdp_weight`): event-driven traces are
exact, and DA-STDP integrates ``dw/dt = c (n - b)`` with NEST's closed form over each time step.

Replicas (``replicas=R``, `dassdp.rules.brian2.replicas`): ``pre`` and ``post`` hold R blocks of
neurons, ``connect`` (None or explicit ``i``, ``j`` of one replica) applies within each replica
and the synapses are listed replica by replica. Pair-based traces live on the synapses, so
nothing else is shared; DA-STDP reads the ``DA`` that a `dassdp.models.dopamine.DopamineVolume`
of R neurons delivers to each replica's block of ``post`` from its own neuron. ``params`` may be
one params object per replica, differing in ``a_plus``, ``a_minus``, ``w_min`` and ``w_max``
(`dassdp.rules.brian2.replicas.replica_params`): these constants and the same-step correction
derived from them then are per-synapse variables (``stdp_a_plus``, ``stdp_a_minus``,
``stdp_w_min``, ``stdp_w_max``, ``stdp_same_step``), each synapse holding its replica's values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dassdp.checks import check_type
from dassdp.rules.brian2.checks import check_group, check_quantity, check_schedule, check_weights
from dassdp.rules.brian2.normalization import SYNAPSE_EQUATIONS, RowNormalization
from dassdp.rules.brian2.protocol import WeightMonitor
from dassdp.rules.brian2.replicas import check_connect, check_replicas, connect_replicas, per_synapse, replica_params
from dassdp.rules.brian2.windows import schedule_table
from dassdp.rules.reference import DASTDPParams, Schedule, STDPParams, same_step_correction

_STDP = """
w : 1
dapre/dt = -apre / stdp_tau_plus : 1 (event-driven)
dapost/dt = -apost / stdp_tau_minus : 1 (event-driven)
stdp_last_pre_spike : second
"""

#: 1 in a post spike's pathway when the pre neuron spiked in the same step (its pathway ran first)
_SAME_STEP = "int(abs(t - stdp_last_pre_spike) < 0.5 * dt)"


def _synapses(
    pre,
    post,
    model,
    on_pre,
    on_post,
    namespace,
    connect,
    transmission,
    delay,
    w0,
    name,
    normalization: RowNormalization | None,
    replicas: int,
):
    from brian2 import Synapses, second

    code = on_pre + "\nstdp_last_pre_spike = t" + ("\n" + transmission if transmission else "")
    model += SYNAPSE_EQUATIONS if normalization is not None else ""
    syn = Synapses(pre, post, model=model, on_pre=code, on_post=on_post, namespace=namespace, name=name)
    connect_replicas(syn, replicas, connect)
    if delay is not None:
        syn.pre.delay = delay
    if not isinstance(w0, str) and np.ndim(w0) != 0:  # a string is a Brian2 expression
        w0 = _per_synapse(syn, np.asarray(w0), replicas)
    syn.w = w0
    syn.stdp_last_pre_spike = -1 * second  # no pre spike yet
    return syn


def _per_synapse(syn, w0: np.ndarray, replicas: int) -> np.ndarray:
    """``w0`` as one value per synapse: given so (``(n,)``), or with replicas one row per replica
    (``(replicas, n / replicas)``) or one replica's values for all (``(n / replicas,)``)."""
    try:
        n = len(syn)
    except NotImplementedError:  # standalone: synapses exist once the network runs
        n = None
    per_replica = None if n is None else n // replicas
    given = w0.shape
    if replicas > 1 and w0.ndim == 1 and (n is None or given == (per_replica,)):
        w0 = np.tile(w0, replicas)  # one replica's values for all (standalone: Brian2 checks the length)
    if replicas > 1 and w0.ndim == 2 and w0.shape[0] == replicas:
        w0 = w0.ravel()
    if n is not None and w0.shape != (n,):
        replica_shapes = "" if replicas == 1 else f", per replica ({per_replica},) or ({replicas}, {per_replica})"
        raise ValueError(
            f"w0 must be a finite scalar, one value per synapse ({n},){replica_shapes} or a Brian2 expression string, "
            f"got shape {given}"
        )
    return w0


#: The params fields that may differ between replicas (`dassdp.rules.brian2.replicas.replica_params`)
_PER_REPLICA = ("a_plus", "a_minus", "w_min", "w_max")


def _time_constants(p) -> dict:
    """The pair-based window's time constants in the synapses' namespace (STDP and DA-STDP)."""
    from brian2 import second

    return {"stdp_tau_plus": p.tau_plus * second, "stdp_tau_minus": p.tau_minus * second}


def _pair_constants(p, same_step: float) -> dict:
    """The pair-based window's amplitudes, bounds and same-step correction ``same_step`` (STDP and
    DA-STDP): constants in the synapses' namespace, or per-synapse variables with params per
    replica."""
    return {
        "stdp_a_plus": p.a_plus,
        "stdp_a_minus": p.a_minus,
        "stdp_w_min": p.w_min,
        "stdp_w_max": p.w_max,
        "stdp_same_step": same_step,
    }


class _PairBased:
    """What STDP and DA-STDP share: argument checks, windows (for normalisation and monitors) and
    the `dassdp.rules.brian2.protocol.BrianRule` interface."""

    def _check(self, params_type: type) -> None:
        """Raise a TypeError or ValueError naming the argument that does not fit (before anything
        is built)."""
        check_group("pre", self.pre, spikes_only=True)
        check_group("post", self.post, spikes_only=True)
        check_replicas(self.replicas, pre=self.pre, post=self.post)
        #: the params of each replica (None: one params object for all)
        self.replica_params = replica_params(self.params, self.replicas, params_type, _PER_REPLICA)
        self._shared = self.params if self.replica_params is None else self.replica_params[0]
        if self.window is not None:
            check_quantity("window", self.window)
        check_schedule(self.schedule, self.window)
        check_type("connect", self.connect, dict, optional=True)
        check_connect(self.connect, self.replicas, len(self.pre) // self.replicas, len(self.post) // self.replicas)
        check_type("on_pre", self.on_pre, str)
        if self.delay is not None and not isinstance(self.delay, str):  # a string: a Brian2 expression
            check_quantity("delay", self.delay, bound=">= 0", scalar=False)
        if not isinstance(self.w0, str):  # a string: a Brian2 expression
            check_weights("w0", self.w0)
        check_type("name", self.name, str)
        check_type("normalization", self.normalization, RowNormalization, optional=True)
        if self.normalization is not None:
            check_group("post", self.post)
            self.normalization.check_post(self.post)

    def _window(self, purpose: str):
        from brian2 import second

        if self.window is not None:
            return self.window
        if self.schedule is not None:
            return self.schedule.window * second
        raise ValueError(f"{purpose} works once per window: give window= or a schedule")

    def _constants(self, p) -> dict:
        """The constants of ``p`` that may differ between replicas (`_pair_constants`)."""
        raise NotImplementedError

    def _build(self, equations: str, on_pre: str, on_post: str, namespace: dict):
        """The Synapses from pre to post with this rule's code and its connectivity, transmission,
        delay, initial weights, name, normalisation and replicas; the constants of `_constants`
        join ``namespace`` (one params object) or are per-synapse variables (params per replica)."""
        per_replica = self.replica_params is not None
        names = list(self._constants(self._shared))
        if per_replica:
            equations += "".join(f"\n{name} : 1 (constant)" for name in names)
        else:
            namespace = {**namespace, **self._constants(self.params)}
        syn = _synapses(
            self.pre,
            self.post,
            equations,
            on_pre=on_pre,
            on_post=on_post,
            namespace=namespace,
            connect=self.connect,
            transmission=self.on_pre,
            delay=self.delay,
            w0=self.w0,
            name=self.name,
            normalization=self.normalization,
            replicas=self.replicas,
        )
        if per_replica:
            n_pre, n_post = len(self.pre) // self.replicas, len(self.post) // self.replicas
            values = [self._constants(p) for p in self.replica_params]
            for name in names:
                setattr(syn, name, per_synapse([v[name] for v in values], self.connect, n_pre, n_post))
        return syn

    def _normalize(self) -> None:
        """Attach the normalisation, if any, with the rule's bounds (each synapse's own with params
        per replica)."""
        if self.normalization is not None:
            window = self._window("normalization")
            if self.replica_params is None:
                w_min, w_max = self.params.w_min, self.params.w_max
            else:
                w_min, w_max = "stdp_w_min", "stdp_w_max"
            self.normalization.attach(self.synapses, self.post, window, self.schedule, w_min, w_max)

    def weights(self) -> np.ndarray:
        """``w`` per synapse; with replicas ``(replicas, synapses per replica)``."""
        w = np.asarray(self.synapses.w[:], dtype=np.float64)
        return w if self.replicas == 1 else w.reshape(self.replicas, -1)

    def monitor_weights(self, dt, when: str = "end", name: str = "stdp_weights*") -> WeightMonitor:
        from brian2 import StateMonitor

        check_quantity("dt", dt)
        return WeightMonitor(StateMonitor(self.synapses, "w", record=True, dt=dt, when=when, name=name))

    def monitor_dopamine(self, name: str = "dopamine*"):
        return None

    def fitted_gate(self) -> None:
        return None


def _learning(schedule: Schedule | None) -> tuple[dict, str]:
    """Namespace and factor (``"stdp_learn(t) * "``, or nothing) of a plasticity schedule."""
    if schedule is None:
        return {}, ""
    return {"stdp_learn": schedule_table(schedule)}, "stdp_learn(t) * "


@dataclass(eq=False)  # no generated __eq__ over Brian2 groups and arrays
class STDPSynapses(_PairBased):
    """Pair-based additive STDP (`dassdp.rules.reference.STDPParams`) between ``pre`` and ``post``.

    ``pairing="all"``: traces add 1 per spike; ``"nearest"``: traces are reset to 1. At equal
    times the pre pathway runs first, and the post pathway adds ``same_step_correction`` when the
    pre neuron spiked in the same step, so a simultaneous pair counts as ``params.same_step`` says.
    With ``schedule`` (`dassdp.rules.reference.Schedule`) every weight change at time t is
    multiplied by ``schedule(t)``; the traces run regardless. ``normalization``
    (`dassdp.rules.brian2.normalization.RowNormalization`) normalises each post neuron's weights
    once per ``window`` (default: the schedule's window). ``replicas``: R independent copies
    (the module docstring); ``w0`` may then also be one row per replica ``(R, synapses per
    replica)`` or one replica's values ``(synapses per replica,)`` for all, and ``params`` a list
    or tuple of exactly R params objects, replica r using ``params[r]``: they may differ in
    ``a_plus``, ``a_minus``, ``w_min`` and ``w_max`` only (per-synapse constants then, the same-step
    correction of each replica's amplitudes included, and a normalisation clips each replica to
    its own bounds); every other field must be equal in all of them (ValueError naming it).
    """

    pre: Any
    post: Any
    params: STDPParams | Sequence[STDPParams] = STDPParams()
    schedule: Schedule | None = None
    connect: dict | None = None
    on_pre: str = ""
    delay: Any = None
    w0: Any = 0.5
    name: str = "stdp*"
    normalization: RowNormalization | None = None
    window: Any = None
    replicas: int = 1

    def __post_init__(self) -> None:

        self._check(STDPParams)
        p = self._shared
        bump = "= 1" if p.pairing == "nearest" else "+= 1"
        namespace, learn = _learning(self.schedule)
        potentiation = f"stdp_a_plus * apre + stdp_same_step * {_SAME_STEP}"
        self.synapses = self._build(
            _STDP,
            on_pre=f"apre {bump}\nw = clip(w + {learn}stdp_a_minus * apost, stdp_w_min, stdp_w_max)",
            on_post=f"apost {bump}\nw = clip(w + {learn}({potentiation}), stdp_w_min, stdp_w_max)",
            namespace={**_time_constants(p), **namespace},
        )
        self._normalize()
        self.objects = [self.synapses]

    def _constants(self, p: STDPParams) -> dict:
        return _pair_constants(p, same_step_correction(p.a_plus, p.a_minus, p.same_step))


@dataclass(eq=False)
class DASTDPSynapses(_PairBased):
    """Three-factor DA-STDP (Izhikevich 2007) with NEST ``stdp_dopamine_synapse`` semantics.

    The dopamine ``n`` is the ``DA`` variable of the post group, delivered every step by a
    `dassdp.models.dopamine.DopamineVolume` (use ``tau_DA = tau_n``, ``DA_tonic = 0`` and
    ``DA_phasic = 1 / tau_n`` in 1/s for NEST's convention); ``DA`` and ``b`` are read in 1/s.
    Each step, in the ``end`` slot, ``w`` gains NEST's exact integral of ``c (n - b)`` over the
    step and is clipped to ``[w_min, w_max]`` (NEST clips once per interval between events; the
    two differ only if a bound is crossed while ``n - b`` changes sign inside an interval).
    With ``schedule``, ``dw/dt = schedule(t) c (n - b)``. ``normalization``, ``window``,
    ``replicas``, ``w0`` and ``params`` (one per replica: they may differ in ``a_plus``,
    ``a_minus``, ``w_min`` and ``w_max`` only) as in `STDPSynapses`; with replicas the volume has
    one neuron per replica (``DopamineVolume(..., replicas=R)``), each delivering to its replica's
    post block.
    """

    pre: Any
    post: Any
    volume: Any
    params: DASTDPParams | Sequence[DASTDPParams] = DASTDPParams()
    schedule: Schedule | None = None
    connect: dict | None = None
    on_pre: str = ""
    delay: Any = None
    w0: Any = 0.0
    name: str = "dastdp*"
    normalization: RowNormalization | None = None
    window: Any = None
    replicas: int = 1

    def __post_init__(self) -> None:
        from brian2 import second

        from dassdp.models.dopamine import DopamineVolume

        self._check(DASTDPParams)
        check_type("volume", self.volume, DopamineVolume)
        if self.volume.replicas != self.replicas:
            raise ValueError(
                f"volume has {self.volume.replicas} neuron(s), one per replica, the rule replicas={self.replicas}"
            )
        if "DA" not in getattr(self.post, "variables", {}):
            raise ValueError(
                f"post ({getattr(self.post, 'name', self.post)!r}) has no variable DA to receive the dopamine: "
                "add 'DA : 1' to its equations"
            )
        p = self._shared
        dt = float(self.pre.clock.dt / second)
        tau_s = p.tau_c * p.tau_n / (p.tau_c + p.tau_n)
        namespace = {
            **_time_constants(p),
            "stdp_b": p.b,
            "stdp_k_n": -tau_s * np.expm1(-dt / tau_s),
            "stdp_k_c": -p.tau_c * np.expm1(-dt / p.tau_c),
            "stdp_decay_c": np.exp(-dt / p.tau_c),
        }
        schedule_namespace, learn = _learning(self.schedule)
        namespace.update(schedule_namespace)
        self.synapses = self._build(
            _STDP + "c : 1",
            on_pre="apre += 1\nc -= stdp_a_minus * apost",
            on_post=f"apost += 1\nc += stdp_a_plus * apre + stdp_same_step * {_SAME_STEP}",
            namespace=namespace,
        )
        self._normalize()
        self.synapses.run_regularly(
            f"w = clip(w + {learn}c * (DA_post * stdp_k_n - stdp_b * stdp_k_c), stdp_w_min, stdp_w_max)\n"
            "c = c * stdp_decay_c",
            when="end",
            order=0,
        )
        self.delivery = self.volume.deliver_to(self.post)
        self.objects = [self.synapses, self.delivery]

    def _constants(self, p: DASTDPParams) -> dict:
        return _pair_constants(p, same_step_correction(p.a_plus, -p.a_minus, p.same_step))

    def monitor_dopamine(self, name: str = "dopamine*"):
        """The volume's ``DA`` right after each window's release (``after_groups`` of the step that
        opens the next window): sample m + 1 is what window m released, as `BrianRule` says; row
        r is replica r."""
        from brian2 import StateMonitor

        window = self._window("the dopamine monitor")
        return StateMonitor(self.volume.group, "DA", record=True, dt=window, when="after_groups", name=name)
