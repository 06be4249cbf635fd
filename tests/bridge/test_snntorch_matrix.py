"""snnTorch networks imported with `from_snntorch`: every layer's spikes against snnTorch's OWN
forward pass (not against this package's re-import), in this package's PyTorch import and in
Brian2 (exact mode, numpy target).

Matrix: ``Leaky`` and ``Synaptic`` x reset ``subtract``/``zero``/``none`` x ``reset_delay``
True/False, scalar and per-neuron ``beta``/``alpha``/``threshold``, biases, a Conv2d + MaxPool2d +
AvgPool2d + Flatten net, ``init_hidden`` Sequential and functional style; 50 steps, batch 4,
float64 (``model.double()`` with a dtype-preserving spike function: snnTorch's own surrogates
return float32 spikes, which a float64 Linear refuses). Tolerance: 0 mismatching raster entries in
every layer (measured: 0 everywhere). Every layer must spike in 5-95 % of its entries, and the
subtract layers must leave their stored membrane above threshold (snnTorch's pending reset, where
its step differs from this package's default) in some steps, so the comparison is not vacuous.
"""

import numpy as np
import pytest
import torch
from torch import nn

from dassdp.bridge import ConversionError, from_snntorch, to_brian2
from dassdp.bridge.check import torch_reference
from dassdp.cli import main
from dassdp.models.targets import use_target

snn = pytest.importorskip("snntorch")

T, B = 50, 4


def heaviside(x):
    """snnTorch's spike forward pass ``H(x) = x > 0``, keeping the dtype (float64)."""
    return (x > 0).to(x.dtype)


def _snntorch_run(net, x, forward=None):
    """``({layer: bool[B, T, ...]}, {layer: steps with stored v > threshold})`` of snnTorch's own
    forward pass, read by hooks on its neuron modules (``forward``: the model's own loop)."""
    neurons = {n: m for n, m in net.named_modules() if isinstance(m, snn.SpikingNeuron)}
    spikes = {n: [] for n in neurons}
    above = dict.fromkeys(neurons, 0)

    def hook(name):
        def record(module, inputs, out):
            spikes[name].append((out[0] if isinstance(out, tuple) else out).detach().clone())
            above[name] += int((module.mem > module.threshold).sum())

        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in neurons.items()]
    try:
        with torch.no_grad():
            if forward is None:
                for step in x:
                    net(step)
            else:
                forward(x)
    finally:
        for handle in handles:
            handle.remove()
    return {n: torch.stack(s).transpose(0, 1).numpy() > 0.5 for n, s in spikes.items()}, above


def _compare(net, x, imported, forward=None):
    """Assert 0 mismatches in every layer, PyTorch import and Brian2 against snnTorch."""
    expected, above = _snntorch_run(net, x, forward)
    _, ours = torch_reference(imported, x)
    with use_target("numpy"):
        brian = to_brian2(imported, x).run(report=None).spike_rasters()
    counts = {}
    for name, raster in expected.items():
        assert 0.05 < raster.mean() < 0.95, (name, raster.mean())
        counts[name] = (int((ours[name] != raster).sum()), int((brian[name] != raster).sum()))
        assert counts[name] == (0, 0), (name, counts[name])
    return above


def _neuron(kind, **kwargs):
    if kind == "Synaptic":
        return snn.Synaptic(alpha=kwargs.pop("alpha"), spike_grad=heaviside, init_hidden=True, **kwargs)
    kwargs.pop("alpha")
    return snn.Leaky(spike_grad=heaviside, init_hidden=True, **kwargs)


def _chain(kind, reset_delay):
    """Linear -> neuron(subtract; scalar beta, alpha, threshold) -> Linear -> neuron(zero; per-neuron
    beta, alpha, threshold) -> Linear -> neuron(none; per-neuron beta, scalar threshold)."""
    torch.manual_seed(7)
    gen = torch.Generator().manual_seed(8)
    net = nn.Sequential(
        nn.Linear(12, 16),
        _neuron(kind, beta=0.9, alpha=0.6, threshold=1.0, reset_mechanism="subtract", reset_delay=reset_delay),
        nn.Linear(16, 16),
        _neuron(
            kind,
            beta=torch.rand(16, generator=gen) * 0.6 + 0.3,
            alpha=torch.rand(16, generator=gen) * 0.6 + 0.2,
            threshold=torch.rand(16, generator=gen) + 0.5,
            reset_mechanism="zero",
            reset_delay=reset_delay,
        ),
        nn.Linear(16, 8),
        _neuron(
            kind,
            beta=torch.rand(8, generator=gen) * 0.5 + 0.2,
            alpha=0.5,
            threshold=1.5,
            reset_mechanism="none",
            reset_delay=reset_delay,
        ),
    )
    with torch.no_grad():
        net[0].weight.mul_(3.0)
        net[0].bias.uniform_(0.3, 1.5, generator=gen)  # strong drive: membranes overshoot the threshold
        net[2].weight.mul_(2.0)
        net[2].bias.uniform_(-0.2, 0.6, generator=gen)
        net[4].weight.mul_(1.5)
        net[4].bias.uniform_(-0.6, 0.2, generator=gen)
    return net.double()


@pytest.mark.parametrize("reset_delay", [True, False])
@pytest.mark.parametrize("kind", ["Leaky", "Synaptic"])
def test_chain_matches_snntorch_in_every_layer(kind, reset_delay):
    net = _chain(kind, reset_delay)
    x = torch.rand(T, B, 12, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    above = _compare(net, x, from_snntorch(net))
    assert above["1"] > 50, "the subtract layer never keeps its membrane above threshold: the test would be vacuous"


def test_conv_pool_flatten_net_matches_snntorch():
    """Conv2d -> Leaky (per-channel beta (4, 1, 1)) -> MaxPool2d -> Conv2d -> Synaptic (zero,
    reset_delay=False) -> AvgPool2d -> Flatten -> Linear -> Leaky."""
    torch.manual_seed(3)
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        snn.Leaky(beta=torch.tensor([0.5, 0.7, 0.8, 0.95]).reshape(4, 1, 1), spike_grad=heaviside, init_hidden=True),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3),
        snn.Synaptic(
            alpha=0.5, beta=0.8, spike_grad=heaviside, init_hidden=True, reset_mechanism="zero", reset_delay=False
        ),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(6, 5),
        snn.Leaky(beta=0.85, threshold=0.7, spike_grad=heaviside, init_hidden=True),
    )
    with torch.no_grad():
        net[0].weight.mul_(2.0)
        net[0].bias.fill_(0.4)
        net[3].weight.mul_(2.0)
        net[3].bias.fill_(0.2)
        net[7].weight.mul_(2.0)
        net[7].bias.fill_(0.3)
    net = net.double()
    x = torch.rand(T, B, 1, 8, 8, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    _compare(net, x, from_snntorch(net, input_shape=(1, 8, 8)))


class _Functional(nn.Module):
    """snnTorch's tutorial style: states passed by hand, snnTorch's default arctan surrogate (float32
    spikes, cast to float64 here), attributes assigned in an order other than the forward order."""

    def __init__(self):
        super().__init__()
        self.lif2 = snn.Leaky(beta=0.8, reset_mechanism="zero")
        self.fc1 = nn.Linear(10, 12)
        self.lif1 = snn.Synaptic(alpha=0.7, beta=torch.linspace(0.5, 0.95, 12), threshold=torch.linspace(0.8, 1.2, 12))
        self.fc2 = nn.Linear(12, 6)

    def forward(self, x):
        syn1, mem1 = self.lif1.reset_mem()
        mem2 = self.lif2.reset_mem()
        out = []
        for step in x:
            spk1, syn1, mem1 = self.lif1(self.fc1(step), syn1, mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1.double()), mem2)
            out.append(spk2.double())
        return torch.stack(out)


def test_functional_style_matches_snntorch():
    torch.manual_seed(5)
    net = _Functional()
    with torch.no_grad():
        net.fc1.weight.mul_(2.0)
        net.fc1.bias.fill_(0.3)
        net.fc2.weight.mul_(2.0)
        net.fc2.bias.fill_(0.2)
    net = net.double()
    x = torch.rand(T, B, 10, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    imported = from_snntorch(net, layers=["fc1", "lif1", "fc2", "lif2"])
    assert imported.names == ["fc1", "lif1", "fc2", "lif2"]
    _compare(net, x, imported, forward=net)
    by_module = from_snntorch(net, layers=[net.fc1, net.lif1, net.fc2, net.lif2])
    assert by_module.names == imported.names
    with pytest.raises(ConversionError, match=r"\(lif2, fc1, lif1, fc2\) cannot be its forward order.*layers="):
        from_snntorch(net)  # default: the assignment order, lif2 first
    linears_first = nn.Module()
    for name in ("fc1", "fc2", "lif1", "lif2"):
        setattr(linears_first, name, getattr(net, name))
    with pytest.raises(ConversionError, match=r"\(fc1, fc2, lif1, lif2\) cannot be its forward order"):
        from_snntorch(linears_first)  # was imported as fc1 -> fc2 -> lif1 -> lif2 without a word


def test_output_true_is_accepted_and_changes_no_spike():
    """snnTorch tutorials end a Sequential with ``output=True`` (the layer also returns its membrane)."""
    torch.manual_seed(11)
    net = nn.Sequential(
        nn.Linear(10, 12),
        snn.Leaky(beta=0.9, spike_grad=heaviside, init_hidden=True),
        nn.Linear(12, 5),
        snn.Leaky(beta=0.9, spike_grad=heaviside, init_hidden=True, output=True),
    )
    with torch.no_grad():
        net[0].bias.fill_(0.5)
        net[2].bias.fill_(0.3)
    x = (torch.rand(T, B, 10, generator=torch.Generator().manual_seed(12)) < 0.4).float()
    expected, _ = _snntorch_run(net, x)
    _, ours = torch_reference(from_snntorch(net), x)
    for name, raster in expected.items():
        assert 0.05 < raster.mean() < 0.95 and int((ours[name] != raster).sum()) == 0, name


def _refused(**kwargs):
    return nn.Sequential(nn.Linear(3, 4), snn.Leaky(beta=0.9, init_hidden=True, **kwargs))


def _changed_reset():
    net = _refused()
    net[1].reset_mechanism = "zero"  # snnTorch keeps integrating with the subtract rule
    return net


@pytest.mark.parametrize(
    "build, setting",
    [
        (lambda: _refused(inhibition=True), "inhibition=True"),
        (lambda: _refused(state_quant=lambda m: m), "state_quant"),
        (lambda: _refused(graded_spikes_factor=2.0), "graded_spikes_factor"),
        (lambda: _refused(spike_grad=lambda x: (x >= 0).float()), "spike_grad"),
        (lambda: _refused(threshold=-1.0), "threshold <= 0"),
        (lambda: _refused(threshold=torch.ones(3)), "threshold of shape"),
        (_changed_reset, "reset_mechanism='zero'"),
        (lambda: nn.Sequential(nn.Linear(3, 4), snn.RLeaky(beta=0.9, linear_features=4, init_hidden=True)), "RLeaky"),
        (lambda: nn.Sequential(nn.Linear(3, 4), snn.Alpha(alpha=0.9, beta=0.8, init_hidden=True)), "Alpha"),
        (lambda: nn.Sequential(nn.Linear(3, 4), snn.Lapicque(beta=0.9, init_hidden=True)), "Lapicque"),
        (lambda: nn.Sequential(nn.Linear(3, 4), nn.ReLU()), "ReLU"),
    ],
)
def test_settings_without_exact_counterpart_are_refused(build, setting):
    with pytest.raises(ConversionError, match=rf"'1'.*{setting.replace('(', '.').replace(')', '.')}"):
        from_snntorch(build())


def test_biophysical_mode_refuses_snntorch_steps():
    net = nn.Sequential(nn.Linear(3, 4), snn.Leaky(beta=0.9, init_hidden=True, spike_grad=heaviside)).double()
    with pytest.raises(ConversionError, match=r"'1'.*reset_delay=True.*mode='exact'"):
        to_brian2(from_snntorch(net), torch.rand(5, 2, 3, dtype=torch.float64), mode="biophysical")


_ENTRY = """
import torch
import snntorch as snn
from torch import nn


def heaviside(x):
    return (x > 0).to(x.dtype)


def build():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(6, 10),
        snn.Leaky(beta=0.9, init_hidden=True, spike_grad=heaviside),
        nn.Linear(10, 4),
        snn.Synaptic(alpha=0.5, beta=0.8, init_hidden=True, spike_grad=heaviside, reset_mechanism="zero"),
    )
    with torch.no_grad():
        net[0].weight.mul_(3.0)
        net[0].bias.fill_(0.5)
        net[2].weight.mul_(2.0)
        net[2].bias.fill_(0.3)
    return net.double()
"""


def test_cli_check_compares_with_snntorch_itself(tmp_path, monkeypatch, capsys):
    (tmp_path / "snn_entry_model.py").write_text(_ENTRY)
    monkeypatch.syspath_prepend(str(tmp_path))
    argv = ["--to", "brian2", "--samples", "2", "--steps", "30", "--check"]
    assert main(["convert", "snn_entry_model:build", *argv]) == 0
    out = capsys.readouterr().out
    assert "check against snnTorch's own forward pass" in out and "identical spike rasters: True" in out
    assert " 0 of 600 entries differ" in out and " 0 of 240 entries differ" in out
    from snn_entry_model import build

    torch.save(build(), tmp_path / "snn.pt")
    assert main(["convert", str(tmp_path / "snn.pt"), *argv]) == 2  # a pickle: only with --trust-pickle
    assert "--trust-pickle" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "snn.pt"), *argv, "--trust-pickle"]) == 0
    assert "check against snnTorch's own forward pass" in capsys.readouterr().out
    assert main(["convert", "snn_entry_model:missing", *argv]) == 2
    assert "entry point 'snn_entry_model:missing'" in capsys.readouterr().err


_FUNCTIONAL_ENTRY = """
import torch
import snntorch as snn
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(6, 8), nn.Linear(8, 3)  # both Linear layers first
        self.lif1 = snn.Leaky(beta=0.9, spike_grad=lambda x: (x > 0).to(x.dtype))
        self.lif2 = snn.Leaky(beta=0.8, spike_grad=lambda x: (x > 0).to(x.dtype))
        with torch.no_grad():
            self.fc1.bias.fill_(0.6)
            self.fc2.bias.fill_(0.2)

    def forward(self, x):
        mem1, mem2 = self.lif1.reset_mem(), self.lif2.reset_mem()
        for step in x:
            spk1, mem1 = self.lif1(self.fc1(step), mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
        return spk2


def build():
    torch.manual_seed(3)
    return Net()
"""


def test_cli_functional_style_needs_its_forward_order(tmp_path, monkeypatch, capsys):
    """Run from the model's own directory (the current directory is on the module path, as with
    `python -m`); the assignment order is refused with a pointer to --layers, which fixes it."""
    (tmp_path / "functional_entry.py").write_text(_FUNCTIONAL_ENTRY)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.path", list(__import__("sys").path))
    argv = ["convert", "functional_entry:build", "--to", "brian2", "--samples", "2", "--steps", "30", "--check"]
    assert main(argv) == 2
    assert "cannot be its forward order" in capsys.readouterr().err
    assert main([*argv, "--layers", "fc1,lif1,fc2,lif2"]) == 0
    out = capsys.readouterr().out
    assert "identical spike rasters: True" in out and " 0 of 480 entries differ" in out


def test_cli_check_of_a_nir_graph_says_what_it_compared(tmp_path, capsys):
    from dassdp.models.snn import SpikingMLP

    torch.save(SpikingMLP([6, 5], 2), tmp_path / "mlp.pt")
    assert main(["convert", str(tmp_path / "mlp.pt"), "--to", "nir", "--trust-pickle"]) == 0
    capsys.readouterr()
    assert main(
        ["convert", str(tmp_path / "mlp.nir"), "--to", "brian2", "--samples", "2", "--steps", "5", "--check"]
    ) in (0, 1)
    assert "not with the framework that wrote it" in capsys.readouterr().out


def test_imported_parameters_keep_snntorch_values():
    """Per-neuron values are copied exactly (clamped as snnTorch clamps beta and alpha)."""
    beta = torch.tensor([1.5, 0.3, -0.2, 0.9], dtype=torch.float64)
    net = nn.Sequential(nn.Linear(3, 4), snn.Leaky(beta=beta, init_hidden=True, spike_grad=heaviside)).double()
    layer = dict(from_snntorch(net).named_layers())["1"]
    assert torch.equal(layer.beta, beta.clamp(0, 1)) and layer.reset_delay is True
    assert np.array_equal(layer.parameters_tuple().beta.numpy(), [1.0, 0.3, 0.0, 0.9])


def test_reset_none_in_this_package_step_matches_brian2():
    """``LIF(reset="none")`` with this package's own step (``reset_delay=None``) converts exactly too."""
    from dassdp.bridge.check import agreement
    from dassdp.models.snn import LIF

    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(5, 6), LIF(beta=0.7, threshold=1.0, reset="none")).double()
    x = torch.rand(T, B, 5, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 2
    with use_target("numpy"):
        result = agreement(to_brian2(model, x).run(report=None), model)
    assert result["identical_rasters"] and 0 < result["layers"]["1"]["torch_spikes"] < T * B * 6
