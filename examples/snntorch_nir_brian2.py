"""
An snnTorch network through NIR into Brian2, checked against snnTorch's own forward pass
========================================================================================

snnTorch (Eshraghian et al., Proc. IEEE 2023) writes a network as a NIR graph (Pedersen et al.,
Nature Communications 2024) with its own ``snntorch.export_to_nir``; `dassdp.bridge.from_nir`
reads the graph and `dassdp.bridge.to_brian2` builds the Brian2 network. NIR states continuous-time
equations and says nothing about how a discrete-time neuron resets, so what comes out is exact
only where snnTorch's reset is the one ``from_nir`` is told to use.

snnTorch's ``Leaky`` with ``reset_delay=False`` resets in the step of the spike, as dassdp's LIF
does (``v = beta v + I``, spike if ``v > threshold``, then reset). With the default
``reset_delay=True`` the reset is applied in the next step, after the decay: a subtractive reset
then removes ``threshold`` instead of ``beta * threshold`` from the next potential, which NIR
cannot express. A zero reset gives the same spikes either way (the potential is 0 before the next
input). A subtractive reset also differs when the potential is still above threshold after a
reset: snnTorch subtracts the threshold once more in the next step, dassdp does not.

Measured here on a network trained on scikit-learn's digits (64 rate-coded pixels, 25 steps ->
``Linear`` -> 64 ``Leaky`` -> ``Linear`` -> 10 ``Leaky``), 40 test digits, snnTorch in float32 as usually
run, Brian2 in float64, ``from_nir(graph, reset=<snnTorch's reset_mechanism>)``, spike raster
entries that differ (hidden layer of 64,000 / output layer of 10,000):

- ``reset_mechanism="zero"``, ``reset_delay=False`` or ``True``: 0 / 0, identical spikes. This is
  the setting for an exact conversion (float32 rounding flipped no spike here).
- ``reset_mechanism="subtract"``, ``reset_delay=False``: 24 / 53. A potential was above threshold
  after its reset 161 times (142 hidden, 19 output); snnTorch then subtracts once more in the
  next step. The same counts come out with snnTorch in float64, so rounding is not the cause.
  Exact only while no potential stays above threshold after a reset (weaker inputs, or a higher
  threshold).
- ``reset_mechanism="subtract"``, ``reset_delay=True`` (snnTorch's defaults): 6997 / 737, against
  8012 and 591 spikes: neither NIR nor dassdp's LIF has a delayed reset.

The script prints the measured counts, and the figure shows them. snnTorch's exporter needs
per-neuron tensors for ``beta`` and ``threshold`` (it infers NIR shapes from them; a scalar
``beta`` makes ``export_to_nir`` fail).

Figure (``snntorch_nir_brian2.png``): differing raster entries per setting and layer; the hidden and
output rasters of two digits in snnTorch and in Brian2 for the exact setting, and the differences
under snnTorch's defaults.

Runs in about 15 s on one CPU core (numpy target); ``DASSDP_EXAMPLE_QUICK=1`` trains 1 epoch and
converts 8 digits (about 10 s). Output: ``--out DIR`` or ``DASSDP_EXAMPLE_OUT`` (default: the
current directory).
"""

import argparse
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import snntorch as snn
import torch
from brian2 import defaultclock, ms, prefs
from snntorch import utils
from snntorch.export_nir import export_to_nir
from torch import nn

from dassdp.bridge import from_nir, to_brian2
from dassdp.runs.datasets import load_digits

parser = argparse.ArgumentParser(description="snnTorch -> NIR -> Brian2, against snnTorch's forward pass")
parser.add_argument(
    "--out",
    type=Path,
    default=Path(os.environ.get("DASSDP_EXAMPLE_OUT", ".")),
    help="directory of the figure (default: $DASSDP_EXAMPLE_OUT or the current directory)",
)
args = parser.parse_args()
QUICK = os.environ.get("DASSDP_EXAMPLE_QUICK", "0") != "0"

# ---- parameters -------------------------------------------------------------------------------
n_steps = 25  # time steps per digit
time_step = 1 * ms  # Brian2's dt for one snnTorch step (the spikes do not depend on it)
hidden = 64
beta = 0.9
n_epochs = 1 if QUICK else 5
n_convert = 8 if QUICK else 40  # test digits compared
settings = [("zero", False), ("zero", True), ("subtract", False), ("subtract", True)]  # (reset_mechanism, reset_delay)
exact = ("zero", False)  # the setting shown as rasters
seed = 0

torch.manual_seed(seed)
torch.set_num_threads(1)
prefs.codegen.target = "numpy"
defaultclock.dt = time_step
data = load_digits(seed=seed)


def snntorch_net(reset_mechanism: str, reset_delay: bool) -> nn.Sequential:
    """The network in snnTorch's nn.Sequential style (per-neuron beta and threshold for NIR)."""
    neurons = dict(init_hidden=True, reset_mechanism=reset_mechanism, reset_delay=reset_delay)
    return nn.Sequential(
        nn.Linear(64, hidden),
        snn.Leaky(beta=torch.full((hidden,), beta), threshold=torch.ones(hidden), **neurons),
        nn.Linear(hidden, 10),
        snn.Leaky(beta=torch.full((10,), beta), threshold=torch.ones(10), output=True, **neurons),
    )


def run_snntorch(net: nn.Sequential, x: torch.Tensor) -> tuple[dict, int]:
    """snnTorch's own forward pass, step by step: {layer index: bool[N, T, n]} of the two Leaky
    layers, and how often a potential was still above threshold at the end of a step (both layers)."""
    utils.reset(net)
    hidden_spikes, output_spikes, above = [], [], 0
    for t in range(x.shape[0]):
        h = net[1](net[0](x[t]))
        spk, mem = net[3](net[2](h))
        above += int((net[1].mem > net[1].threshold).sum()) + int((mem > net[3].threshold).sum())
        hidden_spikes.append(h)
        output_spikes.append(spk)
    rasters = {
        "1": torch.stack(hidden_spikes).transpose(0, 1).numpy() > 0.5,
        "3": torch.stack(output_spikes).transpose(0, 1).numpy() > 0.5,
    }
    return rasters, above


# ---- train once in snnTorch (surrogate gradients, spike-count cross-entropy) ----------------------
net = snntorch_net(*exact)
optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
spikes = torch.Generator().manual_seed(seed)
for epoch in range(n_epochs):
    for index in torch.randperm(len(data.y_train)).split(32):
        x = torch.bernoulli(data.x_train[index].expand(n_steps, -1, -1), generator=spikes)
        utils.reset(net)
        counts = sum(net[3](net[2](net[1](net[0](x[t]))))[0] for t in range(n_steps))
        loss = nn.functional.cross_entropy(counts, data.y_train[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    print(f"epoch {epoch + 1}/{n_epochs}: last batch loss {loss.item():.3f}")
weights = {k: v for k, v in net.state_dict().items() if k.startswith(("0.", "2."))}  # the two Linear layers

# ---- each setting: snnTorch forward pass vs NIR -> Brian2 -----------------------------------------
x = torch.bernoulli(data.x_test[:n_convert].expand(n_steps, -1, -1), generator=torch.Generator().manual_seed(1))
results = {}
for mechanism, delay in settings:
    net = snntorch_net(mechanism, delay)
    net.load_state_dict(weights, strict=False)
    with torch.no_grad():
        expected, above = run_snntorch(net, x)  # float32, as snnTorch runs
        graph = export_to_nir(net, x[0, :1], ignore_dims=[0])  # snnTorch's own export
    converted = to_brian2(from_nir(graph, reset=mechanism), x.double()).run(report=None)
    rasters = converted.spike_rasters()
    differ = {layer: int((rasters[layer] != expected[layer]).sum()) for layer in expected}
    results[(mechanism, delay)] = {"expected": expected, "brian2": rasters, "differ": differ}
    print(
        f"reset_mechanism={mechanism!r:11} reset_delay={delay!s:5}: differing entries hidden "
        f"{differ['1']} of {expected['1'].size} ({int(expected['1'].sum())} spikes), output {differ['3']} of "
        f"{expected['3'].size} ({int(expected['3'].sum())} spikes)"
        + ("" if delay else f"; potentials above threshold after a step: {above}")
    )

# ---- figure -----------------------------------------------------------------------------------
fig = plt.figure(figsize=(13, 10))
grid = fig.add_gridspec(3, 4, height_ratios=[1, 1.1, 1.1])
ax = fig.add_subplot(grid[0, :])
labels = [f"{m}, reset_delay={d}" for m, d in settings]
position = np.arange(len(settings))
for offset, layer, name in ((-0.2, "1", "hidden layer"), (0.2, "3", "output layer")):
    counts = [results[s]["differ"][layer] for s in settings]
    bars = ax.bar(position + offset, counts, width=0.4, label=name)
    ax.bar_label(bars, fontsize=9)
ax.set_xticks(position, labels)
ax.set_yscale("symlog", linthresh=10)
ax.set_ylim(0, 4 * max(max(r["differ"].values()) for r in results.values()) + 10)
ax.set(
    ylabel="raster entries differing (count)",
    title=f"Spike raster entries where Brian2 differs from snnTorch's forward pass: {n_convert} digits x {n_steps} "
    f"steps ({results[exact]['expected']['1'][0].size} hidden, {results[exact]['expected']['3'][0].size} "
    "output entries per digit)",
)
ax.legend()
for row, sample in enumerate(range(2)):
    label = int(data.y_test[sample])
    exact_run, default_run = results[exact], results[("subtract", True)]
    panels = [
        (exact_run["expected"]["1"][sample], f"digit {label}: hidden, snnTorch", "hidden neuron", "tab:blue"),
        (exact_run["brian2"]["1"][sample], f"digit {label}: hidden, Brian2", "hidden neuron", "tab:orange"),
        (
            np.concatenate([exact_run["expected"]["3"][sample], exact_run["brian2"]["3"][sample]], axis=1),
            f"digit {label}: output",
            "output neuron\n(snnTorch 0-9, Brian2 10-19)",
            "tab:green",
        ),
        (
            default_run["expected"]["1"][sample] != default_run["brian2"]["1"][sample],
            f"digit {label}: hidden, differing under\nsnnTorch's defaults",
            "hidden neuron",
            "tab:red",
        ),
    ]
    for col, (raster, title, ylabel, color) in enumerate(panels):
        ax = fig.add_subplot(grid[1 + row, col])
        steps, neurons = np.nonzero(raster)
        ax.scatter(steps, neurons, s=6, marker="|", color=color)
        ax.set(
            xlim=(-0.5, n_steps - 0.5),
            ylim=(-1, raster.shape[1]),
            xlabel="time step (1 step = 1 ms)",
            ylabel=ylabel,
            title=title + (f" ({int(raster.sum())})" if col == 3 else ""),
        )
        if col == 2:
            ax.axhline(9.5, color="0.6", lw=0.8)
fig.suptitle(
    f"snnTorch -> export_to_nir -> dassdp.bridge.from_nir -> Brian2 (rasters: reset_mechanism="
    f"{exact[0]!r}, reset_delay={exact[1]})"
)
fig.tight_layout(rect=(0, 0, 1, 0.97))
args.out.mkdir(parents=True, exist_ok=True)
path = args.out / "snntorch_nir_brian2.png"
fig.savefig(path, dpi=100)
print(f"figure written to {path}")
