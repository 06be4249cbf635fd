"""Weights back from Brian2 to PyTorch: exact round trips, changes made in Brian2 land on the right
PyTorch entries, shared convolution weights, and a DA-SSDP rule's learnt weights and gate."""

import numpy as np
import pytest
import torch

from dassdp.bridge import ConversionError, to_brian2, to_torch
from dassdp.bridge.weights import weights_by_layer
from dassdp.models.snn import SpikingConvNet, SpikingMLP
from dassdp.models.targets import use_target


def _params(model):
    return {k: v.detach().double().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("input_mode", ["current", "spikes"])
def test_mlp_round_trip_is_exact(input_mode):
    torch.manual_seed(0)
    model = SpikingMLP([64, 30, 20], 10, beta=0.85, threshold=0.7)
    converted = to_brian2(model, torch.rand(4, 64), encoding="rate", n_steps=5, input_mode=input_mode)
    fresh = SpikingMLP([64, 30, 20], 10, beta=0.5, threshold=1.0)
    info = to_torch(converted.network, fresh)  # the Network itself is accepted
    assert set(info["layers"]) == {"fc.0", "fc.1", "readout", "lif.0", "lif.1"}
    expected, got = _params(model), _params(fresh)
    assert expected.keys() == got.keys()
    for key in expected:
        assert torch.equal(expected[key], got[key]), key
    assert fresh.lif[0].threshold == 0.7


def test_changes_in_brian2_reach_the_right_torch_entries():
    torch.manual_seed(1)
    model = SpikingMLP([8, 6], 3).double()
    converted = to_brian2(model, torch.rand(2, 8), encoding="rate", n_steps=3, input_mode="spikes")
    syn = converted.input_projection.synapses
    k = int(np.flatnonzero((np.asarray(syn.i[:]) == 5) & (np.asarray(syn.j[:]) == 2))[0])
    syn.w[k] = 123.0
    converted.groups["lif.0"].b[4] = -7.0
    to_torch(converted, model)
    assert model.fc[0].weight[2, 5].item() == 123.0
    assert model.fc[0].bias[4].item() == -7.0
    assert (model.fc[0].weight == 123.0).sum().item() == 1


def test_conv_round_trip_and_weight_sharing():
    torch.manual_seed(2)
    model = SpikingConvNet((1, 8, 8), [4, 6], 32, 10).double()
    converted = to_brian2(model, torch.rand(2, 1, 8, 8), encoding="rate", n_steps=3)
    fresh = SpikingConvNet((1, 8, 8), [4, 6], 32, 10, beta=0.3).double()
    to_torch(converted, fresh)
    for key, value in _params(model).items():
        assert torch.equal(value, _params(fresh)[key]), key
    # break the sharing of one kernel entry: rejected by default, averaged on request
    conv1 = next(p for p in converted.projections if p.name == "conv.1")
    first = np.asarray(conv1.synapses.w[:]).copy()
    k = conv1.k if conv1.k is not None else None
    assert k is not None
    copies = np.flatnonzero(k == k[0])
    assert len(copies) > 1
    conv1.synapses.w[int(copies[0])] = first[copies[0]] + len(copies)
    with pytest.raises(ConversionError, match="conv.1.*shared convolution weights differ"):
        to_torch(converted, fresh)
    mean = weights_by_layer(converted, conv_sharing="mean")["conv.1"]["weight"].ravel()[k[0]]
    assert mean == pytest.approx(first[copies[0]] + 1.0, abs=1e-12)


def test_to_torch_rejects_another_architecture():
    model = SpikingMLP([8, 6], 3)
    converted = to_brian2(model, torch.rand(2, 8), encoding="rate", n_steps=3)
    with pytest.raises(ConversionError, match="fc.0"):
        to_torch(converted, SpikingMLP([8, 7], 3))
    with pytest.raises(ConversionError, match="to_brian2"):
        to_torch(object(), model)


def test_dassdp_rule_weights_and_gate_back_to_torch():
    from brian2 import defaultclock, ms

    from dassdp.rules.brian2 import ExternalLoss
    from dassdp.rules.plugin import DASSDPPlugin as Plugin
    from dassdp.rules.reference import DASSDPParams

    torch.manual_seed(3)
    model = SpikingMLP([16, 20, 12], 4, beta=0.9).double()
    with torch.no_grad():
        model.fc[0].weight.mul_(4.0)
        model.fc[1].weight.mul_(4.0)
    n_windows = 8
    loss = ExternalLoss(np.random.default_rng(0).normal(size=n_windows + 1))
    old_dt = defaultclock.dt
    defaultclock.dt = 1 * ms
    try:
        with use_target("numpy"):
            converted = to_brian2(
                model,
                torch.rand(n_windows, 16),
                encoding="rate",
                n_steps=10,
                seed=1,
                plastic={
                    "fc.1": {
                        "warmup": 3,
                        "loss": loss,
                        "params": DASSDPParams(gate="continuous", a_plus=0.05, a_base=0.02),
                    }
                },
            )
            rule = converted.rules["fc.1"]
            converted.run(duration=rule.duration(n_windows), report=None)
    finally:
        defaultclock.dt = old_dt
    learnt = rule.weight_matrix()
    before = model.fc[1].weight.detach().numpy().copy()
    assert np.abs(learnt - before).max() > 1e-6  # the rule changed the weights
    plugin = Plugin(model, layers=["lif.1"], params=DASSDPParams(), warmup_epochs=1)
    info = to_torch(converted, model, plasticity=plugin)
    assert np.array_equal(model.fc[1].weight.detach().numpy(), learnt)
    gate = rule.fitted_gate()
    assert gate is not None and info["gates"]["fc.1"] == gate
    assert plugin.gates["lif.1"] == gate
    plugin.remove()
