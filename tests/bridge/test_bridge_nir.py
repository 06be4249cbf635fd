"""NIR export/import: PyTorch -> NIR -> PyTorch and -> Brian2 are exact; hand-built graphs with
CubaLIF, IF, LI, SumPool2d/AvgPool2d, Conv2d and Flatten run identically in PyTorch and Brian2;
a graph written by snnTorch imports (``convention="snntorch"``) and matches snnTorch's own
forward pass; bad graphs fail with messages naming the node."""

import itertools

import numpy as np
import pytest
import torch

from dassdp.bridge import ConversionError, from_nir, to_brian2, to_nir
from dassdp.bridge.check import agreement, torch_reference
from dassdp.models.snn import SpikingConvNet, SpikingMLP
from dassdp.models.targets import use_target

nir = pytest.importorskip("nir")


def _mlp(reset):
    torch.manual_seed(7)
    model = SpikingMLP([20, 30, 16], 5, beta=0.85, threshold=0.8, reset=reset).double()
    with torch.no_grad():
        model.fc[0].weight.mul_(3.0)
        model.fc[1].weight.mul_(4.0)
    return model


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_torch_nir_torch_and_brian2_are_exact(tmp_path, reset):
    model = _mlp(reset)
    path = tmp_path / "mlp.nir"
    nir.write(str(path), to_nir(model))
    graph = nir.read(str(path))
    assert graph.metadata["reset"] == reset and float(graph.metadata["dt"]) == 1e-4
    imported = from_nir(path)
    x = torch.bernoulli(torch.full((15, 10, 20), 0.4, dtype=torch.float64), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model(x)
        assert torch.equal(imported(x), expected)
    _, ref = torch_reference(model, x)
    assert sum(r.sum() for r in ref.values()) > 100
    with use_target("numpy"):
        converted = to_brian2(imported, x).run(report=None)
    assert agreement(converted, imported)["identical_rasters"]
    assert np.array_equal(converted.logits(), expected.numpy())
    for name in ref:
        assert np.array_equal(converted.spike_rasters()[name], ref[name]), name


def test_dt_and_reset_arguments_override_metadata():
    with pytest.warns(UserWarning, match="dt = 0.001 s: snnTorch"):
        graph = to_nir(_mlp("subtract"), dt=1e-3)
    assert float(graph.metadata["dt"]) == 1e-3
    net = from_nir(graph, reset="zero")
    assert net.layers["lif_0"].reset == "zero" and net.metadata["dt"] == 1e-3
    assert net.metadata["resets"] == {"lif.0": "zero", "lif.1": "zero"}
    # read at another dt: NIR's equations there (decay 1 - dt / tau; the input gain r dt / tau, here
    # a tenth of the written one, moves into the threshold)
    other = from_nir(graph, dt=1e-4)
    tau = graph.nodes["lif.0"].tau[0]
    assert float(other.layers["lif_0"].beta) == pytest.approx(1 - 1e-4 / tau, rel=1e-12)
    assert other.layers["lif_0"].threshold == pytest.approx(8.0, rel=1e-12)


def _graph_with_all_nodes():
    rng = np.random.default_rng(0)
    dt = 1e-3
    conv_w = rng.normal(0, 1.2, (3, 1, 3, 3))
    shape = (3, 6, 6)
    n = 3 * 3 * 3
    tau_syn, tau_mem = np.full(shape, dt / (1 - 0.6)), np.full(shape, dt / (1 - 0.8))
    nodes = {
        "input": nir.Input(input_type=np.array([1, 6, 6])),
        "conv": nir.Conv2d(
            input_shape=(6, 6), weight=conv_w, stride=1, padding=1, dilation=1, groups=1, bias=np.full(3, 0.1)
        ),
        "cuba": nir.CubaLIF(
            tau_syn=tau_syn,
            tau_mem=tau_mem,
            r=tau_mem / dt,
            v_leak=np.zeros(shape),
            v_threshold=np.ones(shape),
            w_in=tau_syn / dt,
        ),
        "sum": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
        "flat": nir.Flatten(input_type={"input": np.array([3, 3, 3])}, start_dim=0),
        "fc": nir.Affine(weight=rng.normal(0, 0.8, (12, n)), bias=np.zeros(12)),
        "if": nir.IF(r=np.full(12, 1 / dt), v_threshold=np.full(12, 1.5)),
        "fc2": nir.Linear(weight=rng.normal(0, 1.0, (4, 12))),
        "li": nir.LI(tau=np.full(4, dt / (1 - 0.9)), r=np.full(4, 1 / (1 - 0.9)), v_leak=np.zeros(4)),
        "output": nir.Output(output_type=np.array([4])),
    }
    order = list(nodes)
    return nir.NIRGraph(nodes=nodes, edges=list(itertools.pairwise(order))), dt


@pytest.mark.parametrize("pool", ["SumPool2d", "AvgPool2d"])
def test_hand_built_graph_all_node_types(pool):
    graph, dt = _graph_with_all_nodes()
    if pool == "AvgPool2d":
        graph.nodes["sum"] = nir.AvgPool2d(
            kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])
        )
        graph.nodes["fc"].weight *= 3.0
    net = from_nir(graph, dt=dt, reset="subtract")
    x = torch.bernoulli(
        torch.full((12, 6, 1, 6, 6), 0.5, dtype=torch.float64), generator=torch.Generator().manual_seed(1)
    )
    output, ref = torch_reference(net, x)
    assert set(ref) == {"cuba", "if"} and all(r.sum() > 20 for r in ref.values())
    with use_target("numpy"):
        converted = to_brian2(net, x).run(report=None)
    for name in ref:
        assert np.array_equal(converted.spike_rasters()[name], ref[name]), name
    # LI output: the membrane trace, per step (no time mean in this graph)
    np.testing.assert_allclose(converted.logits(), output.transpose(1, 0, 2), rtol=0, atol=1e-12)


def test_snntorch_graph_matches_snntorch():
    """snnTorch ``Leaky(reset_delay=False)`` with per-neuron beta (snnTorch's exporter needs array
    parameters for NIR type inference) exported by ``export_to_nir``: imported with
    ``convention="snntorch"`` and the matching reset, our spikes equal snnTorch's own forward pass
    (float64) in PyTorch and in Brian2, in both reset modes (snnTorch's default ``reset_delay=True``:
    tests/bridge/test_nir_conventions.py)."""
    pytest.importorskip("nirtorch", reason="snnTorch's export_to_nir needs nirtorch")
    import snntorch as snn
    from snntorch import utils
    from snntorch.export_nir import export_to_nir
    from torch import nn

    for mechanism in ("subtract", "zero"):
        torch.manual_seed(0)
        net = nn.Sequential(
            nn.Linear(64, 40),
            snn.Leaky(
                beta=torch.full((40,), 0.9),
                threshold=torch.ones(40),
                init_hidden=True,
                reset_mechanism=mechanism,
                reset_delay=False,
            ),
            nn.Linear(40, 10),
            snn.Leaky(
                beta=torch.full((10,), 0.8),
                threshold=torch.ones(10),
                init_hidden=True,
                output=True,
                reset_mechanism=mechanism,
                reset_delay=False,
            ),
        )
        with torch.no_grad():
            net[2].weight.mul_(2.0)
        graph = export_to_nir(net, torch.rand(1, 64), ignore_dims=[0])
        x = (torch.rand(20, 16, 64, generator=torch.Generator().manual_seed(2)) < 0.3).double()
        net = net.double()
        utils.reset(net)
        hidden, out = [], []
        default = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)  # snnTorch creates its hidden state in the default dtype
        try:
            with torch.no_grad():
                for t in range(x.shape[0]):
                    h = net[1](net[0](x[t])).double()
                    spk, _ = net[3](net[2](h))
                    hidden.append(h)
                    out.append(spk.double())
        finally:
            torch.set_default_dtype(default)
        expected = {
            "1": torch.stack(hidden).transpose(0, 1).numpy() > 0.5,
            "3": torch.stack(out).transpose(0, 1).numpy() > 0.5,
        }
        imported = from_nir(graph, convention="snntorch", reset=mechanism, reset_delay=False)
        _, ref = torch_reference(imported, x)
        with use_target("numpy"):
            converted = to_brian2(imported, x).run(report=None)
        for name in ("1", "3"):
            assert expected[name].sum() > 50, name
            assert np.array_equal(ref[name], expected[name]), (mechanism, name)
            assert np.array_equal(converted.spike_rasters()[name], expected[name]), (mechanism, name)


def test_export_rejects_max_pooling():
    with pytest.raises(ConversionError, match="'pool.0' \\(MaxPool\\).*no max-pooling node"):
        to_nir(SpikingConvNet((1, 8, 8), [4], 16, 3), input_shape=(1, 8, 8))


def _chain(*nodes):
    named = {
        "input": nir.Input(input_type=np.array([3])),
        **dict(nodes),
        "output": nir.Output(output_type=np.array([2])),
    }
    order = list(named)
    return nir.NIRGraph(nodes=named, edges=list(itertools.pairwise(order)), type_check=False)


def test_import_rejects_unrepresentable_nodes(tmp_path):
    affine = ("fc", nir.Affine(weight=np.ones((2, 3)), bias=np.zeros(2)))
    with pytest.raises(ConversionError, match="'thr' \\(Threshold\\) has no dassdp/Brian2 equivalent"):
        from_nir(_chain(affine, ("thr", nir.Threshold(threshold=np.ones(2)))))
    with pytest.raises(ConversionError, match="'lif' \\(LIF\\): v_leak"):
        from_nir(
            _chain(
                affine,
                ("lif", nir.LIF(tau=np.full(2, 1e-3), r=np.full(2, 10.0), v_leak=np.ones(2), v_threshold=np.ones(2))),
            )
        )
    with pytest.raises(ConversionError, match="'fc' \\(Affine\\): weight \\(2, 4\\) does not fit input shape \\(3,\\)"):
        from_nir(_chain(("fc", nir.Affine(weight=np.ones((2, 4)), bias=np.zeros(2)))))
    branching = _chain(affine)
    branching.edges.append(("input", "output"))
    with pytest.raises(ConversionError, match="'input' has 2 outgoing edges"):
        from_nir(branching)
    bad = tmp_path / "not_a_graph.nir"
    bad.write_text("not hdf5")
    with pytest.raises(ConversionError, match="not a NIR graph"):
        from_nir(bad)
