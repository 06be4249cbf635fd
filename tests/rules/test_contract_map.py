"""The map in `dassdp.rules.reference`'s docstring names code that exists."""

import importlib
import re

import pytest

from dassdp.rules import reference as ref


def _resolve(name: str):
    """The object a dotted name refers to: the longest importable module, then attributes."""
    if not name.startswith("dassdp."):
        return getattr(ref, name)
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            obj = getattr(obj, attribute)
        return obj
    raise ModuleNotFoundError(name)


def _map_names() -> list[str]:
    table = ref.__doc__.split(".. list-table::", 1)[1].split("\n\n", 2)[1]  # after the options
    return sorted(set(re.findall(r"(?<![`:])`([\w.]+)`(?!`)", table)))  # not ``literals`` or :math:`x`


def test_the_map_names_every_step_in_each_expression():
    names = _map_names()
    assert len(names) > 20
    assert any(n.startswith("dassdp.rules.brian2.") for n in names)
    assert any(n.startswith("dassdp.rules.torch.") for n in names)


@pytest.mark.parametrize("name", _map_names())
def test_every_name_in_the_map_exists(name):
    pytest.importorskip("torch")
    pytest.importorskip("brian2")
    assert _resolve(name) is not None  # a missing module or attribute raises
