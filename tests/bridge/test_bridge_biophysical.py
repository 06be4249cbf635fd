"""Biophysical (continuous-time) mode: exact exponential decay, one simulation step of delay per
synaptic layer, physical units; checked against hand-computed spike times and PyTorch."""

import numpy as np
import pytest
import torch

from dassdp.bridge import ConversionError
from dassdp.bridge.biophysical import to_brian2_biophysical
from dassdp.bridge.check import agreement, torch_reference
from dassdp.bridge.modules import CubaLIF, NIRNetwork
from dassdp.models.snn import SpikingMLP
from dassdp.models.targets import use_target


def test_chain_spikes_one_step_later_per_synaptic_layer():
    """x = 1, w1 = 0.6, beta = 0.5, threshold 1: layer 1 fires at steps 2 and 5 (see the exact
    tests). w2 = 1.5: in PyTorch layer 2 fires in the same steps (1.5; then 0.5 decays to
    0.0625 and 1.5625 > 1); in continuous time each spike arrives one step later: 3 and 6."""
    model = SpikingMLP([1, 1, 1], 1, beta=0.5, threshold=1.0).double()
    with torch.no_grad():
        model.fc[0].weight.fill_(0.6)
        model.fc[1].weight.fill_(1.5)
        for fc in model.fc:
            fc.bias.zero_()
    with use_target("numpy"):
        x = torch.ones(8, 1, 1, dtype=torch.float64)
        converted = to_brian2_biophysical(model, x, input_mode="current").run(report=None)
    rasters = converted.spike_rasters()
    assert list(np.flatnonzero(rasters["lif.0"][0, :, 0])) == [2, 5]
    assert list(np.flatnonzero(rasters["lif.1"][0, :, 0])) == [3, 6]


def test_one_hidden_layer_with_current_input_matches_pytorch():
    """With the input as a current and sim_dt = dt, the only differences from PyTorch are
    exp(-dt / tau) = beta up to rounding and the readout's one-step delay (which the readout
    bookkeeping absorbs): spikes and predictions agree on these 40 digits."""
    from dassdp.runs.datasets import load_digits

    torch.manual_seed(3)
    model = SpikingMLP([64, 100], 10, beta=0.9).double()
    with torch.no_grad():
        model.fc[0].weight.mul_(3.0)
    x = load_digits().x_test[:40].double()
    with use_target("numpy"):
        converted = to_brian2_biophysical(model, x, encoding="direct", n_steps=20).run(report=None)
    result = agreement(converted, model)
    assert result["layers"]["lif.0"]["torch_spikes"] > 1000
    assert result["identical_rasters"]
    assert result["prediction_agreement"] == 1.0
    np.testing.assert_allclose(converted.logits(), model(converted.inputs).detach().numpy(), atol=1e-9)


def test_rejects_what_it_cannot_model():
    net = NIRNetwork({"fc": torch.nn.Linear(3, 2), "cuba": CubaLIF(0.5, 0.9), "out": torch.nn.Linear(2, 2)}, (3,))
    with pytest.raises(ConversionError, match="'cuba' \\(cubalif\\): biophysical mode supports LIF/IF"):
        to_brian2_biophysical(net, torch.rand(4, 1, 3))
    from brian2 import ms

    with pytest.raises(ConversionError, match="must divide"):
        to_brian2_biophysical(SpikingMLP([3, 2], 2), torch.rand(4, 1, 3), dt=1 * ms, sim_dt=0.3 * ms)


def test_spike_input_is_pytorch_with_a_one_step_delay():
    """Input spikes arrive one step later, undecayed: the first layer's raster equals PyTorch's on
    the input shifted by one step within each window (x'[0] = 0, x'[t] = x[t - 1])."""
    torch.manual_seed(5)
    model = SpikingMLP([30, 40], 4, beta=0.8, reset="zero").double()
    with torch.no_grad():
        model.fc[0].weight.mul_(4.0)
    spikes = torch.bernoulli(
        torch.full((15, 12, 30), 0.3, dtype=torch.float64), generator=torch.Generator().manual_seed(6)
    )
    with use_target("numpy"):
        converted = to_brian2_biophysical(model, spikes).run(report=None)
    assert converted.input_mode == "spikes"
    shifted = torch.cat([torch.zeros_like(spikes[:1]), spikes[:-1]])
    _, reference = torch_reference(model, shifted)
    assert reference["lif.0"].sum() > 300
    assert np.array_equal(converted.spike_rasters()["lif.0"], reference["lif.0"])
