"""Extra input currents (``drive``), extra equation lines and rule factories in `to_brian2`.

Oracle: the same network in PyTorch (float64) with the drive added to the layer's input current.
"""

from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from dassdp.bridge import ConversionError, to_brian2
from dassdp.models.snn import LIF

T, N = 6, 12


def _network():
    torch.manual_seed(0)
    model = nn.Sequential(
        OrderedDict(
            fc0=nn.Linear(8, 16),
            lif0=LIF(beta=0.9),
            readout=nn.Linear(16, 4),
            label=LIF(beta=1.0, threshold=2.0),
        )
    ).double()
    with torch.no_grad():
        model.fc0.weight.mul_(3.0)
    return model


def test_drive_adds_to_the_layer_input_like_pytorch():
    model = _network()
    x = torch.rand(T, N, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    drive = np.random.default_rng(2).normal(0.0, 1.5, size=(N * T, 4))
    with torch.no_grad():
        hidden = model.lif0(model.fc0(x))
        current = model.readout(hidden) + torch.from_numpy(drive.reshape(N, T, 4)).transpose(0, 1)
        expected = model.label(current).transpose(0, 1).reshape(N * T, 4).numpy().astype(bool)
    conv = to_brian2(model, x, drive={"label": drive}, extra_variables={"label": "DA : 1"}).run()
    raster = conv.spike_rasters()["label"].reshape(N * T, 4)
    assert 20 < expected.sum() < expected.size - 20, "the drive should change some spikes, not saturate"
    assert np.array_equal(raster, expected)
    assert "DA" in conv.groups["label"].variables
    # without the drive the raster differs: the test would notice a drive that is ignored
    plain = to_brian2(model, x, name="plain").run().spike_rasters()["label"].reshape(N * T, 4)
    assert not np.array_equal(plain, expected)


def test_rule_factory_receives_the_projection():
    from dassdp.rules.brian2 import STDPSynapses
    from dassdp.rules.reference import STDPParams

    model = _network()
    x = torch.rand(T, N, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    seen = {}

    def factory(pre, post, w0, connect, **kwargs):
        seen.update(pre=pre.name, post=post.name, shape=w0.shape, n=len(connect["i"]))
        return STDPSynapses(
            pre,
            post,
            STDPParams(a_plus=0.0, a_minus=0.0, w_min=-10, w_max=10),
            connect=connect,
            w0=w0[connect["j"], connect["i"]],
            **kwargs,
        )

    conv = to_brian2(model, x, plastic={"readout": factory}).run()
    assert seen == {"pre": "bridge_lif0", "post": "bridge_label", "shape": (4, 16), "n": 64}
    # zero amplitudes: the plastic projection transmits exactly like the static one
    static = to_brian2(model, x, name="static").run()
    assert np.array_equal(conv.spike_rasters()["label"], static.spike_rasters()["label"])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"drive": {"nope": np.zeros((N * T, 4))}}, "drive: no neuron layer named 'nope'"),
        ({"drive": {"label": np.zeros((N, 4))}}, r"drive\['label'\] must be finite with shape"),
        ({"extra_variables": {"readout": "DA : 1"}}, "extra_variables: no neuron layer named 'readout'"),
        ({"plastic": {"readout": 3}}, "must be DASSDPSynapses keyword arguments or a rule factory"),
    ],
)
def test_bad_drive_extra_and_rule_fail_clearly(kwargs, match):
    x = torch.zeros(T, N, 8, dtype=torch.float64)
    with pytest.raises(ConversionError, match=match):
        to_brian2(_network(), x, **kwargs)
