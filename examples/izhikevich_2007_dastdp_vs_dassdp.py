"""
Distal reward: DA-STDP in the setting of Izhikevich (2007) beside DA-SSDP on the same input
============================================================================================

Izhikevich, E. M. (2007). Solving the distal reward problem through linkage of STDP and dopamine
signaling. Cerebral Cortex 17(10), 2443-2452. Its first experiment (Fig. 1): in a network of 1000
neurons, every time neuron n2 fires shortly after neuron n1 (within 20 ms in the paper's code), a
reward (a pulse of extracellular dopamine) follows with a random delay of 1-3 s. Only the synapse
n1 -> n2 is reliably active just before each reward, and only its eligibility trace ``c`` (time
constant 1 s) is reliably positive when the dopamine arrives, so over an hour of rewards that one
synapse grows to the maximum weight while the others do not.

Scaled down here: 200 Poisson inputs at 5 Hz onto one LIF neuron (instead of a recurrent network
of 1000 Izhikevich neurons); the rewarded synapse is input 0 -> the post neuron, rewarded when the
post neuron fires within 10 ms after input 0; all weights start at 1 (the paper: the rewarded one
at 0), and there is no tonic dopamine. The time scales of the reward are compressed tenfold:
``tau_c`` = 100 ms, ``tau_DA`` = 20 ms and delays of 100-300 ms (the paper: 1 s, 200 ms, 1-3 s).
The reward still comes 1-3 trace time constants after the pairing, while the other synapses keep
pairing, but the chance pairings that blur each eligibility trace last a tenth as long, so 200 s
of simulation show what took the paper an hour (with its time constants, 200 s were not enough
in our trials). Two copies of the post neuron receive the same input spikes:

- **DA-STDP** (`dassdp.rules.brian2.DASTDPSynapses`, NEST's ``stdp_dopamine_synapse``): eligibility
  trace per synapse, ``dw/dt = c * DA``; each reward adds ``1 / tau_DA`` to the dopamine ``DA``.
- **DA-SSDP** (`dassdp.rules.brian2.DASSDPSynapses`, Tian et al., arXiv 2512.07194): per 100 ms
  window, the synchrony of first-spike latencies, gated by ``g = clip(1 + k (S - mu) / s, 0, 2)``
  with ``k`` minus the correlation of the synchrony ``S`` and the loss ``L`` over a warm-up. Its
  loss is the same reward signal: ``L`` of a window is minus the rewards that arrived in it (its
  copy of the post neuron earns its own rewards, by the same rule, with the same delays).

DA-SSDP has no trace that outlives its window, and rewards arrive 1-3 windows after the pairing
that earned them: it changes weights by synchrony, scaled by its gate, without singling out
input 0. Measured (200 s, random seeds 1, 2, 3 and 2007): DA-STDP's rewarded weight reaches
``w_max``, the largest of the 200, after 76-103 rewards, while the median of the others falls to
0.3-0.5; DA-SSDP's rewarded weight ranks between 2nd and 39th of 200, within 0.1 of the others'
median (which rises from 1 to 1.3-1.5), with ``k`` between -0.09 and +0.12.

Figure (``izhikevich_2007_dastdp_vs_dassdp.png``), one column per rule: the last 2 s of input
(first 40 inputs, input 0 in red), post spikes and rewards; the dopamine (DA-STDP: ``DA`` in 1/s;
DA-SSDP: the gate ``g`` per window, with the loss ``L``); the rewarded weight against the median
and 5-95 % range of the other 199 weights over time; the final weight histogram.

Runs in about 1.5 minutes on one CPU core (numpy target; the reward schedule is a Python
``network_operation``, so runtime targets only); ``DASSDP_EXAMPLE_QUICK=1`` simulates 6 s (about
10 s). Output: ``--out DIR`` or ``DASSDP_EXAMPLE_OUT`` (default: the current directory).
"""

import argparse
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from brian2 import (
    Hz,
    Network,
    NeuronGroup,
    SpikeMonitor,
    StateMonitor,
    Synapses,
    defaultclock,
    ms,
    mV,
    network_operation,
    prefs,
    second,
    seed,
)

from dassdp.models import current_lif
from dassdp.models.dopamine import DopamineVolume
from dassdp.rules.brian2 import DASSDPSynapses, DASTDPSynapses, neuron_variables
from dassdp.rules.reference import A_BASE, A_PLUS, DASSDPParams, DASTDPParams

parser = argparse.ArgumentParser(description="DA-STDP (Izhikevich 2007) beside DA-SSDP on the same input")
parser.add_argument(
    "--out",
    type=Path,
    default=Path(os.environ.get("DASSDP_EXAMPLE_OUT", ".")),
    help="directory of the figure (default: $DASSDP_EXAMPLE_OUT or the current directory)",
)
args = parser.parse_args()
QUICK = os.environ.get("DASSDP_EXAMPLE_QUICK", "0") != "0"

# ---- parameters -------------------------------------------------------------------------------
duration = (6 if QUICK else 200) * second
time_step = 1 * ms
n_inputs = 200
input_rate = 5 * Hz
J = 1 * mV  # jump of the synaptic current I_syn per unit weight
I_background = 15 * mV  # constant drive that keeps the post neuron near threshold
w_init, w_max = 1.0, 4.0  # weights in units of J (Izhikevich: 1 mV initially, at most 4 mV)
rewarded = 0  # the input whose causal pairing with the post neuron is rewarded
pairing_window = 10 * ms  # reward when the post neuron fires within this time after input 0
# the reward's time scales, compressed tenfold from the paper's tau_c = 1 s, tau_DA = 200 ms and
# delays of 1-3 s
tau_c, tau_DA = 100 * ms, 20 * ms
reward_delay = (100 * ms, 300 * ms)  # uniform random delay of each reward
# DA-STDP: tau_+ = tau_- = 20 ms, A_- = 1.5 A_+ (Izhikevich 2007)
tau_stdp = 20 * ms
a_plus = 0.5
# DA-SSDP: windows of 100 ms, warm-up of 50 windows, kernel width 5 ms, the published amplitudes
# times amplitude_scale, the same weight bounds as DA-STDP
window = 100 * ms
warmup = 10 if QUICK else 50
sigma = 5 * ms
amplitude_scale = 3.0
random_seed = 1

prefs.codegen.target = "numpy"
defaultclock.dt = time_step
seed(random_seed)
rng = np.random.default_rng(random_seed)

# ---- network ----------------------------------------------------------------------------------
inputs = NeuronGroup(n_inputs, neuron_variables("pre"), threshold="rand() < input_rate * dt", reset="")
lif = current_lif()
post_stdp = lif.group(1, extra="DA : 1\nlast_input : second", name="post_dastdp")
post_ssdp = lif.group(1, extra=neuron_variables("post") + "last_input : second", name="post_dassdp")
posts = (post_stdp, post_ssdp)
# per post neuron, a one-neuron group that spikes when a reward is due (the schedule sets `due`)
rewards = {
    post.name: NeuronGroup(1, "due : 1", threshold="due > 0.5", reset="due = 0", name=post.name + "_reward")
    for post in posts
}
objects = [inputs, *posts, *rewards.values()]
for post in posts:
    post.I_ext = I_background
    # the time of the post neuron's last spike of input 0, for the pairing test
    tag = Synapses(inputs, post, on_pre="last_input_post = t", name=post.name + "_tag")
    tag.connect(i=rewarded, j=0)
    objects.append(tag)

# DA-STDP: each reward is a dopaminergic spike into the volume (+1/tau_DA, NEST's convention)
volume = DopamineVolume(tau_DA=tau_DA, DA_tonic=0.0, DA_phasic=1 / float(tau_DA / second))
volume.phasic_input(rewards[post_stdp.name])
dastdp = DASTDPSynapses(
    inputs,
    post_stdp,
    volume,
    params=DASTDPParams(
        tau_c=float(tau_c / second),
        tau_n=float(tau_DA / second),
        tau_plus=float(tau_stdp / second),
        tau_minus=float(tau_stdp / second),
        a_plus=a_plus,
        a_minus=1.5 * a_plus,
        w_max=w_max,
    ),
    on_pre="I_syn_post += w * J",
    w0=w_init,
)


class RewardLoss:
    """A `dassdp.rules.brian2.WindowLoss`: ``L`` of a window is minus the rewards that arrived in it.

    The DA-SSDP volume counts the spikes of ``source`` in ``rewards``; after each window end
    (``groups`` slot) the count is copied to ``rewards_before``, so at the next window end
    ``rewards_before - rewards`` is minus the rewards of the window that just ended."""

    volume_equations = "rewards : 1\nrewards_before : 1"

    def __init__(self, source):
        self.source = source

    def expression(self):
        return "rewards_before - rewards"

    def namespace(self, window):
        return {}

    def objects(self, volume, window, latency):
        count = Synapses(self.source, volume, on_pre="rewards_post += 1", name=volume.name + "_rewards")
        count.connect()
        volume.run_regularly("rewards_before = rewards", dt=window, when="after_groups")
        return [count]


dassdp = DASSDPSynapses(
    inputs,
    post_ssdp,
    window,
    DASSDPParams(
        sigma=float(sigma / time_step),
        a_plus=amplitude_scale * A_PLUS,
        a_base=amplitude_scale * A_BASE,
        w_min=0.0,
        w_max=w_max,
    ),
    warmup=warmup,
    loss=RewardLoss(rewards[post_ssdp.name]),
    on_pre="I_syn_post += w * J",
    w0=w_init,
)

# The reward schedule: a post spike in the last step within 10 ms after a spike of input 0 earns
# a reward after a random delay; a reward group spikes in the step its reward is due.
pending = {post.name: [] for post in posts}


@network_operation(when="before_thresholds")
def schedule_rewards(t):
    now, step = float(t / second), float(time_step / second)
    for post in posts:
        last_spike, last_input = float(post.lastspike[0] / second), float(post.last_input[0] / second)
        if abs(last_spike - (now - step)) < step / 2 and 0 < last_spike - last_input <= float(pairing_window / second):
            pending[post.name].append(last_spike + rng.uniform(*(float(d / second) for d in reward_delay)))
        due = [r for r in pending[post.name] if r <= now + step / 2]
        if due:
            pending[post.name] = [r for r in pending[post.name] if r > now + step / 2]
            rewards[post.name].due = 1


input_spikes = SpikeMonitor(inputs)
post_spikes = {post.name: SpikeMonitor(post) for post in posts}
reward_spikes = {name: SpikeMonitor(reward) for name, reward in rewards.items()}
weights_stdp = dastdp.monitor_weights(1 * second)
weights_ssdp = dassdp.monitor_weights(1 * second)
dopamine = StateMonitor(volume.group, "DA", record=0, dt=5 * ms)
gate = dassdp.monitor(("S", "L", "DA", "k"))
net = Network(
    *objects,
    *volume.objects,
    *dastdp.objects,
    *dassdp.objects,
    schedule_rewards,
    input_spikes,
    *post_spikes.values(),
    *reward_spikes.values(),
    *weights_stdp.objects,
    *weights_ssdp.objects,
    dopamine,
    gate,
)
net.run(dassdp.duration(int(round(float(duration / window)))))  # one step more, where the last window ends
t_end = float(duration / second)

# ---- what happened ----------------------------------------------------------------------------
w_stdp, w_ssdp = weights_stdp.w, weights_ssdp.w  # [synapse, sample at 0, 1, 2, ... s]
order_stdp = np.asarray(dastdp.synapses.i[:])
order_ssdp = np.asarray(dassdp.synapses.i[:])
fitted = dassdp.fitted_gate()
for label, w, order, name in (
    ("DA-STDP", w_stdp, order_stdp, post_stdp.name),
    ("DA-SSDP", w_ssdp, order_ssdp, post_ssdp.name),
):
    final = w[:, -1]
    own = final[order == rewarded][0]
    rank = int((final > own).sum()) + 1
    print(
        f"{label}: {reward_spikes[name].num_spikes} rewards, post rate "
        f"{post_spikes[name].num_spikes / float(duration / second):.1f} Hz, rewarded weight {own:.2f} "
        f"(rank {rank} of {n_inputs}), others {np.median(final[order != rewarded]):.2f} median"
    )
print(f"DA-SSDP fitted gate: k = {fitted.k:+.3f}, mu = {fitted.mu:.4f}, s = {fitted.s:.4f}")

# ---- figure -----------------------------------------------------------------------------------
fig, axes = plt.subplots(4, 2, figsize=(12, 11), gridspec_kw={"height_ratios": [1.3, 1, 1.2, 1]})
t_show = (max(0.0, t_end - 2.0), t_end)
for col, (label, post, w, order) in enumerate(
    (("DA-STDP", post_stdp, w_stdp, order_stdp), ("DA-SSDP", post_ssdp, w_ssdp, order_ssdp))
):
    ax = axes[0, col]
    t_in, i_in = np.asarray(input_spikes.t / second), np.asarray(input_spikes.i[:])
    shown = (i_in < 40) & (t_in >= t_show[0])
    colors = np.where(i_in[shown] == rewarded, "tab:red", "0.3")
    ax.scatter(t_in[shown], i_in[shown], s=4, c=colors, marker="|")
    t_post = np.asarray(post_spikes[post.name].t / second)
    ax.vlines(t_post[t_post >= t_show[0]], 42, 46, color="tab:blue", label="post spikes")
    t_rew = np.asarray(reward_spikes[post.name].t / second)
    ax.vlines(t_rew[t_rew >= t_show[0]], 47, 51, color="tab:green", lw=2, label="rewards")
    ax.set(
        xlim=t_show,
        ylim=(-1, 60),
        xlabel="time (s)",
        ylabel="input index",
        title=f"{label}: last 2 s of input 0-39 (input 0 red)",
    )
    ax.legend(loc="upper right", fontsize=8, ncol=2)

    ax = axes[1, col]
    if label == "DA-STDP":
        ax.plot(np.asarray(dopamine.t / second), dopamine.DA[0], color="tab:purple", lw=0.8)
        ax.set(ylabel="dopamine DA (1/s)", title="DA-STDP: dopamine (each reward adds 1/tau_DA)")
    else:
        t_win = np.asarray(gate.t / second)[1:]  # sample m + 1: window m's values
        ax.plot(t_win, gate.DA[0][1:], color="tab:purple", lw=0.8, label="gate g (dopamine)")
        ax.plot(t_win, gate.L[0][1:], color="tab:orange", lw=0.8, alpha=0.7, label="loss L = -rewards")
        ax.axvspan(0, warmup * float(window / second), color="0.9", label="warm-up")
        ax.set(
            ylabel="gate g, loss L (1)",
            title=f"DA-SSDP: gate per {window / ms:.0f} ms window; fitted k = {fitted.k:+.3f}",
        )
        ax.legend(loc="lower right", fontsize=8, ncol=3)
    ax.set(xlabel="time (s)", xlim=(0, t_end))

    ax = axes[2, col]
    t_w = np.arange(w.shape[1])  # one sample per second
    others = w[order != rewarded]
    ax.fill_between(
        t_w,
        np.percentile(others, 5, axis=0),
        np.percentile(others, 95, axis=0),
        color="0.85",
        label="other weights, 5-95 %",
    )
    ax.plot(t_w, np.median(others, axis=0), color="0.3", label="other weights, median")
    ax.plot(t_w, w[order == rewarded][0], color="tab:red", lw=2, label="rewarded weight (input 0)")
    ax.set(
        xlabel="time (s)",
        ylabel=f"weight (units of J = {J / mV:.0f} mV)",
        ylim=(-0.1, w_max + 0.3),
        title=f"{label}: weights over time",
    )
    ax.legend(loc="upper left", fontsize=8)

    ax = axes[3, col]
    final = w[:, -1]
    ax.hist(final[order != rewarded], bins=np.linspace(0, w_max, 41), color="0.5")
    ax.axvline(final[order == rewarded][0], color="tab:red", lw=2, label="rewarded weight")
    ax.set(xlabel=f"final weight (units of J = {J / mV:.0f} mV)", ylabel="synapses", title=f"{label}: final weights")
    ax.legend(fontsize=8)
fig.suptitle(f"Reward 100-300 ms after input 0 -> post pairings (Izhikevich 2007), {t_end:.0f} s simulated")
fig.tight_layout()
args.out.mkdir(parents=True, exist_ok=True)
path = args.out / "izhikevich_2007_dastdp_vs_dassdp.png"
fig.savefig(path, dpi=110)
print(f"figure written to {path}")
