"""Optional dependencies: pyproject's extras, and the error that names the extra to install."""

import sys
import tomllib
from pathlib import Path

import pytest

from dassdp.cli import main
from dassdp.extras import EXTRAS

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_every_optional_module_is_in_its_extra_and_all_installs_every_extra():
    extras = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]
    for module, extra in EXTRAS.items():
        assert any(module in requirement for requirement in extras[extra]), (module, extra)
    assert extras["all"] == [f"dassdp[{','.join(sorted(set(EXTRAS.values())))}]"]
    assert "dassdp[all]" in extras["test"]


class NotInstalled:
    """A meta path finder that finds ``package`` (and its submodules) missing, as an environment
    without it would."""

    def __init__(self, package: str):
        self.package = package

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == self.package:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def test_mnist1d_data_set_without_mnist1d_names_the_extra(monkeypatch):
    from dassdp.runs import datasets

    for name in [m for m in sys.modules if m.partition(".")[0] == "mnist1d"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [NotInstalled("mnist1d"), *sys.meta_path])
    with pytest.raises(ModuleNotFoundError, match=r"the mnist1d data set .* pip install 'dassdp\[mnist1d\]'"):
        datasets.load_mnist1d()


def test_report_without_matplotlib_names_the_extra(monkeypatch, tmp_path, capsys):
    monkeypatch.delitem(sys.modules, "dassdp.analysis.figures", raising=False)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["report", str(tmp_path)]) == 1
    assert (
        "dassdp report: needs matplotlib, which is not installed: pip install 'dassdp[figures]'"
        in capsys.readouterr().err
    )
