"""A small DA-SSDP network in Brian2 (``dassdp network-demo`` prints what it learnt).

Fifty Poisson inputs (drawn with NumPy, replayed by a SpikeGeneratorGroup and relayed so they
can carry window flags) drive two current-based LIF
readout neurons through DA-SSDP synapses. Each 25 ms window shows one of two input patterns (half
of the inputs at a high rate); the window's label is the pattern, and the in-network loss is the
cross-entropy of the readout's spike counts. With the published amplitudes
(A_plus = 1.5e-3, A_base = 5e-4) and after a warm-up of 40 windows the gate is fitted
(``k`` = minus the correlation of synchrony and loss) and DA-SSDP updates the weights at every
window end, scaled by the dopamine-borne gate.
"""

from __future__ import annotations

import numpy as np

N_INPUT, N_READOUT = 50, 2
DT_MS, WINDOW_MS = 0.5, 25


def input_spikes(labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Poisson-like input drawn with NumPy (Bernoulli per 0.5 ms step): half of the inputs at
    40 Hz and the other half at 5 Hz, the halves swapping with the label. Returns (indices, steps).
    """
    steps = int(WINDOW_MS / DT_MS)
    high = (np.arange(N_INPUT) < N_INPUT // 2)[None, :] == (labels[:, None] == 0)
    rate = np.repeat(np.where(high, 40.0, 5.0), steps, axis=0)  # [time step, input]
    step, idx = np.nonzero(rng.random(rate.shape) < rate * DT_MS * 1e-3)
    return idx, step


def simulate(target: str, n_windows: int, warmup: int, seed: int, directory: str | None = None) -> dict:
    """Build and run the demo network; return the fitted gate, per-window series, weights and
    the readout spikes. The input is drawn with NumPy, so every target sees the same spikes."""
    from brian2 import Network, SpikeGeneratorGroup, SpikeMonitor, defaultclock, ms

    from dassdp.models.neurons import current_lif
    from dassdp.models.relay import relay
    from dassdp.models.targets import use_target
    from dassdp.rules.brian2 import DASSDPSynapses, SpikeCountLoss, neuron_variables
    from dassdp.rules.reference import DASSDPParams

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, N_READOUT, size=n_windows)
    idx, step = input_spikes(labels, rng)
    w0 = rng.uniform(0.5, 1.5, size=(N_READOUT, N_INPUT))
    with use_target(target, directory):
        defaultclock.dt = DT_MS * ms
        source = SpikeGeneratorGroup(N_INPUT, idx, step * DT_MS * ms)
        inputs, relay_objects = relay(source, extra=neuron_variables("pre"))
        readout = current_lif(tau_m=10 * ms).group(
            N_READOUT, extra=neuron_variables("post") + neuron_variables("readout"), name="readout"
        )
        rule = DASSDPSynapses(
            inputs, readout, WINDOW_MS * ms, DASSDPParams(sigma=2 / DT_MS), warmup=warmup,
            loss=SpikeCountLoss(readout, labels), on_pre="I_syn_post += w * 5*mV", w0=w0,
        )
        monitor = rule.monitor(("S", "L", "DA"))
        spikes = SpikeMonitor(readout)
        net = Network(source, *relay_objects, readout, *rule.objects, monitor, spikes)
        net.run(rule.duration(n_windows))
        return {
            "gate": rule.fitted_gate(),
            "S": np.array(monitor.S[0][1:]),
            "L": np.array(monitor.L[0][1:]),
            "DA": np.array(monitor.DA[0][1:]),
            "w0": w0,
            "w": rule.weight_matrix(),
            "spike_i": np.array(spikes.i[:]),
            "spike_t": np.array(spikes.t[:]),
        }
