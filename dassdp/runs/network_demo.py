"""A small DA-SSDP network in Brian2 (``dassdp network-demo`` prints what it learnt and draws it).

Fifty Poisson inputs (drawn with NumPy, replayed by a SpikeGeneratorGroup and relayed so they
can carry window flags) drive two current-based LIF
readout neurons through DA-SSDP synapses. Each 25 ms window shows one of two input patterns (half
of the inputs at a high rate); the window's label is the pattern, and the in-network loss is the
cross-entropy of the readout's spike counts. With the published amplitudes
(A_plus = 1.5e-3, A_base = 5e-4) and after a warm-up of 40 windows the gate is fitted
(``k`` = minus the correlation of synchrony and loss) and DA-SSDP updates the weights at every
window end, scaled by the dopamine-borne gate.

`plot_windows` draws any such network's run, window by window (rasters, ``S``, ``L``, the gate
and the weights); ``examples/dassdp_brian2_network.py`` uses it for a network of its own.
"""

from __future__ import annotations

from pathlib import Path

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
    the spikes, as `plot_windows` reads them (``w0`` and ``w`` are the initial and final weight
    matrices, ``readout_i``/``readout_t`` the readout spikes). The input
    is drawn with NumPy, so every target sees the same spikes."""
    from brian2 import Network, SpikeGeneratorGroup, SpikeMonitor, defaultclock, ms, second

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
            inputs,
            readout,
            WINDOW_MS * ms,
            DASSDPParams(sigma=2 / DT_MS),
            warmup=warmup,
            loss=SpikeCountLoss(readout, labels),
            on_pre="I_syn_post += w * 5*mV",
            w0=w0,
            # every input to every readout, by explicit indices: standalone targets can then record
            # the weights of every synapse (rule.monitor_weights)
            connect={"i": np.tile(np.arange(N_INPUT), N_READOUT), "j": np.repeat(np.arange(N_READOUT), N_INPUT)},
        )
        monitor = rule.monitor(("S", "L", "DA"))
        weights = rule.monitor_weights(WINDOW_MS * ms)
        spikes = SpikeMonitor(readout)
        net = Network(source, *relay_objects, readout, *rule.objects, monitor, *weights.objects, spikes)
        net.run(rule.duration(n_windows))
        readout_i, readout_t = np.array(spikes.i[:]), np.array(spikes.t / second)
        post = np.asarray(rule.synapses.j[:])
        pre = np.asarray(rule.synapses.i[:])
        per_window = np.zeros((n_windows + 1, N_READOUT, N_INPUT))
        per_window[:, post, pre] = weights.w[:, : n_windows + 1].T
        return {
            "gate": rule.fitted_gate(),
            "S": np.array(monitor.S[0][1:]),
            "L": np.array(monitor.L[0][1:]),
            "DA": np.array(monitor.DA[0][1:]),
            "w0": w0,
            "w": rule.weight_matrix(),
            "weights": per_window,
            "readout_i": readout_i,
            "readout_t": readout_t,
            "input_i": np.asarray(idx),
            "input_t": np.asarray(step) * DT_MS * 1e-3,
            "labels": labels,
            "window_ms": WINDOW_MS,
            "warmup": warmup,
            "input_groups": {
                f"inputs 0-{N_INPUT // 2 - 1}": np.arange(N_INPUT // 2),
                f"inputs {N_INPUT // 2}-{N_INPUT - 1}": np.arange(N_INPUT // 2, N_INPUT),
            },
        }


def plot_windows(run: dict, path: str | Path, title: str, shown: int = 6) -> Path:
    """Draw a DA-SSDP network's run window by window and save it (PNG) to ``path``.

    ``run`` holds, for ``n`` windows of ``window_ms`` ms with ``warmup`` warm-up windows: the input
    and readout spikes (``input_i``, ``input_t``, ``readout_i``, ``readout_t``; times in s), each
    window's ``labels``, synchrony ``S``, loss ``L`` and gate ``DA`` (the dopamine the rule
    delivers, window m at index m), the fitted ``gate`` (``k, mu, s``), the weights ``weights``
    ``[n + 1, n_readout, n_input]`` (before the first window, then after each) and
    ``input_groups`` (name -> input indices) over which the weight panel averages. Panels: the
    spikes of the first and the last ``shown`` windows, ``S`` and ``L``, the gate, the mean
    weight of each readout from each input group, and the final weight change.
    """
    from dassdp.extras import require

    require("matplotlib", "the network figure")
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    window = run["window_ms"] * 1e-3
    n = len(run["S"])
    warm = run["warmup"]
    index = np.arange(n)
    n_input, n_readout = run["weights"].shape[2], run["weights"].shape[1]
    colors = [f"C{j}" for j in range(n_readout)]
    fig = Figure(figsize=(13, 10.5), layout="constrained")
    axes = fig.subplots(3, 2)

    for ax, first, where in ((axes[0, 0], 0, "first"), (axes[0, 1], max(0, n - shown), "last")):
        t0, t1 = first * window, min(n, first + shown) * window
        keep = (run["input_t"] >= t0) & (run["input_t"] < t1)
        ax.scatter(run["input_t"][keep] * 1e3, run["input_i"][keep], s=3, marker="|", color="0.35")
        keep = (run["readout_t"] >= t0) & (run["readout_t"] < t1)
        for j in range(n_readout):
            mine = keep & (run["readout_i"] == j)
            ax.vlines(
                run["readout_t"][mine] * 1e3,
                n_input + 1 + 3 * j,
                n_input + 3 + 3 * j,
                color=colors[j],
                lw=1.5,
                label=f"readout {j}",
            )
        for m in range(first, min(n, first + shown)):
            ax.axvline(m * window * 1e3, color="0.7", lw=0.6, ls=":")
            ax.text(
                (m + 0.5) * window * 1e3,
                n_input + 3 * n_readout + 2,
                f"label {run['labels'][m]}",
                ha="center",
                fontsize=8,
            )
        ax.set(
            xlim=(t0 * 1e3, t1 * 1e3),
            ylim=(-1, n_input + 3 * n_readout + 5),
            xlabel="time (ms)",
            ylabel="input index (readouts above)",
            title=f"Spikes of the {where} {min(shown, n)} windows" + (" (warm-up)" if first + shown <= warm else ""),
        )
        ax.legend(loc="lower right", fontsize=7, framealpha=0.9)

    ax = axes[1, 0]
    ax.plot(index, run["S"], color="tab:green", lw=0.9)
    ax.axvspan(-0.5, warm - 0.5, color="0.92")
    ax.set(xlabel="window (grey: warm-up)", title="Synchrony S (green) and loss L (orange) per window")
    ax.set_ylabel("synchrony S (fraction of synapses)", color="tab:green")
    ax2 = ax.twinx()
    ax2.plot(index, run["L"], color="tab:orange", lw=0.9, alpha=0.8)
    ax2.set_ylabel("loss L (nats)", color="tab:orange")

    ax = axes[1, 1]
    gate = run["gate"]
    ax.plot(index, run["DA"], color="tab:purple", lw=0.9, marker=".", ms=3)
    ax.axhline(1.0, color="0.6", lw=0.6)
    ax.axvspan(-0.5, warm - 0.5, color="0.92")
    ax.set(
        xlabel="window (grey: warm-up)",
        ylabel="gate g = dopamine DA (1)",
        ylim=(-0.05, 2.05),
        title="Gate per window (0 in warm-up: no update)"
        if gate is None
        else f"Gate per window: k = {gate.k:+.3f}, mu = {gate.mu:.3f}, s = {gate.s:.3f}",
    )

    ax = axes[2, 0]
    weights = run["weights"]
    styles = ["-", "--", ":", "-."]
    for g, members in enumerate(run["input_groups"].values()):
        for j in range(n_readout):
            ax.plot(np.arange(n + 1), weights[:, j, members].mean(axis=1), color=colors[j], ls=styles[g % len(styles)])
    low, high = ax.get_ylim()
    ax.set_ylim(low, high + 0.35 * (high - low))  # room for the legends
    ax.axvspan(0, warm, color="0.92")
    ax.set(
        xlabel="window (weights after it; 0: initial)",
        ylabel="mean weight (1)",
        title="Mean weight of each readout (colour) from each input group (line style)",
    )
    readouts = ax.legend(
        handles=[Line2D([], [], color=colors[j], label=f"readout {j}") for j in range(n_readout)],
        loc="upper left",
        fontsize=7,
    )
    ax.add_artist(readouts)
    ax.legend(
        handles=[
            Line2D([], [], color="0.3", ls=styles[g % len(styles)], label=f"from {name}")
            for g, name in enumerate(run["input_groups"])
        ],
        loc="upper right",
        fontsize=7,
    )

    ax = axes[2, 1]
    change = weights[-1] - weights[0]
    limit = float(np.abs(change).max()) or 1.0
    image = ax.imshow(change, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    fig.colorbar(image, ax=ax, label="weight change (1)")
    ax.set(xlabel="input index", ylabel="readout", yticks=range(n_readout), title=f"Weight change over {n} windows")
    fig.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path
