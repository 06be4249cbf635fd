"""Per-window bookkeeping on Brian2 groups: fired flags, latencies and spike counts.

DA-SSDP needs, for every neuron and window, whether it fired and its first (or last) spike
latency. These live on the pre- and post-synaptic groups themselves (the rule's *neuron-side
variables*), because Synapses can only read variables of their own source and target. A rule
adds the tracking to existing groups (a ``run_regularly`` and a one-to-one spike tracker), so a
user only has to declare the variables (``extra=neuron_variables("pre")`` in our templates, or the
same lines in their own equations).

Schedule within the step that opens a window (`dassdp.rules.brian2.ssdp`): the rule reads the flags of the window
that just ended in the ``synapses`` slot (order -20), the flags are then cleared (order -10), and
spikes of the new step are tracked at order 20, so they count for the new window.
"""

from __future__ import annotations

import functools
from typing import Literal

import numpy as np

from dassdp.checks import check_choice
from dassdp.models.dopamine import set_pathway_order
from dassdp.rules.brian2.checks import check_schedule

ORDER_UPDATE = -20
ORDER_CLEAR = -10
ORDER_COUNT_INPUTS = 10
ORDER_TRACK = 20

_WINDOW = """
ssdp_fired : 1
ssdp_lat : second
ssdp_window_start : second (shared)
"""
_POST = """
ssdp_n_inputs_fired : 1
ssdp_n_inputs : 1
ssdp_apply : 1
ssdp_share : 1
ssdp_share_increment : 1
ssdp_update_factor : 1
ssdp_post_latency : second
DA : 1
"""
_READOUT = """
ssdp_count : 1
ssdp_logit : 1
"""

Role = Literal["pre", "post", "readout"]
ROLES = ("pre", "post", "readout")


def neuron_variables(role: Role, *more: Role) -> str:
    """Equation lines a group needs to take part in DA-SSDP in ``role`` (and in each of ``more``:
    the union of their lines, each once, e.g. ``neuron_variables("post", "readout")``).

    ``pre``: fired flag, latency and window start. ``post``: the same, plus the count of
    connected pre-synaptic neurons that fired (``ssdp_n_inputs_fired``), the number of incoming
    synapses (``ssdp_n_inputs``), the dopamine variable ``DA`` that carries the gate, the update
    flag ``ssdp_apply``, and the post neuron's share of every weight (``ssdp_share``, with its last
    increment ``ssdp_share_increment``, and the factor ``ssdp_update_factor`` and latency
    ``ssdp_post_latency`` of the window-end pass; see `dassdp.rules.brian2.ssdp`). ``readout``: the
    spike count per window (and the summed input ``ssdp_logit`` of `losses.ReadoutLoss`). The
    ``post`` lines include the ``pre`` ones: a group that is both (a recurrent projection, or a
    hidden layer) needs ``neuron_variables("post")`` only.
    """
    lines = {"pre": _WINDOW, "post": _WINDOW + _POST, "readout": _READOUT}
    out: list[str] = []
    for r in (role, *more):
        if not isinstance(r, str):
            raise TypeError(f"role must be one of {ROLES}, got {type(r).__name__} {r!r}")
        check_choice("role", r, ROLES)
        out += [line for line in lines[r].splitlines() if line.strip() and line not in out]
    return "\n" + "\n".join(out) + "\n"


def merge_equations(*parts: str) -> str:
    """Equation strings joined, each line once: lines repeated verbatim (e.g. from
    ``neuron_variables("pre") + neuron_variables("post")``) declare the same variable and are
    kept once, where Brian2 would reject the duplicate definition. Other conflicts stay for Brian2
    to report."""
    seen: set[str] = set()
    out = []
    for part in parts:
        for line in part.splitlines():
            key = line.strip()
            if key and not key.startswith("#") and key in seen:
                continue
            seen.add(key)
            out.append(line)
    return "\n".join(out)


@functools.cache
def _limited_clock():
    """The Clock class of `window_values_guard` (defined on first use: Brian2 loads lazily)."""
    from brian2 import Clock

    class WindowValuesClock(Clock):
        """A clock of period ``window`` that refuses a run reading past the last per-window value."""

        # Brian2 routes attribute writes of a group through its variables unless the attribute is
        # in the object's own class: the clock's properties are declared again here
        dt = Clock.dt
        dt_ = Clock.dt_

        def __init__(self, dt, n_values: int, what: str, name: str) -> None:
            self._dassdp_limit = (n_values, what)  # before Brian2 locks the attributes
            super().__init__(dt=dt, name=name)

        def set_interval(self, start, end) -> None:
            super().set_interval(start, end)
            n_values, what = self._dassdp_limit
            needed = int(self._i_end) - 1  # window ends k = 1 .. i_end - 1 read value k - 1
            if needed > n_values:
                raise ValueError(
                    f"{what} has {n_values} values, one per window, but this run ends {needed} windows "
                    f"(it needs {needed} values; Brian2 would silently repeat the last one): give one value "
                    "per window of the run, or run fewer windows"
                )

    return WindowValuesClock


def window_values_guard(what: str, n_values: int, window, name: str = "window_values_guard*"):
    """A Brian2 object (add it to the Network) that makes ``Network.run`` raise a ValueError
    naming ``what`` before anything runs, if the run reaches past the last of ``n_values``
    per-window values (a `TimedArray` over windows read at each window end, which would hold its
    last value). It has no code; its clock, of period ``window``, checks the run's end when the
    network sets it (on every target: standalone devices set clocks when they record the run)."""
    from brian2 import BrianObject

    clock = _limited_clock()(window, int(n_values), what, name=name.replace("*", "") + "_clock*")
    return BrianObject(clock=clock, name=name)


def schedule_table(schedule, window=None):
    """A `TimedArray` of a `dassdp.rules.reference.Schedule` (one value per window), checking that
    its window equals ``window`` (a Brian2 duration) where the rule has one."""
    from brian2 import TimedArray, second

    check_schedule(schedule, window, optional=False)
    return TimedArray(schedule.values, dt=schedule.window * second)


def window_end_event(group, window) -> str:
    """Add (once) a custom event to ``group`` that its neurons which fired emit when a window ends.

    The event is checked in the ``after_thresholds`` slot of the step that opens the next window,
    before the flags are cleared (``synapses`` slot, order -10), so a Synapses pathway
    ``on_event={..: name}`` visits exactly the synapses of the neurons that fired in the window
    that just ended. Brian2 takes events as a constructor argument only; this adds one to an
    existing NeuronGroup the way its constructor does (event space, thresholder). The thresholder
    runs on a clock of period ``window`` (its ``clock``), not in every step: a pathway of the
    event must use the same clock (`on_window_clock`), or it would see the same events again in
    every step until the next window end. Returns the event's name, which encodes the window
    length so rules with equal windows share it.
    """
    from brian2 import Clock, NeuronGroup, second
    from brian2.groups.neurongroup import Thresholder

    if not isinstance(group, NeuronGroup):
        raise TypeError(f"{getattr(group, 'name', group)!r} must be a NeuronGroup to carry the window-end event")
    dt = float(group.clock.dt / second)
    steps = int(round(float(window / second) / dt))
    name = f"ssdp_window_end{steps}"
    if name not in group.events:
        # the clear at order -10 has not run yet: t - ssdp_window_start is the window length
        group.events[name] = f"t - ssdp_window_start > {(steps - 0.5) * dt!r}*second and ssdp_fired > 0.5"
        group.variables.add_array(f"_{name}space", size=group.N + 1, dtype=np.int32, constant=False)
        thresholder = Thresholder(group, event=name, when="after_thresholds")
        on_window_clock(thresholder, Clock(dt=window, name=f"{group.name}_{name}_clock*"))
        group.thresholder[name] = thresholder
        group.contained_objects.append(thresholder)
    return name


def on_window_clock(runner, clock) -> None:
    """Run a Brian2 ``CodeRunner`` (a thresholder, a synaptic pathway) on ``clock`` instead of its
    group's. Brian2 fixes these clocks at construction, so this sets the attribute it reads."""
    runner._clock = clock


def require_variables(group, role: Role, parameter: str) -> None:
    """Raise a ValueError naming ``parameter`` if ``group`` lacks the variables of ``role``."""
    needed = [line.split(":")[0].strip() for line in neuron_variables(role).splitlines() if line.strip()]
    missing = [name for name in needed if name not in getattr(group, "variables", {})]
    if missing:
        raise ValueError(
            f"{parameter} ({getattr(group, 'name', group)!r}) lacks the DA-SSDP variables {missing}: "
            f"build it with extra=neuron_variables({role!r}) (or wrap a spike source with "
            f"dassdp.models.relay.relay(source, extra=neuron_variables({role!r})))"
        )


def track_windows(group, window, latency: Literal["first", "last"], role: Role) -> list:
    """Attach window-start clearing to ``group`` and return the spike tracker to add to a Network.

    Spikes are tracked by a one-to-one Synapses from the group onto itself (a group with a reset
    cannot take more ``run_on_event`` code for its spikes), in the ``synapses`` slot at order 20:
    after the flags were read (-20) and cleared (-10), and after ``ssdp_count_inputs`` (10) has seen
    whether a spike is the first of its window.
    """
    from brian2 import Synapses

    if role == "readout":
        on_spike = "ssdp_count_post += 1"
        clear = "ssdp_count = 0"
    else:
        lat = "t - ssdp_window_start_post"
        if latency == "first":
            lat = f"ssdp_fired_post * ssdp_lat_post + (1 - ssdp_fired_post) * ({lat})"
        on_spike = f"ssdp_lat_post = {lat}\nssdp_fired_post = 1"
        clear = "ssdp_window_start = t\nssdp_fired = 0\nssdp_lat = 0*second" + (
            "\nssdp_n_inputs_fired = 0" if role == "post" else ""
        )
    group.run_regularly(clear, dt=window, when="synapses", order=ORDER_CLEAR)
    tracker = Synapses(group, group, on_pre=on_spike, name=group.name + "_tracker*")
    tracker.connect(j="i")
    set_pathway_order(tracker, ORDER_TRACK)
    return [tracker]
