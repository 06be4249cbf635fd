"""
An snnTorch network in Brian2, directly and through NIR, checked against snnTorch's own forward pass
====================================================================================================

snnTorch (Eshraghian et al., "Training spiking neural networks using lessons from deep learning",
Proc. IEEE 2023) runs a discrete-time ``Leaky`` neuron whose reset depends on two settings:
``reset_mechanism`` (``"subtract"``, snnTorch's default, or ``"zero"``) and ``reset_delay`` (``True``,
the default: the reset is applied in the step after the spike, after the decay; ``False``: in the
step of the spike). NIR (Pedersen et al., "Neuromorphic intermediate representation: a unified
instruction set for interoperable brain-inspired computing", Nature Communications 2024) states
continuous-time equations and says neither, so snnTorch's ``export_to_nir`` drops both. The network
is brought into Brian2 (Stimberg, Brette & Goodman, eLife 2019) three ways, each ending in
`dassdp.bridge.to_brian2` (exact mode), and each compared with snnTorch's own forward pass:

- ``export_to_nir`` -> ``from_nir(graph)``: NIR's own reading, as a reader that knows nothing of
  the writer would do it (reset to zero in the step of the spike; it warns that it assumed ``dt``
  and that reset, and names ``convention='snntorch'``);
- ``from_snntorch(net)``: reads the snnTorch modules, every setting included;
- ``export_to_nir`` -> ``from_nir(graph, convention="snntorch", reset=..., reset_delay=...)``:
  snnTorch's reading of NIR, with the two settings the graph lost passed back in (without them it
  assumes snnTorch's defaults and says so in one ``UserWarning``).

Measured here on a network trained in snnTorch (its defaults) on scikit-learn's digits (64
rate-coded pixels, 25 steps -> ``Linear`` -> 64 ``Leaky`` -> ``Linear`` -> 10 ``Leaky``), then run
with the same weights under each setting; 40 test digits, snnTorch in float32 as usually run,
Brian2 in float64 (numpy target). Spike raster entries that differ from snnTorch's forward pass,
hidden layer (64,000 entries) / output layer (10,000 entries); "NIR" is ``from_nir(graph)``, "NIR +
convention" ``from_nir(graph, convention="snntorch", reset=..., reset_delay=...)``:

=========================================  ===============  ===========  ==============  ==============
``reset_mechanism``, ``reset_delay``       snnTorch spikes  NIR          from_snntorch   NIR+convention
=========================================  ===============  ===========  ==============  ==============
``"subtract"``, ``True`` (the defaults)    10829 / 924      7338 / 1021  0 / 0           0 / 0
``"subtract"``, ``False``                  11715 / 1106     8916 / 1157  0 / 0           0 / 0
``"zero"``, ``True``                       9709 / 703       0 / 0        0 / 0           0 / 0
``"zero"``, ``False``                      9709 / 703       0 / 0        0 / 0           0 / 0
=========================================  ===============  ===========  ==============  ==============

So ``from_snntorch`` and ``from_nir(..., convention="snntorch", reset=..., reset_delay=...)``
reproduce snnTorch spike for spike in every setting. Float32 rounding could flip a spike where a
potential lies within float32 rounding of the threshold; it flipped none here. ``from_nir(graph)``
is right only where snnTorch happens to reset as NIR's equations do: a zero reset gives the same
spikes with or without ``reset_delay`` (the potential is 0 before the next input either way), a
subtractive one does not. snnTorch 1.0.0's exporter needs per-neuron tensors for ``beta`` and
``threshold`` (it infers NIR shapes from them; a scalar ``beta`` makes ``export_to_nir`` fail);
``from_snntorch`` takes either. The script prints these counts.

Figure (``snntorch_nir_brian2.png``): top, the differing raster entries of the three ways per
setting, hidden and output layer (a count of 0 draws no bar); below, for two digits under snnTorch's
defaults, the hidden raster of snnTorch and of Brian2 via ``from_nir(graph, convention="snntorch",
...)``, and the entries where ``from_nir(graph)`` differs from snnTorch.

Runs in about 15 s on one CPU core (numpy target); ``DASSDP_EXAMPLE_QUICK=1`` trains 1 epoch and
converts 8 digits (about 10 s). Output: ``--out DIR`` or ``DASSDP_EXAMPLE_OUT`` (default: the
current directory).
"""

import argparse
import os
import warnings
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

from dassdp.bridge import from_nir, from_snntorch, to_brian2
from dassdp.runs.datasets import load_digits

parser = argparse.ArgumentParser(description="snnTorch -> Brian2, directly and through NIR, against snnTorch")
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
defaults = ("subtract", True)  # snnTorch's (reset_mechanism, reset_delay); training and rasters use it
settings = [defaults, ("subtract", False), ("zero", True), ("zero", False)]
routes = {  # the three ways into Brian2, each against snnTorch's forward pass
    "nir_plain": "export_to_nir -> from_nir(graph)",
    "direct": "from_snntorch(net)",
    "nir": 'export_to_nir -> from_nir(graph, convention="snntorch", reset=, reset_delay=)',
}
colors = {"nir_plain": "tab:red", "direct": "tab:green", "nir": "tab:orange"}
seed = 0

torch.manual_seed(seed)
torch.set_num_threads(1)
prefs.codegen.target = "numpy"
defaultclock.dt = time_step
data = load_digits(seed=seed)
layers = {"1": "hidden", "3": "output"}  # the Leaky layers' names: their index in nn.Sequential


def snntorch_net(reset_mechanism: str, reset_delay: bool) -> nn.Sequential:
    """The network in snnTorch's nn.Sequential style (per-neuron beta and threshold for NIR)."""
    neurons = dict(init_hidden=True, reset_mechanism=reset_mechanism, reset_delay=reset_delay)
    return nn.Sequential(
        nn.Linear(64, hidden),
        snn.Leaky(beta=torch.full((hidden,), beta), threshold=torch.ones(hidden), **neurons),
        nn.Linear(hidden, 10),
        snn.Leaky(beta=torch.full((10,), beta), threshold=torch.ones(10), **neurons),
    )


def run_snntorch(net: nn.Sequential, x: torch.Tensor) -> dict[str, np.ndarray]:
    """snnTorch's own forward pass, step by step: {layer name: bool[N, T, n]} of the two Leaky layers."""
    utils.reset(net)
    spikes = {"1": [], "3": []}
    for t in range(x.shape[0]):
        spikes["1"].append(net[1](net[0](x[t])))
        spikes["3"].append(net[3](net[2](spikes["1"][-1])))
    return {name: torch.stack(s).transpose(0, 1).numpy() > 0.5 for name, s in spikes.items()}


def brian2_rasters(imported) -> dict[str, np.ndarray]:
    """Brian2 (exact mode, float64) spike rasters of an imported network on the test digits."""
    return to_brian2(imported, x.double()).run(report=None).spike_rasters()


# ---- train once in snnTorch (its defaults; surrogate gradients, spike-count cross-entropy) --------
net = snntorch_net(*defaults)
optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
spikes = torch.Generator().manual_seed(seed)
for epoch in range(n_epochs):
    for index in torch.randperm(len(data.y_train)).split(32):
        x = torch.bernoulli(data.x_train[index].expand(n_steps, -1, -1), generator=spikes)
        utils.reset(net)
        counts = sum(net(x[t]) for t in range(n_steps))
        loss = nn.functional.cross_entropy(counts, data.y_train[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    print(f"epoch {epoch + 1}/{n_epochs}: last batch loss {loss.item():.3f}")
weights = {k: v for k, v in net.state_dict().items() if k.startswith(("0.", "2."))}  # the two Linear layers

# ---- each setting: snnTorch's forward pass vs (a), (b), (c) in Brian2 --------------------------
x = torch.bernoulli(data.x_test[:n_convert].expand(n_steps, -1, -1), generator=torch.Generator().manual_seed(1))
results = {}
plain = None  # (c) reads the same graph the same way in every setting: one Brian2 run
for mechanism, delay in settings:
    net = snntorch_net(mechanism, delay)
    net.load_state_dict(weights, strict=False)
    with torch.no_grad():
        expected = run_snntorch(net, x)  # float32, as snnTorch runs
        graph = export_to_nir(net, x[0, :1], ignore_dims=[0])  # snnTorch's own export: no reset settings in it
    brian2 = {
        "nir_plain": None,
        "direct": brian2_rasters(from_snntorch(net)),
        "nir": brian2_rasters(from_nir(graph, convention="snntorch", reset=mechanism, reset_delay=delay)),
    }
    if plain is None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            plain = brian2_rasters(from_nir(graph))
        print(f"from_nir(graph) warned: {'; '.join(str(w.message) for w in caught)}")
    brian2["nir_plain"] = plain  # the same graph in every setting: snnTorch does not write the reset
    differ = {route: {n: int((r[n] != expected[n]).sum()) for n in layers} for route, r in brian2.items()}
    results[(mechanism, delay)] = {"expected": expected, "brian2": brian2, "differ": differ}

for route, label in routes.items():  # NIR's own reading first: what the other two fix
    print(label)
    for setting in settings:
        expected, d = results[setting]["expected"], results[setting]["differ"][route]
        print(
            f"  reset_mechanism={setting[0]!r:11} reset_delay={setting[1]!s:5}: differing entries hidden "
            f"{d['1']} of {expected['1'].size} ({int(expected['1'].sum())} spikes), output {d['3']} of "
            f"{expected['3'].size} ({int(expected['3'].sum())} spikes)"
        )

# ---- figure -----------------------------------------------------------------------------------
fig = plt.figure(figsize=(14, 10.5))
grid = fig.add_gridspec(3, 3, height_ratios=[1.2, 1, 1])
labels = [f"{m}, reset_delay={d}" + ("\n(snnTorch's defaults)" if (m, d) == defaults else "") for m, d in settings]
position = np.arange(len(settings))
top = 4 * max(max(d.values()) for r in results.values() for d in r["differ"].values()) + 10
for col, (layer, name) in enumerate(layers.items()):
    ax = fig.add_subplot(grid[0, 0:2] if col == 0 else grid[0, 2])
    for offset, (route, label) in zip((-0.27, 0, 0.27), routes.items()):
        counts = [results[s]["differ"][route][layer] for s in settings]
        bars = ax.bar(position + offset, counts, width=0.27, label=label, color=colors[route])
        ax.bar_label(bars, fontsize=8)
    ax.set_xticks(position, labels if col == 0 else [f"{m}\n{d}" for m, d in settings], fontsize=8)
    ax.set_yscale("symlog", linthresh=10)
    ax.set_ylim(0, top)
    size = results[defaults]["expected"][layer].size
    ax.set(ylabel="raster entries where Brian2\ndiffers from snnTorch", title=f"{name} layer (of {size} entries)")
    if col == 0:
        ax.legend(fontsize=8, loc="upper right")
run = results[defaults]
for row in range(2):
    label = int(data.y_test[row])
    expected, exact, plain = (
        run["expected"]["1"][row],
        run["brian2"]["nir"]["1"][row],
        run["brian2"]["nir_plain"]["1"][row],
    )
    panels = [
        (expected, f"digit {label}: snnTorch's forward pass\n{int(expected.sum())} spikes", "tab:blue"),
        (
            exact,
            f'digit {label}: Brian2 via from_nir(graph,\nconvention="snntorch", ...): {int(exact.sum())} spikes',
            colors["nir"],
        ),
        (
            plain != expected,
            f"digit {label}: Brian2 via from_nir(graph):\n{int((plain != expected).sum())} entries differ",
            colors["nir_plain"],
        ),
    ]
    for col, (raster, title, color) in enumerate(panels):
        ax = fig.add_subplot(grid[1 + row, col])
        steps, neurons = np.nonzero(raster)
        ax.scatter(steps, neurons, s=6, marker="|", color=color)
        ax.set(
            xlim=(-0.5, n_steps - 0.5),
            ylim=(-1, raster.shape[1]),
            xlabel="time step (1 step = 1 ms)",
            ylabel="hidden neuron",
        )
        ax.set_title(title, fontsize=10)
fig.suptitle(
    f"snnTorch -> Brian2 three ways, against snnTorch's forward pass ({n_convert} test digits x {n_steps} steps); "
    "rasters: hidden layer, snnTorch's defaults"
)
fig.tight_layout(rect=(0, 0, 1, 0.97))
args.out.mkdir(parents=True, exist_ok=True)
path = args.out / "snntorch_nir_brian2.png"
fig.savefig(path, dpi=100)
print(f"figure written to {path}")
