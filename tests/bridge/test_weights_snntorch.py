"""`to_torch` on snnTorch imports: weights changed in Brian2 come back into the `from_snntorch`
model, whose per-neuron ``beta``/``alpha``/``threshold`` keep their form (tensor shape, dtype, a
float stays a float), and the updated model reproduces Brian2's spikes, and snnTorch's own spikes
of the same change (independent of the bridge), after the change. Values that cannot be written
back (per-neuron values for a layer holding one float) are refused and nothing is written.

`to_snntorch` then copies the weights on into the snnTorch network itself, whose own forward pass
reproduces Brian2's spikes after the change; a changed neuron parameter or another network is
refused before anything is written, and `to_torch` on the snnTorch network points to both steps."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from dassdp.bridge import ConversionError, ConversionTypeError, from_snntorch, to_brian2, to_snntorch, to_torch
from dassdp.bridge.check import torch_reference
from dassdp.bridge.snntorch_io import snntorch_spikes
from dassdp.models.snn import LIF
from dassdp.models.targets import use_target

snn = pytest.importorskip("snntorch")

T, B, SCALE = 20, 2, 1.5
NEURONS = {"1": ("beta", "threshold"), "3": ("alpha", "beta", "threshold")}


def heaviside(x):
    """snnTorch's spike forward pass ``H(x) = x > 0``, keeping the dtype (float64)."""
    return (x > 0).to(x.dtype)


def _net(hidden=5):
    """Linear(6, 5) -> Leaky (per-neuron beta and threshold, reset_delay default) -> Linear(5, 3) ->
    Synaptic (per-neuron alpha, beta, threshold), float64 (``hidden`` replaces the 5)."""
    torch.manual_seed(11)
    gen = torch.Generator().manual_seed(12)
    net = nn.Sequential(
        nn.Linear(6, hidden),
        snn.Leaky(
            beta=torch.rand(hidden, generator=gen) * 0.5 + 0.4,
            threshold=torch.rand(hidden, generator=gen) * 0.6 + 0.7,
            spike_grad=heaviside,
            init_hidden=True,
        ),
        nn.Linear(hidden, 3),
        snn.Synaptic(
            alpha=torch.rand(3, generator=gen) * 0.5 + 0.2,
            beta=torch.rand(3, generator=gen) * 0.5 + 0.4,
            threshold=torch.rand(3, generator=gen) * 0.6 + 0.7,
            spike_grad=heaviside,
            init_hidden=True,
        ),
    )
    with torch.no_grad():
        for k, bias in ((0, 0.1), (2, 0.2)):
            net[k].weight.mul_(2.0)
            net[k].bias.fill_(bias)
    return net.double()


def _inputs():
    return (torch.rand(T, B, 6, generator=torch.Generator().manual_seed(13)) < 0.5).to(torch.float64)


def _snapshot(model):
    layers = dict(model.named_layers())
    return {(n, what): copy.deepcopy(getattr(layers[n], what)) for n, whats in NEURONS.items() for what in whats}


def _synapse_weights(converted):
    """``{layer: (i, j, w)}`` read straight from the Brian2 Synapses."""
    projections = [converted.input_projection, *converted.projections]
    return {
        p.name: (np.asarray(p.synapses.i[:]), np.asarray(p.synapses.j[:]), np.asarray(p.synapses.w[:]))
        for p in projections
        if p is not None and p.synapses is not None
    }


def test_weights_changed_in_brian2_come_back_and_neuron_parameters_keep_their_form():
    net, x = _net(), _inputs()
    imported = from_snntorch(net)
    layers = dict(imported.named_layers())
    assert isinstance(layers["1"], LIF) and layers["1"].reset_delay is True
    assert isinstance(layers["1"].threshold, torch.Tensor) and layers["1"].threshold.shape == (5,)
    before = _snapshot(imported)
    with use_target("numpy"):
        converted = to_brian2(imported, x)
        assert converted.input_mode == "spikes"  # binary inputs: the first layer's weights live in Brian2
        converted.network.store()
        first = converted.run(report=None).spike_rasters()
        converted.network.restore()  # back to t = 0 with fresh states, then change the weights
        for p in [converted.input_projection, *converted.projections]:
            p.synapses.w[:] = np.asarray(p.synapses.w[:]) * SCALE
        second = converted.run(report=None).spike_rasters()
    assert set(_synapse_weights(converted)) == {"0", "2"}

    info = to_torch(converted, imported)
    assert set(info["layers"]) == {"0", "1", "2", "3"}

    # the weights: every synapse equals its PyTorch entry, and 1.5 x snnTorch's
    for name, (i, j, w) in _synapse_weights(converted).items():
        weight = layers[name].weight.detach().numpy()
        assert len(w) == weight.size and np.array_equal(weight[j, i], w), name
        assert np.array_equal(weight, net[int(name)].weight.detach().numpy() * SCALE), name
        assert np.array_equal(layers[name].bias.detach().numpy(), net[int(name)].bias.detach().numpy()), name

    # the neuron parameters: unchanged values, same type, shape and dtype
    for key, old in before.items():
        new = getattr(layers[key[0]], key[1])
        assert type(new) is type(old), key
        assert new.shape == old.shape and new.dtype == old.dtype and torch.equal(new, old), key
        assert new.shape != () and not torch.all(new == new.reshape(-1)[0]), key  # truly per neuron

    # the updated PyTorch model spikes as Brian2 after the change, and as snnTorch with the same change
    changed = copy.deepcopy(net)
    with torch.no_grad():
        changed[0].weight.mul_(SCALE)
        changed[2].weight.mul_(SCALE)
    expected = snntorch_spikes(changed, x)
    _, ours = torch_reference(imported, x)
    for name in NEURONS:
        assert 0.05 < second[name].mean() < 0.95, (name, second[name].mean())
        assert np.array_equal(ours[name], second[name]), name
        assert np.array_equal(expected[name], second[name]), name
    assert any(not np.array_equal(first[n], second[n]) for n in NEURONS), "the change altered no spike"

    # to_torch on the snnTorch network itself: refused, pointing to from_snntorch, then to_snntorch
    with pytest.raises(ConversionTypeError, match=r"from_snntorch.*to_torch.*to_snntorch\(imported, net\)"):
        to_torch(converted, net)

    # into the snnTorch network: its weights become Brian2's, in the same Parameter objects, and
    # snnTorch's own forward pass reproduces Brian2's spikes after the change
    params = {name: (net[int(name)].weight, net[int(name)].bias) for name in ("0", "2")}
    assert any(not np.array_equal(snntorch_spikes(net, x)[n], second[n]) for n in NEURONS)
    assert to_snntorch(imported, net) == ["0", "2"]
    for name, (i, j, w) in _synapse_weights(converted).items():
        weight, bias = params[name]
        assert net[int(name)].weight is weight and net[int(name)].bias is bias and weight.dtype == torch.float64
        assert np.array_equal(weight.detach().numpy()[j, i], w), name
        assert torch.equal(bias, layers[name].bias), name
    after = snntorch_spikes(net, x)
    for name in NEURONS:
        assert np.count_nonzero(after[name] != second[name]) == 0, name


def _weights(net):
    return [p.detach().clone() for p in net.parameters()]


@pytest.mark.parametrize(("layer", "what"), [("1", "threshold"), ("3", "alpha"), ("1", "beta")])
def test_to_snntorch_refuses_changed_neuron_parameters_and_writes_nothing(layer, what):
    net = _net()
    imported = from_snntorch(net)
    layers = dict(imported.named_layers())
    with torch.no_grad():
        layers["0"].weight.mul_(SCALE)  # a change that must not land
        getattr(layers[layer], what)[2 if layer == "1" else 0] *= 0.9
    before = _weights(net)
    with pytest.raises(
        ConversionError, match=rf"layer '{layer}': {what} changed in Brian2.*by hand or keep the import"
    ):
        to_snntorch(imported, net)
    assert all(torch.equal(a, b) for a, b in zip(before, _weights(net)))


def test_to_snntorch_refuses_another_network():
    imported = from_snntorch(_net())
    other = _net(hidden=4)
    before = _weights(other)
    with pytest.raises(ConversionError, match=r"layer '0': the import holds Linear\(in_features=6, out_features=5"):
        to_snntorch(imported, other)
    assert all(torch.equal(a, b) for a, b in zip(before, _weights(other)))
    shorter = nn.Sequential(*list(_net())[:2])
    with pytest.raises(ConversionError, match=r"layer 2 of the import is '2', of the snnTorch network nothing"):
        to_snntorch(imported, shorter)
    swapped = _net()
    swapped[3] = snn.Leaky(beta=0.5, spike_grad=heaviside, init_hidden=True)
    with pytest.raises(ConversionError, match=r"layer '3': the import holds a CubaLIF .*snntorch.*Leaky"):
        to_snntorch(imported, swapped)
    with pytest.raises(ConversionTypeError, match="imported must be the model returned by from_snntorch"):
        to_snntorch(_net(), imported)


class _Functional(nn.Module):
    """snnTorch's functional style in float32: states passed by hand, a learnable scalar beta."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.lif1 = snn.Leaky(beta=0.8, learn_beta=True, spike_grad=heaviside)
        self.fc2 = nn.Linear(3, 2, bias=False)
        self.lif2 = snn.Leaky(beta=0.7, threshold=0.5, spike_grad=heaviside)

    def forward(self, x):
        mem1, mem2, out = self.lif1.reset_mem(), self.lif2.reset_mem(), []
        for step in x:
            spk1, mem1 = self.lif1(self.fc1(step), mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            out.append(spk2)
        return torch.stack(out)


def test_to_snntorch_functional_network_keeps_parameters_dtype_and_optimizer_view():
    torch.manual_seed(16)
    net = _Functional()
    order = ["fc1", "lif1", "fc2", "lif2"]
    imported = from_snntorch(net, layers=order)
    layers = dict(imported.named_layers())
    with torch.no_grad():
        layers["fc1"].weight.mul_(SCALE)
        layers["fc1"].bias.add_(0.25)
        layers["fc2"].weight.neg_()
    weight = net.fc1.weight
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    assert to_snntorch(imported, net, layers=order) == ["fc1", "fc2"]
    assert net.fc1.weight is weight and weight.dtype == torch.float32 and weight.requires_grad
    assert optimizer.param_groups[0]["params"][0] is weight
    for name in ("fc1", "fc2"):
        assert torch.equal(getattr(net, name).weight, layers[name].weight), name
    assert torch.equal(net.fc1.bias, layers["fc1"].bias) and net.fc2.bias is None
    x = (torch.rand(12, 3, 4, generator=torch.Generator().manual_seed(17)) < 0.6).float()
    _, ours = torch_reference(imported, x)
    theirs = snntorch_spikes(net, x, layers=order)
    assert ours["lif2"].any() and np.array_equal(ours["lif2"], theirs["lif2"])


def test_neuron_parameters_changed_in_brian2_are_written_in_their_form():
    """Per-neuron tensors take per-neuron values in place; a float threshold takes one value; a
    learnable beta stays the same Parameter; a beta clamped by LIF stays as it was when unchanged."""
    torch.manual_seed(14)
    beta = nn.Parameter(torch.tensor([1.2, 0.5, 0.7, 0.9], dtype=torch.float64))  # 1.2 runs as 1.0
    model = nn.Sequential(
        nn.Linear(3, 4),
        LIF(beta=0.8, threshold=torch.tensor([0.5, 0.6, 0.7, 0.8], dtype=torch.float32), reset_delay=True),
        nn.Linear(4, 4),
        LIF(threshold=0.9, learn_beta=True),
    ).double()
    model[1].threshold = model[1].threshold.float()  # .double() converted the buffer: keep one float32
    model[3].beta = beta
    x = torch.rand(5, 2, 3, generator=torch.Generator().manual_seed(15), dtype=torch.float64)
    with use_target("numpy"):
        converted = to_brian2(model, x, input_mode="current")
    groups = converted.groups
    groups["1"].vth[2] = 0.75  # representable in float32
    groups["3"].beta[1] = 0.25
    groups["3"].vth[:] = 1.25  # one value for all: a float threshold can take it
    threshold_1, beta_1 = model[1].threshold, model[1].beta.clone()
    to_torch(converted, model)
    assert model[1].threshold is threshold_1 and model[1].threshold.dtype == torch.float32
    assert torch.equal(model[1].threshold, torch.tensor([0.5, 0.6, 0.75, 0.8], dtype=torch.float32))
    assert model[1].beta.shape == () and torch.equal(model[1].beta, beta_1)  # a 0-d beta stays 0-d
    assert model[3].beta is beta and beta.requires_grad
    assert torch.equal(beta.detach(), torch.tensor([1.2, 0.25, 0.7, 0.9], dtype=torch.float64))
    assert type(model[3].threshold) is float and model[3].threshold == 1.25

    # per-neuron values where the layer holds one value: refused, and nothing is written
    weight, bias = model[2].weight.detach().clone(), model[2].bias.detach().clone()
    groups["3"].b[:] = 0.0  # a change that must not land
    groups["3"].vth[0] = 2.0
    with pytest.raises(ConversionError, match=r"'3'.*threshold differs between neurons.*one float"):
        to_torch(converted, model)
    groups["3"].vth[:] = 1.25
    groups["1"].beta[0] = 0.3
    with pytest.raises(ConversionError, match=r"'1'.*beta differs between neurons.*tensor of shape \(\)"):
        to_torch(converted, model)
    assert torch.equal(model[2].weight, weight) and model[3].threshold == 1.25 and torch.equal(model[1].beta, beta_1)
    assert torch.equal(model[2].bias, bias) and not torch.equal(bias, torch.zeros(4, dtype=torch.float64))
