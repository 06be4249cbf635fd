"""LIF dynamics (against snnTorch and hand-computed cases), surrogates, networks and encoders."""

import math

import pytest
import torch

from dassdp.models import encoders
from dassdp.models.snn import LIF, LIFParameters, SpikingConvNet, SpikingMLP, lif_sequence, spike

snntorch = pytest.importorskip("snntorch")


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_lif_matches_snntorch_leaky_without_reset_delay(reset):
    """snnTorch ``Leaky(reset_delay=False)`` has the same order (decay, integrate, fire, reset)
    while the membrane after a reset is below threshold: inputs in [-0.5, 0.9] keep it there."""
    gen = torch.Generator().manual_seed(0)
    currents = torch.rand(40, 8, 16, generator=gen, dtype=torch.float64) * 1.4 - 0.5
    leaky = snntorch.Leaky(beta=0.8, threshold=1.0, reset_mechanism=reset, reset_delay=False)
    mem = leaky.init_leaky()
    expected_spikes, expected_mem = [], []
    for current in currents:
        spk, mem = leaky(current, mem)
        expected_spikes.append(spk)
        expected_mem.append(mem)
    spikes, state = lif_sequence(currents, LIFParameters(beta=0.8, threshold=1.0, reset=reset))
    assert spikes.sum() > 20  # the comparison covers spikes and resets
    torch.testing.assert_close(spikes, torch.stack(expected_spikes).to(spikes.dtype))
    torch.testing.assert_close(state.v, expected_mem[-1].to(state.v.dtype))


def test_hand_computed_trace():
    """beta = 0.5, threshold 1, I = 0.6 each step: u = 0.6, 0.9, 1.05 (spike) -> v = 0.05 (subtract)
    or 0 (zero); next u = 0.625 or 0.6. Exactly at threshold there is no spike (strict >)."""
    currents = torch.full((4, 1, 1), 0.6, dtype=torch.float64)
    s, state = lif_sequence(currents, LIFParameters(beta=0.5, threshold=1.0, reset="subtract"))
    assert s.flatten().tolist() == [0, 0, 1, 0]
    assert state.v.item() == pytest.approx(0.625)
    _, state = lif_sequence(currents, LIFParameters(beta=0.5, threshold=1.0, reset="zero"))
    assert state.v.item() == pytest.approx(0.6)
    at_threshold = lif_sequence(torch.ones(1, 1, 1), LIFParameters(beta=0.5, threshold=1.0))[0]
    assert at_threshold.item() == 0


@pytest.mark.parametrize("name, alpha", [("fast_sigmoid", 10.0), ("atan", 2.0)])
def test_surrogate_gradients(name, alpha):
    x = torch.tensor([-0.3, 0.0, 0.2], dtype=torch.float64, requires_grad=True)
    out = spike(x, name, alpha)
    out.sum().backward()
    assert out.tolist() == [0.0, 0.0, 1.0]
    if name == "fast_sigmoid":
        expected = 1 / (alpha * x.detach().abs() + 1) ** 2
    else:
        expected = (alpha / 2) / (1 + (math.pi / 2 * alpha * x.detach()) ** 2)
    torch.testing.assert_close(x.grad, expected)


def test_learnable_beta_receives_gradient():
    lif = LIF(beta=0.7, learn_beta=True)
    out = lif(torch.rand(5, 3, 4) * 2)
    (out.sum() + lif.beta * 0).backward()
    assert isinstance(lif.beta, torch.nn.Parameter) and lif.beta.grad is not None and lif.beta.grad != 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(reset="hard"), "reset"),
        (dict(beta=1.5), "beta"),
        (dict(surrogate="relu"), "surrogate"),
        (dict(threshold=0), "threshold"),
    ],
)
def test_bad_lif_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LIF(**kwargs)


def test_networks_shapes():
    mlp = SpikingMLP([10, 20, 30], 4)
    assert mlp(torch.rand(3, 5, 10)).shape == (5, 4)
    conv1d = SpikingConvNet((1, 40), [4, 4], 16, 10)
    assert conv1d(torch.rand(2, 3, 1, 40)).shape == (3, 10)
    conv2d = SpikingConvNet((3, 8, 8), [4], 16, 10)
    assert conv2d(torch.rand(2, 3, 3, 8, 8)).shape == (3, 10)
    with pytest.raises(ValueError, match="too small"):
        SpikingConvNet((1, 2), [4, 4], 16, 10)


def test_encoders():
    x = torch.tensor([[0.0, 0.5, 1.0]])
    a = encoders.rate_encode(x.expand(1000, 3), 4, torch.Generator().manual_seed(1))
    b = encoders.rate_encode(x.expand(1000, 3), 4, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.shape == (4, 1000, 3)
    assert a[..., 0].sum() == 0 and a[..., 2].mean() == 1 and abs(a[..., 1].mean() - 0.5) < 0.03
    lat = encoders.latency_encode(x, 5)
    assert lat[:, 0].T.tolist() == [[0, 0, 0, 0, 0], [0, 0, 1, 0, 0], [1, 0, 0, 0, 0]]
    assert torch.equal(encoders.encode(x, "direct", 3), x.expand(3, 1, 3))
    with pytest.raises(ValueError, match="encoding"):
        encoders.encode(x, "phase", 3)
    with pytest.raises(TypeError, match="Generator"):
        encoders.rate_encode(x, 3, None)
    with pytest.raises(ValueError, match="n_steps"):
        encoders.direct_encode(x, 0)
