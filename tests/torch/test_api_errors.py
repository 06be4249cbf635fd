"""The PyTorch-side public API refuses bad arguments with TypeError/ValueError naming them, and the
plug-in refuses a non-finite loss without recording, applying or fitting anything."""

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

from dassdp.models import encoders
from dassdp.models.encoders import rate_encode
from dassdp.models.snn import LIF, LIFParameters, LIFState, SpikingConvNet, SpikingMLP, lif_sequence, lif_step, spike
from dassdp.rules import reference as ref
from dassdp.rules import torch as rt
from dassdp.rules.plugin import DASSDPPlugin
from dassdp.rules.reference import DASSDPParams, Gate

NAN, INF = float("nan"), float("inf")
N_STEPS = 6


def _batch(seed, batch=6):
    gen = torch.Generator().manual_seed(seed)
    return rate_encode(torch.rand(batch, 12, generator=gen), N_STEPS, gen), torch.randint(0, 3, (batch,), generator=gen)


def _model(threshold=0.5):
    torch.manual_seed(0)
    return SpikingMLP([12, 20, 16], 3, threshold=threshold)


def _forward(model, seed, batch=6):
    """One training forward pass (which the plug-in records); returns the batch loss."""
    x, y = _batch(seed, batch)
    return nn.functional.cross_entropy(model(x), y)


def _snapshot(model, plasticity):
    return (
        copy.deepcopy(plasticity.state_dict()),
        {k: v.clone() for k, v in model.state_dict().items()},
        dict(plasticity.last_gate),
    )


def _assert_unchanged(before, model, plasticity):
    state, weights, last = before
    now = plasticity.state_dict()
    assert now["epoch"] == state["epoch"]
    for name, saved in state["layers"].items():
        assert now["layers"][name]["gate"] == saved["gate"]
        for key in ("warmup_synchrony", "warmup_loss"):
            assert torch.equal(now["layers"][name][key], saved[key]), key
    for key, value in model.state_dict().items():
        assert torch.equal(value, weights[key]), key
    assert all(plasticity.last_gate[name] is gate for name, gate in last.items())


def _spike_capture(model):
    store = {"pre": [], "post": []}
    handles = [
        model.lif[0].register_forward_hook(lambda m, i, o: store["pre"].append(o.detach())),
        model.lif[1].register_forward_hook(lambda m, i, o: store["post"].append(o.detach())),
    ]
    return store, handles


# 1. a NaN/inf loss is refused (in warm-up and after it) and leaves the plug-in as it was


@pytest.mark.parametrize("phase", ["warmup", "after"])
@pytest.mark.parametrize("bad", [NAN, INF, -INF, "tensor_nan"])
@pytest.mark.parametrize("gate", ["continuous", "sign"])
def test_non_finite_loss_is_refused_and_changes_nothing(gate, bad, phase):
    model = _model()
    plasticity = DASSDPPlugin(model, ["lif.1"], DASSDPParams(gate=gate, a_plus=0.02, a_base=0.01), warmup_epochs=1)
    for seed in range(2):
        plasticity.step(_forward(model, seed))
    if phase == "after":
        plasticity.end_epoch()
        plasticity.step(_forward(model, 2))
    before = _snapshot(model, plasticity)
    loss = _forward(model, 3)
    bad_loss = loss * NAN if bad == "tensor_nan" else bad
    with pytest.raises(ValueError, match="loss must be finite"):
        plasticity.step(bad_loss)
    _assert_unchanged(before, model, plasticity)

    # the refused batch's window is dropped: the next one (another batch size) starts afresh
    store, handles = _spike_capture(model)
    loss = _forward(model, 4, batch=4)
    for h in handles:
        h.remove()
    weight = model.fc[1].weight.detach().clone()
    plasticity.step(loss)
    pre = rt.activity_from_raster(store["pre"][0])[0]
    post = rt.activity_from_raster(store["post"][0])[0]
    expected = rt.sample_synchrony(pre, post)
    torch.testing.assert_close(plasticity.last_gate["lif.1"].synchrony, expected, rtol=1e-12, atol=0)
    if phase == "warmup":
        records = plasticity.state_dict()["layers"]["lif.1"]
        assert records["warmup_synchrony"].shape == (6 + 6 + 4,)
        assert torch.isfinite(records["warmup_loss"]).all()
        plasticity.end_epoch()
        fitted = ref.fit_gate(records["warmup_synchrony"].numpy(), records["warmup_loss"].numpy())
        assert plasticity.gates["lif.1"] == fitted and math.isfinite(fitted.k)
        weight = model.fc[1].weight.detach().clone()
        plasticity.step(_forward(model, 5))
    assert torch.isfinite(model.fc[1].weight).all() and not torch.equal(model.fc[1].weight, weight)


@pytest.mark.parametrize(
    "loss, error, match",
    [
        ("0.5", TypeError, "loss must be a real number"),
        (None, TypeError, "loss must be a real number"),
        (True, TypeError, "loss must be a real number"),
        (torch.tensor(True), TypeError, "loss must be a real number"),
        (torch.tensor(1 + 1j), TypeError, "loss must be a real number"),
        (torch.ones(3), ValueError, "loss must be one number"),
    ],
)
def test_loss_that_is_not_one_number_is_refused(loss, error, match):
    """After warm-up the loss is not used, and was not looked at: now it is checked all the same."""
    model = _model()
    plasticity = DASSDPPlugin(model, ["lif.1"], DASSDPParams(gate="off"), warmup_epochs=0)
    before = _snapshot(model, plasticity)
    _forward(model, 0)
    with pytest.raises(error, match=match):
        plasticity.step(loss)
    _assert_unchanged(before, model, plasticity)


@pytest.mark.parametrize("records", ["silent layer", "constant loss"])
@pytest.mark.parametrize("gate", ["continuous", "sign"])
def test_uninformative_warmup_fits_the_neutral_gate(gate, records):
    """All S_b equal (a silent layer: S = 0) or all L_b equal: k = 0 up to rounding, so g_b = 1."""
    model = _model(threshold=1e3 if records == "silent layer" else 0.5)
    plasticity = DASSDPPlugin(model, ["lif.1"], DASSDPParams(gate=gate), warmup_epochs=1)
    for seed in range(3):
        loss = _forward(model, seed)
        plasticity.step(1.0 if records == "constant loss" else loss)
    plasticity.end_epoch()
    fitted = plasticity.gates["lif.1"]
    assert abs(fitted.k) < 1e-12 and abs(fitted.k / fitted.s) < 1e-6
    plasticity.step(_forward(model, 3))
    last = plasticity.last_gate["lif.1"]
    assert torch.allclose(last.values, torch.ones_like(last.values), rtol=0, atol=1e-6)
    probe = torch.linspace(0, 1, 5, dtype=torch.float64)
    assert torch.allclose(rt.gate_values(probe, fitted, gate), torch.ones_like(probe), rtol=0, atol=1e-6)
    assert torch.isfinite(model.fc[1].weight).all()


def test_too_few_warmup_records_raise_and_warmup_goes_on():
    """One (S, L) record cannot be fitted: `end_epoch` raises and does not count the epoch."""
    model = _model()
    plasticity = DASSDPPlugin(model, ["lif.1"], DASSDPParams(), warmup_epochs=1)
    plasticity.step(_forward(model, 0, batch=1))
    with pytest.raises(RuntimeError, match="'lif.1' recorded 1 \\(S, L\\) pairs .* at least 2"):
        plasticity.end_epoch()
    assert plasticity.epoch == 0 and plasticity.in_warmup and plasticity.gates == {"lif.1": None}
    plasticity.step(_forward(model, 1, batch=1))
    plasticity.end_epoch()
    assert plasticity.epoch == 1 and math.isfinite(plasticity.gates["lif.1"].k)


def test_non_finite_gate_or_records_are_refused():
    """A gate with NaN k would give NaN weights (continuous) or a sign of -1 (sign): set_gate,
    load_state_dict and gate_line refuse it, and a failed load changes nothing."""
    model = _model()
    plasticity = DASSDPPlugin(model, ["lif.1"], DASSDPParams(gate="sign"), warmup_epochs=1)
    with pytest.raises(ValueError, match="gate.k must be finite"):
        plasticity.set_gate("lif.1", Gate(NAN, 0.1, 0.1))
    with pytest.raises(ValueError, match="gate.s must be > 0"):
        plasticity.set_gate("lif.1", Gate(0.5, 0.1, 0.0))
    with pytest.raises(TypeError, match="gate must be a Gate"):
        plasticity.set_gate("lif.1", (0.5, 0.1, 0.1))
    assert plasticity.gates == {"lif.1": None}
    with pytest.raises(ValueError, match="gate.k must be finite"):
        rt.gate_line(Gate(NAN, 0.1, 0.1), "sign")
    for seed in range(2):
        plasticity.step(_forward(model, seed))
    plasticity.end_epoch()
    state = plasticity.state_dict()
    fresh = DASSDPPlugin(_model(), ["lif.1"], DASSDPParams(gate="sign"), warmup_epochs=1)
    bad = copy.deepcopy(state)
    bad["layers"]["lif.1"]["warmup_loss"][3] = NAN
    with pytest.raises(ValueError, match="state\\['layers'\\]\\['lif.1'\\]\\['warmup_loss'\\] must be finite"):
        fresh.load_state_dict(bad)
    bad = copy.deepcopy(state)
    bad["layers"]["lif.1"]["gate"][0] = NAN
    with pytest.raises(ValueError, match="\\['gate'\\].k must be finite"):
        fresh.load_state_dict(bad)
    bad = copy.deepcopy(state)
    bad["epoch"] = 1.5
    with pytest.raises(TypeError, match="state\\['epoch'\\]"):
        fresh.load_state_dict(bad)
    assert (
        fresh.epoch == 0
        and fresh.gates == {"lif.1": None}
        and fresh.state_dict()["layers"]["lif.1"]["warmup_synchrony"].numel() == 0
    )
    fresh.load_state_dict(state)
    assert fresh.gates == plasticity.gates


# 2. numbers, kinds and names of every public entry point


def _plugin(layers=("lif.1",), **kwargs):
    model = kwargs.pop("model", None) or SpikingMLP([12, 20, 16], 3)
    return DASSDPPlugin(model, list(layers) if isinstance(layers, tuple) else layers, **kwargs)


def _activity(batch=2, n=5, steps=3, mode="first"):
    activity = rt.RunningActivity(mode)
    activity.update(torch.zeros(steps, batch, n))
    return activity


def _kernel_window(**kwargs):
    args = dict(pre=_activity(2, 5), post=_activity(2, 3), weight=torch.zeros(3, 5), line=(0.0, 0.0, 1.0, 1.0))
    args.update(kwargs)
    return rt.kernel_window(**args)


def _update(function="dassdp_update", **kwargs):
    args = dict(
        pre_fired=torch.ones(2, 5),
        post_fired=torch.ones(2, 3),
        pre_latency=torch.zeros(2, 5),
        post_latency=torch.zeros(2, 3),
        g=torch.ones(2),
    )
    if function == "binned_update":
        args["n_steps"] = 3
    args.update(kwargs)
    return getattr(rt, function)(**args)


def _update_spikes(spikes, **kwargs):
    rt.RunningActivity().update(spikes, **kwargs)


def _with(tensor, index, value):
    tensor = tensor.clone()
    tensor[index] = value
    return tensor


X = torch.rand(2, 4)
GEN = torch.Generator().manual_seed(0)
GATE = Gate(0.5, 0.1, 0.2)

BAD_ARGUMENTS = {
    # DASSDPPlugin
    "warmup_epochs nan": (lambda: _plugin(warmup_epochs=NAN), TypeError, "warmup_epochs must be an integer"),
    "warmup_epochs inf": (lambda: _plugin(warmup_epochs=INF), TypeError, "warmup_epochs must be an integer"),
    "warmup_epochs str": (lambda: _plugin(warmup_epochs="3"), TypeError, "warmup_epochs must be an integer"),
    "warmup_epochs bool": (lambda: _plugin(warmup_epochs=True), TypeError, "warmup_epochs must be an integer"),
    "warmup_epochs float": (lambda: _plugin(warmup_epochs=2.0), TypeError, "warmup_epochs must be an integer"),
    "warmup_epochs negative": (lambda: _plugin(warmup_epochs=-1), ValueError, "warmup_epochs must be >= 0"),
    "layers str": (lambda: _plugin(layers="lif.1"), TypeError, "layers must be a list"),
    "layers int": (lambda: _plugin(layers=[3]), TypeError, "layers must hold module names"),
    "layers unknown": (
        lambda: _plugin(layers=["lif.9"]),
        ValueError,
        "no module named 'lif.9'; the model's spiking layers are \\['lif.0', 'lif.1'\\]",
    ),
    "layers not spiking": (
        lambda: _plugin(layers=["fc.1"]),
        ValueError,
        "'fc.1' \\(Linear\\) does not emit spikes.*spiking layers are \\['lif.0', 'lif.1'\\]",
    ),
    "layers foreign module": (
        lambda: _plugin(layers=[nn.Linear(2, 2)]),
        ValueError,
        "layers: Linear module is not part of the model; the model's spiking layers are",
    ),
    "layers no spiking layer": (
        lambda: _plugin(layers=["0"], model=nn.Sequential(nn.Linear(2, 2))),
        ValueError,
        "layers: .* the model has no spiking layer",
    ),
    "layers twice": (lambda: _plugin(layers=["lif.1", "lif.1"]), ValueError, "layers: each layer may be given once"),
    "model": (lambda: DASSDPPlugin("net", ["lif.1"]), TypeError, "model must be a torch.nn.Module"),
    "params": (lambda: _plugin(params={"gate": "off"}), TypeError, "params must be a DASSDPParams"),
    "backend nan": (lambda: _plugin(backend=NAN), ValueError, "backend must be one of"),
    "set_gate layer": (lambda: _plugin().set_gate(1, GATE), TypeError, "layer must be a layer name"),
    "set_gate unknown layer": (lambda: _plugin().set_gate("lif.0", GATE), ValueError, "no plastic layer 'lif.0'"),
    "load_state_dict": (lambda: _plugin().load_state_dict([1]), TypeError, "state must be a dict"),
    # dassdp.rules.torch
    "latency": (lambda: rt.RunningActivity("middle"), ValueError, "latency must be one of"),
    "positions negative": (lambda: _update_spikes(torch.zeros(2, 2, 3), positions=-1), ValueError, "positions"),
    "positions float": (lambda: _update_spikes(torch.zeros(2, 2, 3), positions=1.0), TypeError, "positions"),
    "positions bool": (lambda: _update_spikes(torch.zeros(2, 2, 3), positions=True), TypeError, "positions"),
    "positions too many": (lambda: _update_spikes(torch.zeros(2, 2, 3), positions=2), ValueError, "spikes must have"),
    "spikes array": (lambda: _update_spikes(np.zeros((2, 2, 3))), TypeError, "spikes must be a torch.Tensor"),
    "spikes 1-d": (lambda: _update_spikes(torch.zeros(4)), ValueError, "spikes must have at least 2 dimensions"),
    "spikes no step": (lambda: _update_spikes(torch.zeros(0, 2, 3)), ValueError, "spikes must hold at least one step"),
    "spikes graded": (lambda: _update_spikes(torch.full((2, 2, 3), 0.5)), ValueError, "spikes must be 0/1"),
    "spikes nan": (lambda: _update_spikes(torch.full((2, 2, 3), NAN)), ValueError, "spikes must be 0/1"),
    "raster nan": (lambda: rt.activity_from_raster(torch.full((2, 2, 3), NAN)), ValueError, "spikes must be 0/1"),
    "device str": (lambda: rt.resolve_backend("auto", "cpu"), TypeError, "device must be a torch.device"),
    "kernel_window_takes weight": (
        lambda: rt.kernel_window_takes(np.zeros((3, 5)), "auto"),
        TypeError,
        "weight must be a torch.Tensor",
    ),
    "kernel sigma nan": (lambda: _kernel_window(sigma=NAN), ValueError, "sigma must be > 0"),
    "kernel sigma str": (lambda: _kernel_window(sigma="1"), TypeError, "sigma must be a real number"),
    "kernel clip inf": (lambda: _kernel_window(clip=INF), ValueError, "clip must be > 0"),
    "kernel a_plus nan": (lambda: _kernel_window(a_plus=NAN), ValueError, "a_plus must be >= 0"),
    "kernel a_base negative": (lambda: _kernel_window(a_base=-1e-3), ValueError, "a_base must be >= 0"),
    "kernel line nan": (lambda: _kernel_window(line=(NAN, 0.0, 0.0, 2.0)), ValueError, "line slope must be finite"),
    "kernel line str": (lambda: _kernel_window(line=(0.0, "0", 0.0, 2.0)), TypeError, "line mu must be a real"),
    "kernel line list": (lambda: _kernel_window(line=[0.0, 0.0, 1.0, 1.0]), TypeError, "line must be a tuple"),
    "kernel line lo > hi": (lambda: _kernel_window(line=(0.0, 0.0, 2.0, 0.0)), ValueError, "line must have lo <= hi"),
    "kernel weight transposed": (lambda: _kernel_window(weight=torch.zeros(5, 3)), ValueError, "the weight \\(5, 3\\)"),
    "kernel weight half": (
        lambda: _kernel_window(weight=torch.zeros(3, 5, dtype=torch.float16)),
        ValueError,
        "weight must be a contiguous float32 or float64 CPU tensor",
    ),
    "kernel weight strided": (
        lambda: _kernel_window(weight=torch.zeros(5, 3).T),
        ValueError,
        "weight must be a contiguous",
    ),
    "kernel windows differ": (lambda: _kernel_window(pre=_activity(steps=4)), ValueError, "pre and post must cover"),
    "kernel modes differ": (lambda: _kernel_window(pre=_activity(mode="last")), ValueError, "pre and post must cover"),
    "kernel batches differ": (lambda: _kernel_window(post=_activity(3, 3)), ValueError, "post \\[3, 3\\] activity"),
    "kernel empty window": (lambda: _kernel_window(pre=rt.RunningActivity()), ValueError, "pre: no spikes"),
    "kernel pre": (lambda: _kernel_window(pre="spikes"), TypeError, "pre must be a RunningActivity"),
    "synchrony 1-d": (
        lambda: rt.sample_synchrony(torch.ones(5), torch.ones(2, 3)),
        ValueError,
        "pre_fired must have 2 dimensions",
    ),
    "synchrony batches": (lambda: rt.sample_synchrony(torch.ones(2, 5), torch.ones(3, 3)), ValueError, "batch sizes"),
    "gate k nan sign": (lambda: rt.gate_line(Gate(NAN, 0.1, 0.2), "sign"), ValueError, "gate.k must be finite"),
    "gate mu inf": (lambda: rt.gate_line(Gate(0.5, INF, 0.2), "continuous"), ValueError, "gate.mu must be finite"),
    "gate s zero": (lambda: rt.gate_line(Gate(0.5, 0.1, 0.0), "continuous"), ValueError, "gate.s must be > 0"),
    "gate tuple": (lambda: rt.gate_line((0.5, 0.1, 0.2), "continuous"), TypeError, "gate must be a Gate"),
    "gate tol nan": (lambda: rt.gate_line(GATE, "sign", NAN), ValueError, "tol must be >= 0"),
    "gate tol str": (lambda: rt.gate_line(GATE, "sign", "0"), TypeError, "tol must be a real number"),
    "gate_values synchrony": (
        lambda: rt.gate_values(np.ones(3), GATE, "continuous"),
        TypeError,
        "synchrony must be a torch.Tensor",
    ),
    "exact sigma nan": (lambda: _update("exact_update", sigma=NAN), ValueError, "sigma must be > 0"),
    "exact a_plus inf": (lambda: _update("exact_update", a_plus=INF), ValueError, "a_plus must be >= 0"),
    "exact max_elements float": (
        lambda: _update("exact_update", max_elements=1.5),
        TypeError,
        "max_elements must be an integer",
    ),
    "exact max_elements nan": (
        lambda: _update("exact_update", max_elements=NAN),
        TypeError,
        "max_elements must be an integer",
    ),
    "exact max_elements zero": (lambda: _update("exact_update", max_elements=0), ValueError, "max_elements must be >="),
    "exact g nan": (lambda: _update("exact_update", g=torch.tensor([1.0, NAN])), ValueError, "g must be finite"),
    "exact g array": (lambda: _update("exact_update", g=np.ones(2)), TypeError, "g must be a torch.Tensor"),
    "exact latency nan": (
        lambda: _update("exact_update", pre_latency=_with(torch.zeros(2, 5), (0, 1), NAN)),
        ValueError,
        "pre_latency must be finite",
    ),
    "exact fired graded": (
        lambda: _update("exact_update", post_fired=_with(torch.ones(2, 3), (1, 2), 0.5)),
        ValueError,
        "post_fired must be 0/1",
    ),
    "binned n_steps nan": (lambda: _update("binned_update", n_steps=NAN), TypeError, "n_steps must be an integer"),
    "binned n_steps inf": (lambda: _update("binned_update", n_steps=INF), TypeError, "n_steps must be an integer"),
    "binned n_steps str": (lambda: _update("binned_update", n_steps="3"), TypeError, "n_steps must be an integer"),
    "binned n_steps bool": (lambda: _update("binned_update", n_steps=True), TypeError, "n_steps must be an integer"),
    "binned n_steps zero": (lambda: _update("binned_update", n_steps=0), ValueError, "n_steps must be >= 1"),
    "binned sigma inf": (lambda: _update("binned_update", sigma=INF), ValueError, "sigma must be > 0"),
    "binned g nan": (lambda: _update("binned_update", g=torch.tensor([NAN, 1.0])), ValueError, "g must be finite"),
    "binned fired graded": (
        lambda: _update("binned_update", pre_fired=_with(torch.ones(2, 5), (0, 0), 0.5)),
        ValueError,
        "pre_fired must be 0/1",
    ),
    "update clip nan": (lambda: _update(clip=NAN), ValueError, "clip must be > 0"),
    "update max_elements nan": (lambda: _update(max_elements=NAN), TypeError, "max_elements must be an integer"),
    "update n_steps nan": (lambda: _update(n_steps=NAN), TypeError, "n_steps must be an integer"),
    "update pre_fired list": (lambda: _update(pre_fired=[[1.0] * 5] * 2), TypeError, "pre_fired must be a torch"),
    # dassdp.models.snn
    "LIF beta nan": (lambda: LIF(beta=NAN), ValueError, "beta must be finite"),
    "LIF beta inf": (lambda: LIF(beta=INF), ValueError, "beta must be finite"),
    "LIF beta str": (lambda: LIF(beta="0.9"), TypeError, "beta must be a real number"),
    "LIF beta bool": (lambda: LIF(beta=True), TypeError, "beta must be a real number"),
    "LIF beta above 1": (lambda: LIF(beta=1.5), ValueError, "beta must lie in \\[0, 1\\]"),
    "LIF threshold inf": (lambda: LIF(threshold=INF), ValueError, "threshold must be > 0 and finite"),
    "LIF threshold nan": (lambda: LIF(threshold=NAN), ValueError, "threshold must be > 0 and finite"),
    "LIF threshold str": (lambda: LIF(threshold="1"), TypeError, "threshold must be a real number"),
    "LIF threshold negative": (lambda: LIF(threshold=-1.0), ValueError, "threshold must be > 0"),
    "LIF alpha nan": (lambda: LIF(alpha=NAN), ValueError, "alpha must be > 0"),
    "LIF alpha zero": (lambda: LIF(alpha=0), ValueError, "alpha must be > 0"),
    "LIF reset": (lambda: LIF(reset=None), ValueError, "reset must be one of"),
    "LIF surrogate": (lambda: LIF(surrogate="relu"), ValueError, "surrogate must be one of"),
    "LIF learn_beta": (lambda: LIF(learn_beta="yes"), TypeError, "learn_beta must be a bool"),
    "spike surrogate": (lambda: spike(X, "relu"), ValueError, "surrogate must be one of"),
    "spike alpha nan": (lambda: spike(X, alpha=NAN), ValueError, "alpha must be > 0"),
    "spike x": (lambda: spike(X.numpy()), TypeError, "x must be a torch.Tensor"),
    "lif_step threshold nan": (
        lambda: lif_step(X, LIFState(X), LIFParameters(threshold=NAN)),
        ValueError,
        "threshold must be > 0",
    ),
    "lif_step reset": (lambda: lif_step(X, LIFState(X), LIFParameters(reset="hard")), ValueError, "reset must be"),
    "lif_step beta": (lambda: lif_step(X, LIFState(X), LIFParameters(beta=2.0)), ValueError, "beta must lie"),
    "lif_step p tuple": (lambda: lif_step(X, LIFState(X), (0.9, 1.0)), TypeError, "p must be LIFParameters"),
    "lif_step state": (lambda: lif_step(X, X, LIFParameters()), TypeError, "state must be a LIFState"),
    "lif_sequence no step": (
        lambda: lif_sequence(torch.zeros(0, 2, 3), LIFParameters()),
        ValueError,
        "currents must hold at least one step",
    ),
    "lif_sequence array": (
        lambda: lif_sequence(np.zeros((2, 2)), LIFParameters()),
        TypeError,
        "currents must be a torch.Tensor",
    ),
    "lif_sequence alpha inf": (
        lambda: lif_sequence(torch.zeros(2, 2), LIFParameters(alpha=INF)),
        ValueError,
        "alpha must be > 0",
    ),
    "LIF forward no step": (lambda: LIF()(torch.zeros(0, 2, 3)), ValueError, "currents must hold at least one step"),
    "MLP size negative": (lambda: SpikingMLP([12, -3], 3), ValueError, "sizes\\[1\\] must be >= 1"),
    "MLP size float": (lambda: SpikingMLP([12, 2.5], 3), TypeError, "sizes\\[1\\] must be an integer"),
    "MLP size nan": (lambda: SpikingMLP([NAN, 4], 3), TypeError, "sizes\\[0\\] must be an integer"),
    "MLP size bool": (lambda: SpikingMLP([12, True], 3), TypeError, "sizes\\[1\\] must be an integer"),
    "MLP sizes str": (lambda: SpikingMLP("12", 3), TypeError, "sizes must be a list of integers"),
    "MLP sizes None": (lambda: SpikingMLP(None, 3), TypeError, "sizes must be a list of integers"),
    "MLP n_classes zero": (lambda: SpikingMLP([12, 4], 0), ValueError, "n_classes must be >= 1"),
    "MLP n_classes nan": (lambda: SpikingMLP([12, 4], NAN), TypeError, "n_classes must be an integer"),
    "MLP threshold nan": (lambda: SpikingMLP([12, 4], 3, threshold=NAN), ValueError, "threshold must be > 0"),
    "MLP beta nan": (lambda: SpikingMLP([12, 4], 3, beta=NAN), ValueError, "beta must be finite"),
    "conv input negative": (
        lambda: SpikingConvNet((1, -12), [4], 8, 3),
        ValueError,
        "input_shape\\[1\\] must be >= 1",
    ),
    "conv input float": (
        lambda: SpikingConvNet((1.0, 12), [4], 8, 3),
        TypeError,
        "input_shape\\[0\\] must be an integer",
    ),
    "conv channels empty": (lambda: SpikingConvNet((1, 12), [], 8, 3), ValueError, "channels must list"),
    "conv channels zero": (lambda: SpikingConvNet((1, 12), [4, 0], 8, 3), ValueError, "channels\\[1\\] must be >= 1"),
    "conv hidden nan": (lambda: SpikingConvNet((1, 12), [4], NAN, 3), TypeError, "hidden must be an integer"),
    "conv hidden zero": (lambda: SpikingConvNet((1, 12), [4], 0, 3), ValueError, "hidden must be >= 1"),
    "conv n_classes negative": (lambda: SpikingConvNet((1, 12), [4], 8, -1), ValueError, "n_classes must be >= 1"),
    # dassdp.models.encoders
    "rate n_steps nan": (lambda: encoders.rate_encode(X, NAN, GEN), TypeError, "n_steps must be an integer"),
    "rate n_steps inf": (lambda: encoders.rate_encode(X, INF, GEN), TypeError, "n_steps must be an integer"),
    "rate n_steps float": (lambda: encoders.rate_encode(X, 3.0, GEN), TypeError, "n_steps must be an integer"),
    "rate n_steps bool": (lambda: encoders.rate_encode(X, True, GEN), TypeError, "n_steps must be an integer"),
    "rate n_steps str": (lambda: encoders.rate_encode(X, "3", GEN), TypeError, "n_steps must be an integer"),
    "rate n_steps zero": (lambda: encoders.rate_encode(X, 0, GEN), ValueError, "n_steps must be >= 1"),
    "rate x nan": (lambda: encoders.rate_encode(_with(X, (0, 0), NAN), 3, GEN), ValueError, "x must not hold NaN"),
    "rate x array": (lambda: encoders.rate_encode(X.numpy(), 3, GEN), TypeError, "x must be a torch.Tensor"),
    "latency n_steps nan": (lambda: encoders.latency_encode(X, NAN), TypeError, "n_steps must be an integer"),
    "latency x nan": (lambda: encoders.latency_encode(_with(X, (1, 2), NAN), 3), ValueError, "x must not hold NaN"),
    "direct n_steps inf": (lambda: encoders.direct_encode(X, INF), TypeError, "n_steps must be an integer"),
    "encode kind": (lambda: encoders.encode(X, "phase", 3), ValueError, "kind \\(the encoding\\) must be one of"),
    "encode n_steps nan": (lambda: encoders.encode(X, "direct", NAN), TypeError, "n_steps must be an integer"),
}


@pytest.mark.parametrize("case", list(BAD_ARGUMENTS))
def test_bad_arguments_name_the_parameter(case):
    call, error, match = BAD_ARGUMENTS[case]
    with pytest.raises(error, match=match):
        call()
