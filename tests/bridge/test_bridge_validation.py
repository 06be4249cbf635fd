"""Bad arguments to the bridge's entry points raise TypeError or ValueError naming the argument,
layer or NIR node, before anything is built: never an AttributeError from deep inside, nor a
silent wrong result (a NaN layer that simply never spikes in Brian2, NaN weights written back into
PyTorch, a wrong Output shape accepted)."""

import itertools

import numpy as np
import pytest
import torch
from brian2 import ms
from torch import nn

from dassdp.bridge import ConversionError, from_nir, to_brian2, to_nir, to_torch
from dassdp.bridge.biophysical import to_brian2_biophysical
from dassdp.bridge.check import agreement, torch_reference
from dassdp.bridge.lower import lower
from dassdp.bridge.modules import CubaLIF
from dassdp.bridge.weights import weights_by_layer
from dassdp.models.snn import LIF, SpikingMLP
from dassdp.models.targets import use_target

nir = pytest.importorskip("nir")


def _mlp(sizes=(4, 3), n_out=2):
    torch.manual_seed(0)
    return SpikingMLP(list(sizes), n_out)


def _x():
    return torch.rand(5, 2, 4, generator=torch.Generator().manual_seed(0))


# ---- to_brian2 / to_brian2_biophysical ---------------------------------------------------------


@pytest.mark.parametrize("model", ["str", None, 3, np.ones(3)])
def test_to_brian2_model_of_the_wrong_type_is_a_type_error(model):
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module \(a SpikingMLP, SpikingConvNet"):
        to_brian2(model, _x())
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module"):
        to_brian2_biophysical(model, _x())
    with pytest.raises(ConversionError):  # also a ConversionError, for code that catches those
        to_brian2(model, _x())


def test_to_brian2_inputs_are_checked():
    model = _mlp()
    with pytest.raises(TypeError, match="inputs must be a real-valued tensor or array"):
        to_brian2(model, "abc")
    with pytest.raises(TypeError, match="inputs must be a real-valued tensor"):
        to_brian2(model, [["a", "b"]])
    nan = _x()
    nan[1, 0, 2] = float("nan")
    with pytest.raises(ValueError, match=r"inputs contain 1 NaN or infinite value"):
        to_brian2(model, nan)
    with pytest.raises(ValueError, match=r"inputs contain 1 NaN or infinite value"):
        to_brian2(model, torch.tensor([[0.5, float("inf"), 0.1, 0.2]]), encoding="rate", n_steps=3)
    with pytest.raises(ValueError, match=r"inputs must hold at least one sample.*\(0, 2, 4\)"):
        to_brian2(model, torch.zeros(0, 2, 4))
    with pytest.raises(ValueError, match="inputs contain"):
        to_brian2_biophysical(model, nan)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_steps": 2.5}, TypeError, "n_steps must be an integer"),
        ({"n_steps": 0}, ValueError, "n_steps must be >= 1"),
        ({"n_steps": 3, "seed": 1.5}, TypeError, "seed must be an integer"),
    ],
)
def test_to_brian2_encoding_arguments_are_checked(kwargs, error, match):
    kwargs = {"encoding": "rate", **kwargs}
    with pytest.raises(error, match=match):
        to_brian2(_mlp(), torch.rand(2, 4), **kwargs)


def test_to_brian2_dt_name_and_mappings_are_checked():
    model, x = _mlp(), _x()
    with pytest.raises(TypeError, match=r"dt must be a time in Brian2 units \(e.g. 5\*ms\), got 0.0001 without a unit"):
        to_brian2(model, x, dt=1e-4)
    with pytest.raises(ValueError, match="dt must be > 0"):
        to_brian2(model, x, dt=-1 * ms)
    with pytest.raises(ValueError, match="name must consist of letters"):
        to_brian2(model, x, name="my net")
    with pytest.raises(TypeError, match="name must be a str"):
        to_brian2(model, x, name=3)
    with pytest.raises(TypeError, match="drive must be a dict keyed by layer name"):
        to_brian2(model, x, drive=[np.zeros((10, 3))])
    with pytest.raises(TypeError, match="plastic must be a dict"):
        to_brian2(model, x, plastic="readout")
    with pytest.raises(TypeError, match="sim_dt must be a time in Brian2 units"):
        to_brian2_biophysical(model, x, sim_dt=0.5)
    with pytest.raises(TypeError, match="dt must be a time in Brian2 units"):
        to_brian2_biophysical(model, x, dt=1e-3)


def test_nan_or_infinite_parameters_are_rejected_naming_the_layer():
    model = _mlp()
    with torch.no_grad():
        model.fc[0].weight[0, 1] = float("nan")
    with pytest.raises(ConversionError, match=r"layer 'fc\.0' \(Linear\): weight has 1 NaN or infinite value"):
        to_brian2(model, _x())
    with pytest.raises(ConversionError, match=r"layer 'fc\.0' \(Linear\): weight"):
        to_nir(model)
    with pytest.raises(ConversionError, match=r"layer 'fc\.0' \(Linear\): weight"):
        torch_reference(model, _x())
    model = _mlp()
    with torch.no_grad():
        model.readout.bias[1] = float("inf")
    with pytest.raises(ConversionError, match=r"layer 'readout' \(Linear\): bias has 1 NaN or infinite"):
        to_brian2(model, _x())
    lif = LIF(beta=0.9)
    with torch.no_grad():
        lif.beta.fill_(float("nan"))
    with pytest.raises(ConversionError, match=r"layer '1' \(LIF\): beta has 1 NaN"):
        lower(nn.Sequential(nn.Linear(4, 3), lif), input_shape=(4,))
    cuba = nn.Sequential(nn.Linear(4, 3), CubaLIF(0.5, 0.9, threshold=float("inf")))
    with pytest.raises(ConversionError, match=r"layer '1' \(CubaLIF\): threshold has 1 NaN"):
        lower(cuba, input_shape=(4,))


def test_lower_input_shape_is_checked():
    model = nn.Sequential(nn.Linear(4, 3), LIF())
    with pytest.raises(ValueError, match="input_shape must be >= 1, got 0"):
        lower(model, input_shape=(0,))
    with pytest.raises(TypeError, match="input_shape must be a tuple of positive integers"):
        lower(model, input_shape="4")


# ---- NIR ---------------------------------------------------------------------------------------


def _graph():
    return to_nir(_mlp())


def test_from_nir_rejects_nan_and_infinite_parameters_naming_node_and_parameter():
    graph = _graph()
    graph.nodes["fc.0"].weight[0, 0] = np.nan
    with pytest.raises(ConversionError, match=r"NIR node 'fc\.0' \(Affine\): weight has 1 NaN or infinite value"):
        from_nir(graph)
    graph = _graph()
    graph.nodes["readout"].bias[1] = -np.inf
    with pytest.raises(ConversionError, match=r"NIR node 'readout' \(Affine\): bias has 1 NaN"):
        from_nir(graph)
    graph = _graph()
    graph.nodes["lif.0"].v_threshold[:] = np.nan
    with pytest.raises(ConversionError, match=r"NIR node 'lif\.0' \(LIF\): v_threshold has 3 NaN"):
        from_nir(graph)
    graph = _graph()
    graph.nodes["lif.0"].tau[:] = np.inf
    with pytest.raises(ConversionError, match=r"NIR node 'lif\.0' \(LIF\): tau has 3 NaN or infinite"):
        from_nir(graph)
    graph = _graph()
    graph.nodes["lif.0"].tau[:] = -1e-3
    graph.nodes["lif.0"].r[:] = -10.0
    with pytest.raises(ConversionError, match=r"NIR node 'lif\.0' \(LIF\): tau must be > 0"):
        from_nir(graph)


def test_from_nir_checks_the_output_node_shape():
    graph = _graph()
    graph.nodes["output"] = nir.Output(output_type=np.array([7]))
    with pytest.raises(
        ConversionError, match=r"Output node 'output': its shape \(7,\) is not the shape \(2,\) of the layer before it"
    ):
        from_nir(graph)
    graph.nodes["output"] = nir.Output(output_type=np.array([1, 2]))  # size-1 dimensions aside: the same
    assert from_nir(graph).names[-2:] == ["readout", "mean"]


def test_from_nir_arguments_are_checked():
    graph = _graph()
    with pytest.raises(TypeError, match="graph_or_path must be a nir.NIRGraph or a path"):
        from_nir(3)
    with pytest.raises(TypeError, match="dt must be a real number"):
        from_nir(graph, dt="1e-4")
    with pytest.raises(ValueError, match="dt must be > 0 and finite, got nan"):
        from_nir(graph, dt=float("nan"))
    with pytest.raises(ValueError, match="reset must be one of"):
        from_nir(graph, reset="hard")
    graph.metadata["dt"] = -1.0
    with pytest.raises(ConversionError, match="the graph's metadata: dt must be > 0"):
        from_nir(graph)
    nodes = {
        "input": nir.Input(input_type=np.array([0])),
        "fc": nir.Affine(weight=np.ones((2, 0)), bias=np.zeros(2)),
        "output": nir.Output(output_type=np.array([2])),
    }
    empty = nir.NIRGraph(nodes=nodes, edges=list(itertools.pairwise(nodes)), type_check=False)
    with pytest.raises(ConversionError, match=r"Input node 'input': its shape \(0,\) must have dimensions >= 1"):
        from_nir(empty)


def test_to_nir_arguments_are_checked():
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        to_nir("model.pt")
    with pytest.raises(ValueError, match="dt must be > 0 and finite"):
        to_nir(_mlp(), dt=float("inf"))
    with pytest.raises(ValueError, match="input_shape must be >= 1"):
        to_nir(nn.Sequential(nn.Linear(4, 3), LIF()), input_shape=(-4,))


# ---- weights back to PyTorch and the comparison ------------------------------------------------


@pytest.fixture(scope="module")
def converted():
    model = _mlp((8, 6), 3)
    with use_target("numpy"):
        conv = to_brian2(
            model, torch.rand(2, 8, generator=torch.Generator().manual_seed(1)), encoding="rate", n_steps=3
        )
        conv.run(report=None)
    return conv, model


def test_to_torch_argument_types(converted):
    conv, model = converted
    with pytest.raises(TypeError, match="converted_or_network must be the result of to_brian2"):
        to_torch("network", model)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        to_torch(conv, "model")
    with pytest.raises(ValueError, match="conv_sharing must be one of"):
        to_torch(conv, model, conv_sharing="median")
    with pytest.raises(ValueError, match="conv_sharing must be one of"):
        weights_by_layer(conv, conv_sharing="median")
    with pytest.raises(TypeError, match="plasticity must be a DASSDPPlugin"):
        to_torch(conv, model, plasticity={"readout": None})


def test_to_torch_writes_nothing_when_brian2_holds_nan(converted):
    conv, model = converted
    target = _mlp((8, 6), 3)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    syn = conv.projections[0].synapses
    saved = np.asarray(syn.w[:]).copy()
    try:
        syn.w[3] = float("nan")
        with pytest.raises(ConversionError, match=r"layer 'readout': 1 of the 18 weight values read from Brian2"):
            to_torch(conv, target)
    finally:
        syn.w[:] = saved
    group = conv.groups["lif.0"]
    saved = np.asarray(group.beta[:]).copy()
    try:
        group.beta[:] = float("nan")
        with pytest.raises(ConversionError, match=r"layer 'lif\.0': 6 of the 6 beta values"):
            to_torch(conv, target)
    finally:
        group.beta[:] = saved
    after = target.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # nothing was written
    assert to_torch(conv, target)["layers"]  # the restored network converts back


def test_torch_reference_and_agreement_arguments(converted):
    conv, model = converted
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        torch_reference("model", conv.inputs)
    with pytest.raises(ValueError, match=r"inputs must be time-major \[T, N, \.\.\.\]"):
        torch_reference(model, torch.rand(2, 8))
    with pytest.raises(ValueError, match="inputs contain"):
        torch_reference(model, torch.full((3, 2, 8), float("nan")))
    with pytest.raises(TypeError, match="converted must be the result of to_brian2"):
        agreement(object(), model)
    other = nn.Sequential(nn.Linear(8, 5), LIF(), nn.Linear(5, 3))
    with pytest.raises(ConversionError, match="model does not match the converted network"):
        agreement(conv, other)
    assert agreement(conv, model)["identical_rasters"]
