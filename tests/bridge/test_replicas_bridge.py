"""`Replicas`: R networks in one Brian2 network give each network's own spikes and outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dassdp.bridge import ConversionError, to_brian2, to_torch
from dassdp.bridge.replicas import Replicas
from dassdp.models.encoders import encode
from dassdp.models.snn import LIF, SpikingMLP

N_IN, R, T, N = 12, 3, 6, 5


def _members():
    members = []
    for r in range(R):
        torch.manual_seed(r)
        net = SpikingMLP([N_IN, 10, 8], 4, beta=0.8 + 0.05 * r, threshold=1.0)
        with torch.no_grad():
            for fc in net.fc:
                fc.weight.mul_(2.0 + r)
        members.append(net.double())
    return members


def _inputs():
    x = torch.rand(N, N_IN, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    return [encode(x, "rate", T, torch.Generator().manual_seed(100 + r)) for r in range(R)]


def test_replicas_forward_is_each_members_forward():
    members, xs = _members(), _inputs()
    stacked = Replicas(members)(torch.cat(xs, dim=-1))
    alone = torch.cat([m(x) for m, x in zip(members, xs)], dim=-1)
    assert torch.equal(stacked, alone)


@pytest.mark.parametrize("target", ["numpy"])
def test_replicas_in_brian2_equal_each_member_converted_alone(target):
    from dassdp.models.targets import use_target

    members, xs = _members(), _inputs()
    with use_target(target):
        together = to_brian2(Replicas(members), torch.cat(xs, dim=-1), name="together").run()
    rasters = together.spike_rasters()
    for r, (member, x) in enumerate(zip(members, xs)):
        with use_target(target):
            alone = to_brian2(member, x, name=f"alone{r}").run()
        for layer, raster in alone.spike_rasters().items():
            n = raster.shape[-1]
            assert raster.any(axis=(0, 1)).sum() > 0, f"{layer} of member {r} is silent: the test checks nothing"
            np.testing.assert_array_equal(rasters[layer][..., r * n : (r + 1) * n], raster)
        n_out = alone.outputs().shape[-1]
        np.testing.assert_array_equal(together.outputs()[..., r * n_out : (r + 1) * n_out], alone.outputs())
    with pytest.raises(ConversionError, match="holds replicas"):  # to_torch writes one network
        to_torch(together, Replicas(members))
    # and Brian2 equals PyTorch's forward of the replicas
    with torch.no_grad():
        logits = Replicas(members)(torch.cat(xs, dim=-1)).numpy()
    np.testing.assert_allclose(together.logits(), logits, rtol=0, atol=1e-12)


def test_replicas_per_neuron_thresholds_stack():
    import torch.nn as nn

    members = [nn.Sequential(nn.Linear(4, 3).double(), LIF(beta=1.0, threshold=t)) for t in (0.5, 2.0)]
    from dassdp.bridge.lower import lower

    plan = lower(Replicas(members), (8,))
    np.testing.assert_array_equal(plan.stages[1].threshold, [0.5] * 3 + [2.0] * 3)


def test_replicas_refuse_members_that_differ():
    import torch.nn as nn

    a = nn.Sequential(nn.Linear(4, 3), LIF())
    b = nn.Sequential(nn.Linear(4, 5), LIF())
    with pytest.raises(ConversionError, match="other layer sizes"):
        to_brian2(Replicas([a, b]), torch.zeros(2, 1, 8))
    c = nn.Sequential(nn.Linear(4, 3), LIF(reset="zero"))
    with pytest.raises(ConversionError, match="reset"):
        to_brian2(Replicas([a, c]), torch.zeros(2, 1, 8))
    with pytest.raises(TypeError, match="non-empty list"):
        Replicas([])
