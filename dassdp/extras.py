"""Optional dependencies: each serves one feature and comes with an extra of ``dassdp``.

`require` imports one for a feature, or says which extra installs it (``pip install
'dassdp[nir]'``); ``dassdp[all]`` installs every extra.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["EXTRAS", "install_hint", "require"]

#: top-level module -> the extra of dassdp (pyproject.toml) that installs it
EXTRAS = {
    "distributed": "dask",
    "matplotlib": "figures",
    "seaborn": "figures",
    "mnist1d": "mnist1d",
    "nir": "nir",
}


def install_hint(module: str) -> str:
    """The pip command that installs ``module`` (a key of `EXTRAS`)."""
    return f"pip install 'dassdp[{EXTRAS[module]}]'"


def require(module: str, feature: str) -> ModuleType:
    """Import ``module`` (its top-level package a key of `EXTRAS`) for ``feature``; if the package
    is not installed, raise ModuleNotFoundError naming the feature and the extra to install."""
    top = module.partition(".")[0]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name != top:
            raise
        raise ModuleNotFoundError(
            f"{feature} needs {top}, which is not installed: {install_hint(top)}", name=top
        ) from None
