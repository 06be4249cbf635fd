"""PyTorch <-> Brian2 conversion, NIR import/export, weights back to PyTorch.

- `to_brian2(model, inputs, ...)`: an exact Brian2 equivalent of a discrete-time PyTorch SNN
  (`dassdp.bridge.brian2`), or with ``mode="biophysical"`` its continuous-time version
  (`dassdp.bridge.biophysical`);
- `to_torch(converted, model)`: weights (and DA-SSDP gates) back into the PyTorch model
  (`dassdp.bridge.weights`);
- `to_snntorch(imported, net, layers=None)`: a `from_snntorch` import's weights into snnTorch's ``net``;
- `to_nir(model, dt=1e-4, input_shape=None)`: a NIR graph, with dt and the reset in its metadata
  (warns where NIR readers cannot reproduce the reset);
- `from_nir(graph, *, convention="nir", dt=None, reset=None, resets=None, reset_delay=None)`: a
  NIR graph or ``.nir`` file read as its writer meant it: ``convention`` ``"nir"`` (NIR's
  equations), ``"snntorch"`` (``export_to_nir``) or ``"norse"`` (Norse's ``to_nir``); what the
  graph does not state (dt, the reset, snnTorch's ``reset_delay``) comes from the arguments, else
  from the convention with one ``UserWarning`` (`dassdp.bridge.nir_io`);
- `from_snntorch(model, input_shape=None, layers=None)`: an snnTorch network (``Leaky``,
  ``Synaptic``, every ``reset_mechanism`` and ``reset_delay``) with snnTorch's exact step
  (`dassdp.bridge.snntorch_io`), which `to_brian2` then converts.

Submodules import Brian2, torch and nir lazily where they can. Bad arguments raise before anything
is built: `ConversionError` (a ValueError) names the layer or graph node that cannot be represented
or holds NaN/infinite parameters; TypeError (`ConversionTypeError` for a model, graph or converted
network of the wrong type) and ValueError name the argument.
"""

from __future__ import annotations

from dassdp.bridge.plan import ConversionError, ConversionTypeError

__all__ = [
    "ConversionError",
    "ConversionTypeError",
    "from_nir",
    "from_snntorch",
    "to_brian2",
    "to_nir",
    "to_snntorch",
    "to_torch",
]


def __getattr__(name: str):
    if name == "to_brian2":
        from dassdp.bridge.brian2 import to_brian2

        return to_brian2
    if name in ("to_torch", "to_snntorch"):
        from dassdp.bridge import weights

        return getattr(weights, name)
    if name in ("to_nir", "from_nir"):
        from dassdp.bridge import nir_io

        return getattr(nir_io, name)
    if name == "from_snntorch":
        from dassdp.bridge.snntorch_io import from_snntorch

        return from_snntorch
    raise AttributeError(f"module 'dassdp.bridge' has no attribute {name!r}")
