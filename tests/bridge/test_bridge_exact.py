"""Exact PyTorch (float64) -> Brian2 conversion: identical spike rasters and predictions.

Oracles: the PyTorch model's own forward pass (spikes captured by hooks), and a hand-computed
one-neuron case. Default set: 100 digits test samples for the MLP and the 2-d conv net (direct
input through a TimedArray current and rate-coded input through synapses, both reset modes).
"""

import numpy as np
import pytest
import torch

from dassdp.bridge import ConversionError, to_brian2
from dassdp.bridge.check import agreement, torch_reference
from dassdp.models.snn import SpikingConvNet, SpikingMLP
from dassdp.models.targets import use_target

N_SAMPLES = 100


@pytest.fixture(scope="module")
def digits():
    from dassdp.runs.datasets import load_digits

    return load_digits().x_test[:N_SAMPLES].double()


def _mlp(reset):
    torch.manual_seed(3)
    model = SpikingMLP([64, 100], 10, beta=0.9, threshold=1.0, reset=reset).double()
    with torch.no_grad():
        model.fc[0].weight.mul_(3.0)  # random init is too weak to make the hidden layer spike
        model.readout.weight.mul_(2.0)
    return model


def _convnet(reset):
    torch.manual_seed(4)
    model = SpikingConvNet((1, 8, 8), [4, 6], 32, 10, beta=0.8, reset=reset).double()
    with torch.no_grad():
        for conv in model.conv:
            conv.weight.mul_(3.0)
        model.fc.weight.mul_(3.0)
    return model


def _check_identical(converted, model, min_spikes=100):
    result = agreement(converted, model)
    for name, layer in result["layers"].items():
        assert layer["torch_spikes"] >= min_spikes, f"{name} barely spikes: the test would be vacuous"
        assert layer["torch_spikes"] < converted.n_samples * converted.n_steps * np.prod(converted.shapes[name]), name
        assert layer["mismatches"] == 0, (name, layer)
    output, _ = torch_reference(model, converted.inputs)
    np.testing.assert_allclose(converted.logits(), output, rtol=0, atol=1e-12)
    assert np.array_equal(converted.predictions(), output.argmax(1))
    return result


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("encoding", ["direct", "rate"])
def test_digits_mlp_identical_rasters(digits, reset, encoding):
    model = _mlp(reset)
    with use_target("numpy"):
        converted = to_brian2(model, digits, encoding=encoding, n_steps=20, seed=5).run(report=None)
    assert converted.input_mode == ("current" if encoding == "direct" else "spikes")
    assert converted.n_samples == N_SAMPLES
    result = _check_identical(converted, model)
    assert result["prediction_agreement"] == 1.0


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("encoding", ["direct", "rate"])
def test_digits_convnet_identical_rasters(digits, reset, encoding):
    model = _convnet(reset)
    with use_target("numpy"):
        converted = to_brian2(model, digits.reshape(-1, 1, 8, 8), encoding=encoding, n_steps=10, seed=6).run(
            report=None
        )
    result = _check_identical(converted, model)
    assert set(result["layers"]) == {"lif.0", "pool.0", "lif.1", "pool.1", "lif_fc"}


def test_conv1d_latency_and_deeper_mlp():
    torch.manual_seed(0)
    conv = SpikingConvNet((2, 12), [3], 16, 4, beta=0.7).double()
    mlp = SpikingMLP([12, 30, 20], 5, beta=0.9, reset="zero").double()
    with torch.no_grad():
        conv.conv[0].weight.mul_(3.0)
        conv.fc.weight.mul_(3.0)
        for fc in mlp.fc:
            fc.weight.mul_(4.0)
    x = torch.rand(12, 2, 12, generator=torch.Generator().manual_seed(1))
    with use_target("numpy"):
        c1 = to_brian2(conv, x, encoding="rate", n_steps=10, seed=2).run(report=None)
        c2 = to_brian2(mlp, x.reshape(12, -1)[:, :12], encoding="latency", n_steps=12).run(report=None)
    _check_identical(c1, conv, min_spikes=10)
    _check_identical(c2, mlp, min_spikes=10)


def test_hand_computed_single_neuron():
    """w = 0.6, beta = 0.5, threshold 1, x = 1: u = 0.6, 0.9, 1.05 (spike, v = 0.05), 0.625,
    0.9125, 1.05625 (spike): spikes at steps 2 and 5 with subtraction; with reset to zero the
    sequence restarts from 0: spikes at 2 and 5 as well, then (zero) 0.6, 0.9, 1.05 -> step 8."""
    for reset, expected in (("subtract", [2, 5]), ("zero", [2, 5, 8])):
        model = SpikingMLP([1, 1], 1, beta=0.5, threshold=1.0, reset=reset).double()
        with torch.no_grad():
            model.fc[0].weight.fill_(0.6)
            model.fc[0].bias.zero_()
        x = torch.ones(9 if reset == "zero" else 6, 1, 1, dtype=torch.float64)
        with use_target("numpy"):
            converted = to_brian2(model, x).run(report=None)
        raster = converted.spike_rasters()["lif.0"][0, :, 0]
        assert list(np.flatnonzero(raster)) == expected


def test_windows_are_independent():
    """Each sample starts from v = 0: a sample's spikes do not depend on the one before it."""
    model = _mlp("subtract")
    x = torch.rand(3, 64, generator=torch.Generator().manual_seed(0)).double()
    with use_target("numpy"):
        both = to_brian2(model, x, encoding="direct", n_steps=15).run(report=None).spike_rasters()["lif.0"]
        last = to_brian2(model, x[2:], encoding="direct", n_steps=15).run(report=None).spike_rasters()["lif.0"]
    assert both[2].sum() > 0
    assert np.array_equal(both[2], last[0])


def test_spikes_mode_rejects_real_inputs():
    with pytest.raises(ConversionError, match="binary"):
        to_brian2(_mlp("zero"), torch.rand(5, 2, 64), input_mode="spikes")


@pytest.mark.standalone
def test_cpp_standalone_identical(tmp_path, digits):
    model = _mlp("subtract")
    with use_target("cpp_standalone", str(tmp_path / "build")):
        converted = to_brian2(model, digits[:30], encoding="rate", n_steps=20, seed=5)
        converted.run()
        result = _check_identical(converted, model)
    assert result["prediction_agreement"] == 1.0
