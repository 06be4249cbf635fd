"""Bad input fails early with messages naming the layer; the ``dassdp convert`` command."""

import pytest
import torch
from torch import nn

from dassdp.bridge import ConversionError, to_brian2
from dassdp.bridge.lower import lower
from dassdp.bridge.modules import LI
from dassdp.cli import main
from dassdp.models.snn import LIF, SpikingConvNet, SpikingMLP


def test_unsupported_layer_is_named():
    model = nn.Sequential(nn.Linear(4, 3), LIF(), nn.ReLU(), nn.Linear(3, 2))
    with pytest.raises(ConversionError, match="layer '2' \\(ReLU\\) has no Brian2 equivalent"):
        to_brian2(model, torch.rand(5, 2, 4))
    with pytest.raises(ConversionError, match="layer '0' \\(Conv2d\\): only groups=1"):
        lower(nn.Sequential(nn.Conv2d(2, 2, 3, groups=2)), input_shape=(2, 5, 5))
    with pytest.raises(ConversionError, match="GRU is not supported"):
        to_brian2(nn.GRU(3, 3), torch.rand(5, 2, 3))


def test_shape_mismatch_is_named():
    with pytest.raises(ConversionError, match="expects samples of shape \\(64,\\), got inputs of shape \\(10,\\)"):
        to_brian2(SpikingMLP([64, 10], 3), torch.rand(5, 2, 10))
    model = nn.Sequential(nn.Linear(4, 3), LIF(), nn.Linear(5, 2))
    with pytest.raises(ConversionError, match="layer '2': expects 5 inputs but receives shape \\(3,\\)"):
        to_brian2(model, torch.rand(5, 2, 4))
    with pytest.raises(ConversionError, match="SpikingConvNet: the input shape"):
        lower(SpikingConvNet((1, 8, 8), [2], 4, 2))
    with pytest.raises(ConversionError, match="time-major"):
        to_brian2(SpikingMLP([4, 3], 2), torch.rand(2, 4))


def test_max_pool_after_linear_and_non_spiking_middle_layer_rejected():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.MaxPool2d(2), LIF(), nn.Flatten(), nn.Linear(8, 2))
    with pytest.raises(ConversionError, match="'1' \\(MaxPool\\) follows the linear layer '0'"):
        to_brian2(model, torch.rand(3, 2, 1, 4, 4))
    middle = nn.Sequential(nn.Linear(4, 3), LI(0.9), nn.Linear(3, 3), LIF())
    with pytest.raises(ConversionError, match="'3' follows the non-spiking layer '1'"):
        to_brian2(middle, torch.rand(3, 2, 4))


def _run_cli(*argv):
    return main(["convert", *map(str, argv)])


def test_cli_converts_model_and_graph(tmp_path, capsys):
    torch.manual_seed(0)
    model = SpikingMLP([16, 12], 3)
    with torch.no_grad():
        model.fc[0].weight.mul_(4.0)
    torch.save(model, tmp_path / "mlp.pt")  # a whole pickled module: loads only with --trust-pickle
    trust = "--trust-pickle"
    assert _run_cli(tmp_path / "mlp.pt", "--to", "brian2", "--samples", "3", "--steps", "8", "--check", trust) == 0
    out = capsys.readouterr().out
    assert f"{16 + 12 + 3} neurons" in out
    assert f"{16 * 12 + 12 * 3} synapses" in out and "identical spike rasters: True" in out
    assert _run_cli(tmp_path / "mlp.pt", "--to", "nir", "--out", tmp_path / "g.nir", trust) == 0
    assert "fc.0             Affine" in capsys.readouterr().out
    assert _run_cli(tmp_path / "g.nir", "--to", "brian2", "--samples", "2") == 0
    assert "lif.0" in capsys.readouterr().out


def test_cli_rejects_files_that_are_not_models(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not a model")
    assert _run_cli(tmp_path / "notes.txt", "--to", "brian2") == 2
    assert "neither a NIR graph" in capsys.readouterr().err
    torch.save(SpikingMLP([4, 3], 2).state_dict(), tmp_path / "weights.pt")
    assert _run_cli(tmp_path / "weights.pt", "--to", "nir") == 2
    assert "not a torch.nn.Module (a state_dict?" in capsys.readouterr().err
    assert _run_cli(tmp_path / "missing.pt", "--to", "nir") == 2
    torch.save(SpikingConvNet((1, 8, 8), [2], 4, 2), tmp_path / "conv.pt")
    assert _run_cli(tmp_path / "conv.pt", "--to", "nir", "--input-shape", "1,8,8", "--trust-pickle") == 2
    assert "'pool.0' (MaxPool)" in capsys.readouterr().err


class _WritesMarker:
    """Unpickling this object runs ``os.mkdir(marker)``: what a malicious pickle would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return (os.mkdir, (self.marker,))


def test_cli_does_not_unpickle_untrusted_files(tmp_path, capsys):
    """A pickle named ``.nir`` (not HDF5) is read with ``weights_only=True``: its code does not run,
    and the command exits with status 2 naming --trust-pickle."""
    import pickle

    marker = tmp_path / "marker"
    for name, dump in (("evil.nir", pickle.dump), ("evil.pt", torch.save)):
        with open(tmp_path / name, "wb") as handle:
            dump(_WritesMarker(marker), handle)
        assert _run_cli(tmp_path / name, "--to", "brian2") == 2
        assert not marker.exists(), f"{name}: the pickle's code ran"
        out = capsys.readouterr().err
        assert out.startswith("dassdp convert: error:") and "--trust-pickle" in out, out


def test_cli_loads_a_pickled_module_only_with_trust_pickle(tmp_path, capsys):
    model = SpikingMLP([4, 3], 2)
    torch.save(model, tmp_path / "mlp.pt")
    assert _run_cli(tmp_path / "mlp.pt", "--to", "nir") == 2
    out = capsys.readouterr().err
    assert "(dassdp.models.snn.SpikingMLP) that loads only with --trust-pickle" in out
    assert "executes code from the file" in out
    assert _run_cli(tmp_path / "mlp.pt", "--to", "nir", "--trust-pickle") == 0
    assert "fc.0             Affine" in capsys.readouterr().out
    torch.save(model.state_dict(), tmp_path / "state.pt")  # tensors load with weights_only=True
    assert _run_cli(tmp_path / "state.pt", "--to", "nir") == 2
    assert "holds an object of type OrderedDict, not a torch.nn.Module (a state_dict?" in capsys.readouterr().err


def test_cli_help_warns_that_trust_pickle_executes_code(capsys):
    with pytest.raises(SystemExit):
        _run_cli("--help")
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--trust-pickle" in help_text and "executes code from the file" in help_text


def test_cli_rejects_a_zero_dt(tmp_path, capsys):
    torch.save(SpikingMLP([4, 3], 2), tmp_path / "mlp.pt")
    assert _run_cli(tmp_path / "mlp.pt", "--to", "nir", "--trust-pickle", "--dt", "0") == 2
    assert "dt must be > 0" in capsys.readouterr().err
    assert not (tmp_path / "mlp.nir").exists()  # the old code wrote it with the default dt
