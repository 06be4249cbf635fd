"""The DA-SSDP plug-in: hooks on our LIF layers and snnTorch neurons, against the NumPy reference."""

import io

import numpy as np
import pytest
import torch
from torch import nn

from dassdp.models.encoders import rate_encode
from dassdp.models.snn import LIF, SpikingConvNet, SpikingMLP
from dassdp.rules import reference as ref
from dassdp.rules import torch as rt
from dassdp.rules.plugin import DASSDPPlugin
from dassdp.rules.reference import DASSDPParams

snntorch = pytest.importorskip("snntorch")

N_STEPS = 6


def _capture(modules):
    """Forward hooks keeping every output of ``modules`` (the test's own record of the spikes)."""
    store = {m: [] for m in modules}
    handles = [
        m.register_forward_hook(lambda mod, i, o: store[mod].append(o[0] if isinstance(o, tuple) else o))
        for m in modules
    ]
    return store, handles


def _raster(outputs, multi_step):
    """``[T, B, C]`` numpy raster of channel activity from captured outputs."""
    x = torch.cat(outputs) if multi_step else torch.stack(outputs)
    x = (x.detach() != 0).double()
    return (x.flatten(3).amax(3) if x.ndim > 3 else x).numpy()


def _batches(n_batches, batch, n_in, seed):
    gen = torch.Generator().manual_seed(seed)
    for _ in range(n_batches):
        x = torch.rand(batch, n_in, generator=gen)
        yield rate_encode(x, N_STEPS, gen), torch.randint(0, 3, (batch,), generator=gen)


class SnnTorchNet(nn.Module):
    """A step-wise snnTorch network: fc1 -> Leaky -> fc2 -> Leaky -> fc3 (time-mean readout)."""

    def __init__(self, n_in=12, n_hidden=20, n_out=3):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = (
            nn.Linear(n_in, n_hidden),
            nn.Linear(n_hidden, n_hidden),
            nn.Linear(n_hidden, n_out),
        )
        self.lif1 = snntorch.Leaky(beta=0.8, init_hidden=True)
        self.lif2 = snntorch.Leaky(beta=0.8, init_hidden=True)

    def forward(self, x):
        self.lif1.reset_hidden()
        self.lif2.reset_hidden()
        return torch.stack([self.fc3(self.lif2(self.fc2(self.lif1(self.fc1(xt))))) for xt in x]).mean(0)


def _check_against_reference(model, layer, pre_module, post_module, weight, multi_step, params, seed=0, backend="auto"):
    """Warm-up over one epoch of 3 batches, then one update; S, the fitted gate, the gate values
    and dW against the reference."""
    torch.manual_seed(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # only the plug-in moves the weights
    plasticity = DASSDPPlugin(model, [layer], params, warmup_epochs=1, backend=backend)
    (name,) = plasticity.gates
    store, handles = _capture([pre_module, post_module])
    synchrony, losses = [], []
    for epoch, n_batches in enumerate([3, 1]):
        for x, y in _batches(n_batches, 10, 12, seed + epoch):
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            pre = ref.activity_from_raster(_raster(store[pre_module], multi_step), params.latency)
            post = ref.activity_from_raster(_raster(store[post_module], multi_step), params.latency)
            store[pre_module].clear()
            store[post_module].clear()
            s = ref.sample_synchrony(pre, post)
            before = weight.detach().clone()
            plasticity.step(loss)
            last = plasticity.last_gate[name]
            np.testing.assert_allclose(last.synchrony.numpy(), s, rtol=1e-12)
            if epoch == 0:
                synchrony.append(s)
                losses.append(np.full_like(s, loss.item()))
                assert torch.equal(weight, before)
                assert last.values is None and last.fitted is None and np.isnan(last.at_mean_synchrony)
        if epoch == 0:
            plasticity.end_epoch()
            gate = ref.fit_gate(np.concatenate(synchrony), np.concatenate(losses), params.gate_fit)
            got = plasticity.gates[name]
            np.testing.assert_allclose([got.k, got.mu, got.s], [gate.k, gate.mu, gate.s], rtol=1e-9)
    for h in handles:
        h.remove()
    assert 0 < pre.fired.mean() < 1 and 0 < post.fired.mean() < 1  # both sync and non-sync terms occur
    g = ref.gate_values(s, gate, params.gate, params.sign_tol)
    assert last.fitted == got
    np.testing.assert_allclose(last.values.numpy(), g, rtol=1e-9)
    at_mean = ref.gate_values(np.array([s.mean()]), gate, params.gate, params.sign_tol)[0]
    np.testing.assert_allclose(last.at_mean_synchrony, at_mean, rtol=1e-9)
    expected = ref.weight_update(ref.eligibility(pre, post, params.sigma, params.a_plus, params.a_base), g, params.clip)
    delta = (weight.detach() - before).double()
    if np.isfinite(params.w_min) or np.isfinite(params.w_max):  # the bounds bind, and the rest is the update
        w = before.double().numpy()
        assert (weight.detach().numpy() >= params.w_min).all() and (weight.detach().numpy() <= params.w_max).all()
        bound = (w + expected < params.w_min) | (w + expected > params.w_max)
        assert bound.any() and (~bound).any()
        expected = np.clip(w + expected, params.w_min, params.w_max) - w
    rounding = 4 * torch.finfo(weight.dtype).eps * float(weight.detach().abs().max())  # of w + dW - w
    if delta.ndim > 2:  # a convolution: every kernel tap gets the channel update
        taps = delta.flatten(2)
        assert float((taps - taps[..., :1]).abs().max()) <= rounding
        delta = taps.mean(2)
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(delta.numpy(), expected, rtol=1e-5, atol=rounding)


def test_plugin_bounds_and_detrended_fit_match_reference():
    """``w_min``/``w_max`` clip the weight where an update is applied; ``gate_fit="detrended"`` fits
    the gate on detrended records, as `ref.fit_gate` does."""
    torch.manual_seed(0)
    model = SpikingMLP([12, 16, 16], 3)
    w = model.fc[1].weight
    low, high = float(w.detach().min()) + 0.02, float(w.detach().max()) - 0.02
    params = DASSDPParams(a_plus=0.02, a_base=0.01, w_min=low, w_max=high, gate_fit="detrended")
    with torch.no_grad():  # the weights start inside the bounds; updates push some across
        w.clamp_(low + 1e-3, high - 1e-3)
    _check_against_reference(model, "lif.1", model.lif[0], model.lif[1], w, True, params)


def _backend(monkeypatch, path) -> str:
    """The plug-in's backend for ``path``: ``auto`` and ``numba`` (on the CPU both the compiled
    window of `rt.kernel_window`); ``dense`` and ``sparse``: ``tensor``, the tensor operations
    with the binned update's one-hot or sparse product (CUDA's), forced by the size threshold."""
    monkeypatch.setattr(rt, "DENSE_PRODUCT_MAX", 0 if path == "sparse" else 1 << 40)
    return "tensor" if path in ("dense", "sparse") else path


@pytest.mark.parametrize("gate", ["continuous", "sign", "off"])
@pytest.mark.parametrize(
    "latency, product", [("first", "auto"), ("last", "numba"), ("first", "dense"), ("last", "sparse")]
)
def test_plugin_on_our_mlp_matches_reference(monkeypatch, gate, latency, product):
    backend = _backend(monkeypatch, product)
    torch.manual_seed(0)
    model = SpikingMLP([12, 20, 16], 3, beta=0.8, threshold=0.5)
    params = DASSDPParams(gate=gate, latency=latency, a_plus=0.02, a_base=0.01)
    _check_against_reference(
        model, "lif.1", model.lif[0], model.lif[1], model.fc[1].weight, True, params, backend=backend
    )


def test_plugin_on_snntorch_leaky_matches_reference():
    torch.manual_seed(1)
    model = SnnTorchNet()  # snnTorch neurons emit float32 spikes
    params = DASSDPParams(a_plus=0.02, a_base=0.01)
    _check_against_reference(model, model.lif2, model.lif1, model.lif2, model.fc2.weight, False, params)


@pytest.mark.parametrize("product", ["auto", "dense", "sparse"])
def test_plugin_on_conv_layer_applies_the_channel_rule_to_every_tap(monkeypatch, product):
    backend = _backend(monkeypatch, product)
    torch.manual_seed(2)
    model = SpikingConvNet((1, 12), [4, 6], 8, 3, beta=0.8, threshold=0.3)
    params = DASSDPParams(a_plus=0.02, a_base=0.01)
    # the pre channels of conv.1 are the max-pooled lif.0 spikes; over an even length, a channel is
    # active in the pooled map exactly when it is active in lif.0's output
    _check_against_reference(
        _ChannelInput(model),
        "net.lif.1",
        model.lif[0],
        model.lif[1],
        model.conv[1].weight,
        True,
        params,
        backend=backend,
    )


class _ChannelInput(nn.Module):
    """Adds the channel axis that SpikingConvNet expects to ``[T, B, L]`` inputs."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x.unsqueeze(2))


def test_no_recording_under_no_grad_or_eval():
    model = SpikingMLP([12, 20, 16], 3, threshold=0.5)
    plasticity = DASSDPPlugin(model, ["lif.1"], DASSDPParams(gate="off"), warmup_epochs=0)
    x, _ = next(_batches(1, 4, 12, 0))
    before = model.fc[1].weight.detach().clone()
    with torch.no_grad():
        model(x)
    plasticity.step(1.0)
    model.eval()
    model(x)
    plasticity.step(1.0)
    assert torch.equal(model.fc[1].weight, before)
    model.train()
    model(x)
    plasticity.step(1.0)
    assert not torch.equal(model.fc[1].weight, before)


def test_forward_pass_does_not_keep_the_read_out_input():
    model = SpikingMLP([12, 20, 16], 3, threshold=0.5)
    plasticity = DASSDPPlugin(model, ["lif.1"], DASSDPParams(gate="off"), warmup_epochs=0)
    x, _ = next(_batches(1, 4, 12, 0))
    model(x)
    assert plasticity._last_weight is None
    assert plasticity.last_gate == {"lif.1": None}
    plasticity.step(1.0)
    assert 0 <= plasticity.last_gate["lif.1"].mean_synchrony <= 1


def test_autocast_records_and_updates_in_float32():
    torch.manual_seed(3)
    model = SpikingMLP([12, 20, 16], 3, threshold=0.5)
    plasticity = DASSDPPlugin(model, ["lif.1"], DASSDPParams(), warmup_epochs=1)
    for epoch in range(2):
        for x, y in _batches(2, 8, 12, epoch):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = nn.functional.cross_entropy(model(x.float()), y)
            plasticity.step(loss)
        plasticity.end_epoch()
    assert plasticity.state_dict()["layers"]["lif.1"]["warmup_synchrony"].dtype == torch.float64
    assert model.fc[1].weight.dtype == torch.float32 and torch.isfinite(model.fc[1].weight).all()
    assert np.isfinite(plasticity.gates["lif.1"].k)


def _train(model, optimizer, plasticity, epochs, seed):
    for epoch in epochs:
        for x, y in _batches(3, 8, 12, seed + epoch):
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            plasticity.step(loss)
        plasticity.end_epoch()


def _fresh(seed):
    torch.manual_seed(seed)
    model = SpikingMLP([12, 20, 16], 3, threshold=0.5, learn_beta=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    plasticity = DASSDPPlugin(model, ["lif.1"], DASSDPParams(a_plus=0.01), warmup_epochs=2)
    return model, optimizer, plasticity


def test_save_load_round_trip_continues_identically():
    model, optimizer, plasticity = _fresh(0)
    _train(model, optimizer, plasticity, range(3), seed=10)
    buffer = io.BytesIO()
    torch.save(
        {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "plasticity": plasticity.state_dict()},
        buffer,
    )
    _train(model, optimizer, plasticity, range(3, 5), seed=10)

    buffer.seek(0)
    saved = torch.load(buffer)
    resumed, resumed_opt, resumed_plasticity = _fresh(99)
    resumed.load_state_dict(saved["model"])
    resumed_opt.load_state_dict(saved["optimizer"])
    resumed_plasticity.load_state_dict(saved["plasticity"])
    assert resumed_plasticity.epoch == 3 and resumed_plasticity.gates == plasticity.gates
    _train(resumed, resumed_opt, resumed_plasticity, range(3, 5), seed=10)
    for (name, a), b in zip(model.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    state = resumed_plasticity.state_dict()["layers"]["lif.1"]
    assert state["warmup_synchrony"].shape == (2 * 3 * 8,)


@pytest.mark.parametrize(
    "layers, params, warmup, match",
    [
        (["fc.1"], DASSDPParams(), 1, "'fc.1' \\(Linear\\) does not emit spikes"),
        (["lif.7"], DASSDPParams(), 1, "no module named 'lif.7'"),
        ([], DASSDPParams(), 1, "layers must name"),
        (["lif.1"], DASSDPParams(), 0, "warmup_epochs must be >= 1"),
    ],
)
def test_bad_plugin_arguments(layers, params, warmup, match):
    model = SpikingMLP([12, 20, 16], 3)
    with pytest.raises(ValueError, match=match):
        DASSDPPlugin(model, layers, params, warmup_epochs=warmup)


def test_unknown_backend_is_named():
    with pytest.raises(ValueError, match="backend must be one of"):
        DASSDPPlugin(SpikingMLP([12, 20, 16], 3), ["lif.1"], backend="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_numba_backend_on_cuda_is_refused_and_auto_takes_the_tensors():
    x, _ = next(_batches(1, 4, 12, 0))
    for backend in ("auto", "numba"):
        model = SpikingMLP([12, 20, 16], 3, threshold=0.5).cuda()
        plasticity = DASSDPPlugin(model, ["lif.1"], DASSDPParams(gate="off"), warmup_epochs=0, backend=backend)
        model(x.cuda())
        if backend == "numba":
            with pytest.raises(ValueError, match="backend 'numba' runs on CPU tensors only"):
                plasticity.step(1.0)
        else:
            plasticity.step(1.0)
            assert plasticity.last_gate["lif.1"].values.device.type == "cuda"


def test_unknown_gate_mode_is_named():
    with pytest.raises(ValueError, match="gate must be one of"):
        DASSDPParams(gate="dopamine")


def test_weight_input_that_is_not_spikes_names_the_layer():
    model = SpikingMLP([12, 20], 3)
    DASSDPPlugin(model, ["lif.0"], DASSDPParams(gate="off"), warmup_epochs=0)
    with pytest.raises(ValueError, match="input of the weight feeding layer 'lif.0' must be 0/1"):
        model(torch.rand(4, 2, 12))


def test_hooked_module_that_does_not_spike_names_the_layer():
    class Graded(LIF):
        def forward(self, x):
            return super().forward(x) * 0.5

    model = SpikingMLP([12, 20, 16], 3)
    model.lif[1] = Graded()
    DASSDPPlugin(model, ["lif.1"], DASSDPParams(gate="off"), warmup_epochs=0)
    x, _ = next(_batches(1, 4, 12, 0))
    with pytest.raises(ValueError, match="output of layer 'lif.1' must be 0/1"):
        model(x.float())


def test_plugin_on_spikingjelly_multistep_nodes_matches_reference():
    pytest.importorskip("spikingjelly")
    from spikingjelly.activation_based import functional, layer, neuron

    class SpikingJellyNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = layer.Linear(12, 20, step_mode="m"), layer.Linear(20, 16, step_mode="m")
            self.lif1, self.lif2 = neuron.LIFNode(step_mode="m"), neuron.LIFNode(step_mode="m")
            self.readout = nn.Linear(16, 3)

        def forward(self, x):
            functional.reset_net(self)
            return self.readout(self.lif2(self.fc2(self.lif1(self.fc1(x))))).mean(0)

    torch.manual_seed(4)
    model = SpikingJellyNet()
    with torch.no_grad():
        model.fc1.weight.mul_(4.0)
        model.fc2.weight.mul_(4.0)
    params = DASSDPParams(a_plus=0.02, a_base=0.01)
    _check_against_reference(model, "lif2", model.lif1, model.lif2, model.fc2.weight, True, params)
