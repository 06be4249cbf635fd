"""
A PyTorch spiking network in Brian2: the same spikes, side by side
==================================================================

`dassdp.bridge.to_brian2` builds the Brian2 equivalent of a discrete-time PyTorch SNN: one
NeuronGroup per layer, one Synapses per weight matrix, and an update order within each time step
that repeats PyTorch's (decay and integrate, spike strictly above threshold, reset, then the spikes
reach the next layer in the same step). Membrane potentials agree to float64 rounding, so the
spike rasters are identical unless a potential lies within rounding of the threshold.

Here a `dassdp.models.snn.SpikingMLP` (64 rate-coded pixels of scikit-learn's 8 x 8 digits, 16 time
steps -> 48 LIF neurons -> 10 readouts, the logits being the time mean of the readout) is trained
with surrogate gradients, converted, and run in Brian2 on held-out digits. The reference is
PyTorch's own forward pass: a forward hook records the hidden spikes.

Figure (``torch_to_brian2_rasters.png``): for three test digits, the input spikes, the hidden
spikes in PyTorch and in Brian2, and the entries where they differ; then the Brian2 logits against
PyTorch's for every converted sample.

Runs in about 10 s on one CPU core (numpy target); ``DASSDP_EXAMPLE_QUICK=1`` trains 1 epoch and
converts 6 digits (about 7 s). Output: ``--out DIR`` or ``DASSDP_EXAMPLE_OUT`` (default: the
current directory).
"""

import argparse
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from brian2 import defaultclock, ms, prefs
from torch import nn

from dassdp.bridge import to_brian2
from dassdp.models.encoders import rate_encode
from dassdp.models.snn import SpikingMLP
from dassdp.runs.datasets import load_digits

parser = argparse.ArgumentParser(description="A PyTorch SNN in Brian2, rasters side by side")
parser.add_argument(
    "--out",
    type=Path,
    default=Path(os.environ.get("DASSDP_EXAMPLE_OUT", ".")),
    help="directory of the figure (default: $DASSDP_EXAMPLE_OUT or the current directory)",
)
args = parser.parse_args()
QUICK = os.environ.get("DASSDP_EXAMPLE_QUICK", "0") != "0"

# ---- parameters -------------------------------------------------------------------------------
n_steps = 16  # time steps per sample
time_step = 1 * ms  # Brian2's dt for one PyTorch step (the spikes do not depend on it)
hidden = 48
beta = 0.9
n_epochs = 1 if QUICK else 8
n_convert = 6 if QUICK else 40  # test digits run in Brian2
shown = 3  # digits in the figure
seed = 0

torch.manual_seed(seed)
torch.set_num_threads(1)
prefs.codegen.target = "numpy"
defaultclock.dt = time_step

# ---- train in PyTorch -------------------------------------------------------------------------
data = load_digits(seed=seed)
model = SpikingMLP([64, hidden], 10, beta=beta)
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
spikes = torch.Generator().manual_seed(seed)
for epoch in range(n_epochs):
    for index in torch.randperm(len(data.y_train)).split(32):
        loss = nn.functional.cross_entropy(
            model(rate_encode(data.x_train[index], n_steps, spikes)), data.y_train[index]
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    print(f"epoch {epoch + 1}/{n_epochs}: last batch loss {loss.item():.3f}")

# ---- the reference: PyTorch's forward pass, hidden spikes through a hook ----------------------
x = rate_encode(data.x_test[:n_convert], n_steps, torch.Generator().manual_seed(1)).double()  # [T, N, 64]
reference = model.double().eval()
recorded = []
hook = reference.lif[0].register_forward_hook(lambda module, inputs, output: recorded.append(output.detach()))
with torch.no_grad():
    torch_logits = reference(x).numpy()
hook.remove()
torch_hidden = recorded[0].transpose(0, 1).numpy() > 0.5  # [N, T, hidden]

# ---- Brian2 -----------------------------------------------------------------------------------
converted = to_brian2(reference, x).run()
brian_hidden = converted.spike_rasters()["lif.0"]  # [N, T, hidden]
brian_logits = converted.logits()
mismatches = int((torch_hidden != brian_hidden).sum())
agree = float(np.mean(brian_logits.argmax(1) == torch_logits.argmax(1)))
accuracy = float(np.mean(torch_logits.argmax(1) == data.y_test[:n_convert].numpy()))
print(
    f"hidden spikes: PyTorch {int(torch_hidden.sum())}, Brian2 {int(brian_hidden.sum())}, "
    f"{mismatches} differing entries of {torch_hidden.size}"
)
print(
    f"largest logit difference {np.abs(brian_logits - torch_logits).max():.2e}; predictions agree on "
    f"{agree:.0%} of {n_convert} digits (test accuracy {accuracy:.0%})"
)

# ---- figure -----------------------------------------------------------------------------------
fig = plt.figure(figsize=(13, 3.1 * shown + 3.5))
grid = fig.add_gridspec(shown + 1, 4, height_ratios=[1] * shown + [1.2])
for row in range(shown):
    label = int(data.y_test[row])
    panels = [
        (x[:, row].numpy() > 0.5, "input spikes", "pixel", "Greys"),
        (torch_hidden[row], "hidden, PyTorch", "hidden neuron", "Blues"),
        (brian_hidden[row], "hidden, Brian2", "hidden neuron", "Oranges"),
        (torch_hidden[row] != brian_hidden[row], "PyTorch != Brian2", "hidden neuron", "Reds"),
    ]
    for col, (raster, title, ylabel, cmap) in enumerate(panels):
        ax = fig.add_subplot(grid[row, col])
        ax.imshow(raster.T, aspect="auto", origin="lower", cmap=cmap, vmin=0, vmax=1.3, interpolation="nearest")
        ax.set(
            xlabel="time step (1 step = 1 ms)",
            ylabel=ylabel,
            title=f"digit {label}: {title} ({int(raster.sum())} spikes)"
            if col < 3
            else f"digit {label}: {title} ({int(raster.sum())})",
        )
ax = fig.add_subplot(grid[shown, :2])
ax.scatter(torch_logits.ravel(), brian_logits.ravel(), s=8)
ax.plot(*[[torch_logits.min(), torch_logits.max()]] * 2, color="0.6", lw=0.8)
ax.set(
    xlabel="logit in PyTorch (time-mean readout)",
    ylabel="logit in Brian2",
    title=f"Logits of {n_convert} test digits: largest difference {np.abs(brian_logits - torch_logits).max():.1e}",
)
ax = fig.add_subplot(grid[shown, 2:])
ax.axis("off")
ax.text(
    0,
    0.5,
    f"{n_convert} test digits, {n_steps} steps each\n"
    f"hidden spikes: PyTorch {int(torch_hidden.sum())}, Brian2 {int(brian_hidden.sum())}\n"
    f"differing raster entries: {mismatches} of {torch_hidden.size}\n"
    f"predictions agree: {agree:.0%} (test accuracy {accuracy:.0%})",
    va="center",
    fontsize=11,
)
fig.suptitle(f"SpikingMLP([64, {hidden}], 10) trained in PyTorch, run in Brian2 by dassdp.bridge.to_brian2")
fig.tight_layout()
args.out.mkdir(parents=True, exist_ok=True)
path = args.out / "torch_to_brian2_rasters.png"
fig.savefig(path, dpi=100)
print(f"figure written to {path}")
