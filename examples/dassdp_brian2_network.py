"""
A DA-SSDP network in Brian2, window by window
=============================================

Tian, Tensingh, Eshraghian, Truong & Kavehei, "DA-SSDP: dopamine-modulated spike-synchrony-
dependent plasticity", arXiv 2512.07194. Each sample is presented for one window; at the window
end, every synapse from pre neuron ``i`` to post neuron ``j`` changes by

    ``dw = clip(g * K(t_j - t_i) * ((A_plus + A_base) f_i f_j - A_base), -c, c)``

with ``f`` whether a neuron fired in the window, ``t`` its first-spike latency and
``K(d) = exp(-d^2 / (2 sigma^2))``. The gate ``g = clip(1 + k (S - mu) / s, 0, 2)`` is delivered as
dopamine: ``S`` is the window's synchrony (the fraction of synapses whose two neurons both fired),
and ``k`` (minus the correlation of ``S`` with the loss ``L``), ``mu`` and ``s`` are fitted once,
after a warm-up with no updates. Here everything runs as Brian2 code
(`dassdp.rules.brian2.DASSDPSynapses`), the loss included: the cross-entropy of the readout
neurons' spike counts against the window's class (`dassdp.rules.brian2.SpikeCountLoss`).

The network: 60 Poisson inputs in three groups of 20; in each 25 ms window one class is shown and
its group fires at 40 Hz, the others at 5 Hz (rates from a `TimedArray`, spikes drawn by the
inputs' threshold). Three current-based LIF readouts, one per class, receive all inputs through
DA-SSDP synapses (the published amplitudes times ``amplitude_scale``).

What it shows (seed 3): the fitted ``k`` is small (+0.08), so the gate stays between 0.8 and 1.2,
and DA-SSDP acts almost as plain SSDP. Its update is not specific to the class: a readout that
fires in a window gains weight from every input whose first spike came close to its own
(``A_plus K``), and in a window where it stays silent it loses ``A_base`` from every input that
stayed silent too (both latencies are the window length, so ``K = 1``). The weights follow each
readout's activity, rich get richer: the most active readout grows from all three input groups, the least active one
shrinks, and the readout with the most spikes names the class hardly above chance (38 % of the
last 100 windows, chance 33 %). DA-SSDP needs its gate and a task signal to do more; the
continual-learning studies (``dassdp run``) test that.

Figure (``dassdp_brian2_network.png``, drawn by `dassdp.runs.network_demo.plot_windows`, which
``dassdp network-demo`` draws its own network with): the input and readout spikes of the first
and the last windows with their classes; ``S`` and ``L`` per window; the gate (the dopamine each
readout receives) per window; the mean weight of each readout from each input group after every
window; the weight change over the run.

Runs in about 10 s on one CPU core (numpy target, 600 windows); ``DASSDP_EXAMPLE_QUICK=1`` runs
80 windows (about 5 s). Output: ``--out DIR`` or ``DASSDP_EXAMPLE_OUT`` (default: the current
directory).
"""

import argparse
import os
from pathlib import Path

import numpy as np
from brian2 import Hz, Network, NeuronGroup, SpikeMonitor, TimedArray, defaultclock, ms, mV, prefs, second, seed

from dassdp.models import current_lif
from dassdp.rules.brian2 import DASSDPSynapses, SpikeCountLoss, neuron_variables
from dassdp.rules.reference import A_BASE, A_PLUS, DASSDPParams
from dassdp.runs.network_demo import plot_windows

parser = argparse.ArgumentParser(description="A DA-SSDP network in Brian2, window by window")
parser.add_argument(
    "--out",
    type=Path,
    default=Path(os.environ.get("DASSDP_EXAMPLE_OUT", ".")),
    help="directory of the figure (default: $DASSDP_EXAMPLE_OUT or the current directory)",
)
args = parser.parse_args()
QUICK = os.environ.get("DASSDP_EXAMPLE_QUICK", "0") != "0"

# ---- parameters -------------------------------------------------------------------------------
n_classes = 3
group_size = 20  # inputs per class
high_rate, low_rate = 40 * Hz, 5 * Hz
time_step = 0.5 * ms
window = 25 * ms  # one class per window
n_windows = 80 if QUICK else 600
warmup = 30 if QUICK else 60  # windows before the gate is fitted
tau_m = 10 * ms  # readout membrane time constant
J = 5 * mV  # jump of the synaptic current I_syn per unit weight
sigma = 2 * ms  # width of the latency kernel K
amplitude_scale = 10.0  # x the published A_plus = 1.5e-3 and A_base = 5e-4
random_seed = 3

prefs.codegen.target = "numpy"
defaultclock.dt = time_step
seed(random_seed)
rng = np.random.default_rng(random_seed)
n_inputs = n_classes * group_size

# ---- network ----------------------------------------------------------------------------------
labels = rng.integers(0, n_classes, size=n_windows)
group = np.arange(n_inputs) // group_size
shown = group[None, :] == labels[:, None]  # [window, input]: the inputs of the window's class
rates = TimedArray(np.where(shown, float(high_rate / Hz), float(low_rate / Hz)) * Hz, dt=window)
inputs = NeuronGroup(n_inputs, neuron_variables("pre"), threshold="rand() < rates(t, i) * dt", reset="")
readout = current_lif(tau_m=tau_m).group(n_classes, extra=neuron_variables("post") + neuron_variables("readout"))
rule = DASSDPSynapses(
    inputs,
    readout,
    window,
    DASSDPParams(sigma=float(sigma / time_step), a_plus=amplitude_scale * A_PLUS, a_base=amplitude_scale * A_BASE),
    warmup=warmup,
    loss=SpikeCountLoss(readout, labels),
    on_pre="I_syn_post += w * J",
    w0=rng.uniform(0.5, 1.5, size=(n_classes, n_inputs)),
)
per_window = rule.monitor(("S", "L", "DA"))  # sample m + 1 holds window m
weights = rule.monitor_weights(window)  # sample m: the weights after window m - 1
input_spikes, readout_spikes = SpikeMonitor(inputs), SpikeMonitor(readout)
net = Network(inputs, readout, *rule.objects, per_window, *weights.objects, input_spikes, readout_spikes)
net.run(rule.duration(n_windows))  # one step more, in which the last window ends

# ---- what it learnt ---------------------------------------------------------------------------
gate = rule.fitted_gate()
w = weights.w[:, : n_windows + 1]  # [synapse, sample]
matrix = np.zeros((n_windows + 1, n_classes, n_inputs))
matrix[:, rule.synapses.j[:], rule.synapses.i[:]] = w.T
own = np.array(
    [
        [matrix[m, c, group == c].mean() - matrix[m, c, group != c].mean() for c in range(n_classes)]
        for m in (0, n_windows)
    ]
)
counts = np.zeros((n_windows, n_classes))
np.add.at(
    counts,
    (
        (np.asarray(readout_spikes.t / second) // float(window / second)).astype(int).clip(0, n_windows - 1),
        np.asarray(readout_spikes.i[:]),
    ),
    1,
)
late = slice(max(warmup, n_windows - 100), n_windows)
print(f"fitted gate: k = {gate.k:+.3f}, mu = {gate.mu:.3f}, s = {gate.s:.3f}")
print(f"mean gate after warm-up {per_window.DA[0][warmup + 1 :].mean():.3f}; mean S {per_window.S[0][1:].mean():.3f}")
print(
    "weight from a readout's own class minus from the others, per readout: before "
    + " ".join(f"{v:+.3f}" for v in own[0])
    + ", after "
    + " ".join(f"{v:+.3f}" for v in own[1])
)
print(
    f"readout with most spikes = class in {np.mean(counts[late].argmax(1) == labels[late]):.0%} of the last "
    f"{late.stop - late.start} windows (chance {1 / n_classes:.0%})"
)

run = {
    "window_ms": float(window / ms),
    "warmup": warmup,
    "labels": labels,
    "input_i": np.asarray(input_spikes.i[:]),
    "input_t": np.asarray(input_spikes.t / second),
    "readout_i": np.asarray(readout_spikes.i[:]),
    "readout_t": np.asarray(readout_spikes.t / second),
    "S": np.asarray(per_window.S[0][1:]),
    "L": np.asarray(per_window.L[0][1:]),
    "DA": np.asarray(per_window.DA[0][1:]),
    "gate": gate,
    "weights": matrix,
    "input_groups": {f"class {c} inputs": np.flatnonzero(group == c) for c in range(n_classes)},
}
path = plot_windows(
    run,
    args.out / "dassdp_brian2_network.png",
    f"DA-SSDP in Brian2: {n_inputs} Poisson inputs (3 classes) -> {n_classes} LIF readouts, "
    f"{n_windows} windows of {window / ms:.0f} ms",
)
print(f"figure written to {path}")
