"""``dassdp convert SOURCE --to brian2|nir``: convert a saved PyTorch or snnTorch model or a NIR graph.

- ``SOURCE``: a ``.nir`` file (any framework that writes NIR); a file written with
  ``torch.save(model)`` holding a `SpikingMLP`, `SpikingConvNet`, `NIRNetwork`, ``nn.Sequential``
  or an snnTorch network; or a Python entry point ``package.module:function`` (a name, not a file)
  whose function, called without arguments, builds and returns such a model (importing the module
  runs its code, as running it would). Files that are not HDF5 are read with
  ``torch.load(weights_only=True)``, which loads tensors and state dicts but executes nothing from
  the file; a whole pickled ``nn.Module`` needs ``--trust-pickle`` (``weights_only=False``), which
  *executes code from the file*: pass it only for files you trust. Without it such a file exits
  with status 2 and a message naming the flag.
- snnTorch networks (``nn.Sequential`` of ``init_hidden=True`` layers, or a functional-style module
  whose children, in the order assigned, are its forward order) are imported with
  `dassdp.bridge.from_snntorch` (exact snnTorch semantics; unsupported settings exit with status 2
  naming the module and setting).
- ``--to brian2``: builds the Brian2 network for ``--samples`` random rate-coded inputs
  (``--seed``) of ``--steps`` steps and prints its layers, neurons and synapses; ``--check`` also
  runs it (Brian2 numpy target) and compares spike rasters layer by layer. For an snnTorch source
  the reference is snnTorch's own forward pass (in the model's dtype: a float32 model may differ
  from Brian2's float64 where a potential lies within float32 rounding of the threshold); for a
  NIR graph it is this package's PyTorch import of the graph, not the framework that wrote it; for
  this package's models the model itself. The output says which. Exit status 1 if the rasters
  differ in ``--mode exact``; ``--mode biophysical`` converts to continuous time.
- ``--to nir``: writes the graph to ``--out`` (default: the input with suffix ``.nir``).

Exit status 2 (and ``dassdp convert: error: ...`` on standard error) for a source that is neither a
model nor a graph, a pickled model without ``--trust-pickle``, an entry point that cannot be
imported or returns no model, a model that cannot be converted or a bad option value.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source", metavar="SOURCE", help="torch.save'd model, .nir graph, or module:function that builds a model"
    )
    parser.add_argument("--to", choices=("brian2", "nir"), required=True, help="what to convert to")
    parser.add_argument("--out", default=None, help="output file for --to nir (default: SOURCE with suffix .nir)")
    parser.add_argument("--input-shape", default=None, help="shape of one sample, e.g. 1,8,8 (needed for conv nets)")
    parser.add_argument("--steps", type=int, default=20, help="time steps per sample (default 20)")
    parser.add_argument("--samples", type=int, default=4, help="random samples to build the network for (default 4)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    parser.add_argument(
        "--dt", type=float, default=None, help="NIR time step in seconds (default: graph metadata or 1e-4)"
    )
    parser.add_argument(
        "--convention",
        choices=("nir", "snntorch", "norse"),
        default="nir",
        help="whose reading of a NIR graph to reproduce: NIR's equations, snnTorch's export_to_nir or Norse's "
        "to_nir (default nir); what the graph does not state is assumed from it, with a warning",
    )
    parser.add_argument(
        "--reset",
        choices=("zero", "subtract", "none"),
        default=None,
        help="reset of every spiking node of a NIR graph (default: graph metadata, else the convention's)",
    )
    parser.add_argument(
        "--reset-delay",
        choices=("true", "false"),
        default=None,
        help="snnTorch's reset_delay of the exported layers (with --convention snntorch; snnTorch's export "
        "does not record it, its default is true)",
    )
    parser.add_argument(
        "--mode",
        choices=("exact", "biophysical"),
        default="exact",
        help="exact (spike-identical to PyTorch) or biophysical (continuous time, units)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="run the Brian2 network and compare its spikes with the source (snnTorch's own forward pass for "
        "snnTorch models; this package's PyTorch import for NIR graphs)",
    )
    parser.add_argument(
        "--layers",
        default=None,
        help="an snnTorch model in functional style: its layers in forward order, e.g. fc1,lif1,fc2,lif2 "
        "(default: the order __init__ assigns them)",
    )
    parser.add_argument(
        "--trust-pickle",
        action="store_true",
        help="load a whole pickled nn.Module (torch.load with weights_only=False). WARNING: this executes "
        "code from the file; use it only for files you trust (default: weights_only=True, which runs nothing)",
    )


def _fail(message: str) -> int:
    print(f"dassdp convert: error: {message}", file=sys.stderr)
    return 2


def load_model_or_graph(path: str, *, trust_pickle: bool = False, **nir_options):
    """``(model, kind)`` from a ``.nir`` graph (read by `dassdp.bridge.from_nir` with
    ``nir_options``: ``convention``, ``dt``, ``reset``, ``reset_delay``), a ``torch.save``'d model or
    a ``module:function`` entry point; raises ConversionError.

    Without ``trust_pickle`` the file is read with ``torch.load(weights_only=True)``, which executes
    nothing from it: a whole pickled ``nn.Module`` is then refused with a message naming
    ``--trust-pickle`` (``weights_only=False``, which executes code from the file)."""
    import pickle

    import torch

    from dassdp.bridge.nir_io import from_nir
    from dassdp.bridge.plan import ConversionError

    if not os.path.isfile(path):
        if _ENTRY_POINT.fullmatch(path):
            return _from_entry_point(path), "torch"
        raise ConversionError(f"{path!r} does not exist or is not a file (nor a module:function entry point)")
    with open(path, "rb") as handle:
        magic = handle.read(8)
    if magic.startswith(b"\x89HDF"):
        return from_nir(path, **nir_options), "nir"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. the weights-only unpickler's "pickle protocol" warning
            model = torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except pickle.UnpicklingError as exc:
        refused = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        if trust_pickle:
            raise ConversionError(
                f"{path!r} is neither a NIR graph (HDF5) nor a model saved with torch.save(model) "
                f"(UnpicklingError: {_first_line(exc)})"
            ) from exc
        if refused is None:
            reason = re.search(r"WeightsUnpickler error:\s*(.+)", str(exc))
            raise ConversionError(
                f"{path!r} is neither a NIR graph (HDF5) nor a file that torch.load reads with weights_only=True "
                f"({reason.group(1).strip() if reason else _first_line(exc)}); if it is a pickled model from a "
                "source you trust, --trust-pickle loads it, executing code from the file"
            ) from exc
        raise ConversionError(
            f"{path!r} holds a pickled object ({refused.group(1)}) that loads only with --trust-pickle; "
            "that option executes code from the file: pass it only if you trust where the file comes from"
        ) from exc
    except ModuleNotFoundError as exc:
        raise ConversionError(
            f"{path!r} is a pickled model whose classes live in module {exc.name!r}, which cannot be imported here: "
            "run from the directory that holds it, or add that directory to PYTHONPATH"
        ) from exc
    except Exception as exc:
        raise ConversionError(
            f"{path!r} is neither a NIR graph (HDF5) nor a model saved with torch.save(model) "
            f"({type(exc).__name__}: {_first_line(exc)})"
        ) from exc
    if not isinstance(model, torch.nn.Module):
        hint = (
            " (a state_dict? save the module itself, torch.save(model, path), and load it with --trust-pickle)"
            if isinstance(model, dict)
            else ""
        )
        raise ConversionError(f"{path!r} holds an object of type {type(model).__name__}, not a torch.nn.Module{hint}")
    return model, "torch"


_ENTRY_POINT = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")


def _from_entry_point(spec: str):
    """The model returned by calling ``module:function`` (imported as Python imports it)."""
    import importlib

    import torch

    from dassdp.bridge.plan import ConversionError

    module_name, function_name = spec.split(":")
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as exc:
        raise ConversionError(f"entry point {spec!r}: {type(exc).__name__}: {_first_line(exc)}") from exc
    model = function()
    if not isinstance(model, torch.nn.Module):
        raise ConversionError(f"entry point {spec!r} returned a {type(model).__name__}, not a torch.nn.Module")
    return model


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _input_shape(text: str | None, model):
    if text:
        try:
            return tuple(int(n) for n in text.split(","))
        except ValueError:
            raise ValueError(f"--input-shape must be comma-separated integers, got {text!r}") from None
    from dassdp.bridge.lower import lower

    return lower(model).input_shape


def run(args: argparse.Namespace) -> int:
    from brian2 import BrianLogger

    from dassdp.bridge.plan import ConversionError
    from dassdp.bridge.snntorch_io import from_snntorch, is_snntorch_model

    BrianLogger.suppress_name("unused_brian_object")  # a network built only to be summarised is never run

    if os.getcwd() not in sys.path:  # as `python -m`: modules of an entry point or a pickle from here
        sys.path.insert(0, os.getcwd())
    layers = [name.strip() for name in args.layers.split(",")] if args.layers else None
    try:
        reset_delay = None if args.reset_delay is None else args.reset_delay == "true"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)  # what an import assumed: one line each
            model, kind = load_model_or_graph(
                args.source,
                trust_pickle=args.trust_pickle,
                convention=args.convention,
                dt=args.dt,
                reset=args.reset,
                reset_delay=reset_delay,
            )
        for warning in caught:
            print(f"dassdp convert: warning: {warning.message}", file=sys.stderr)
        source = None
        if kind == "torch" and is_snntorch_model(model):
            source = model
            shape = _input_shape(args.input_shape, None) if args.input_shape else None
            model = from_snntorch(source, input_shape=shape, layers=layers)
        elif layers is not None:
            raise ValueError("--layers is for snnTorch models in functional style")
        if args.to == "nir":
            return _to_nir(args, model)
        return _to_brian2(args, model, kind, source, layers)
    except (ConversionError, ValueError, TypeError) as exc:
        return _fail(str(exc))


def _to_nir(args, model) -> int:
    import nir

    from dassdp.bridge.nir_io import DEFAULT_DT, to_nir

    shape = _input_shape(args.input_shape, model)
    graph = to_nir(model, dt=DEFAULT_DT if args.dt is None else args.dt, input_shape=shape)
    out = Path(args.out) if args.out else Path(args.source).with_suffix(".nir")
    if out.resolve() == Path(args.source).resolve():
        return _fail(f"--out {str(out)!r} would overwrite the source")
    nir.write(str(out), graph)
    print(f"wrote {out} ({len(graph.nodes)} nodes, dt = {graph.metadata['dt']} s, reset = {graph.metadata['reset']})")
    for name, node in graph.nodes.items():
        print(f"  {name:<16} {type(node).__name__}")
    return 0


def _to_brian2(args, model, kind: str, source, layers=None) -> int:
    import torch

    from dassdp.bridge.brian2 import to_brian2
    from dassdp.models.targets import use_target

    if args.samples < 1 or args.steps < 1:
        return _fail("--samples and --steps must be >= 1")
    shape = _input_shape(args.input_shape, model)
    x = torch.rand((args.samples, *shape), generator=torch.Generator().manual_seed(args.seed))
    with use_target("numpy"):
        converted = to_brian2(model, x, encoding="rate", n_steps=args.steps, seed=args.seed, mode=args.mode)
        summary = converted.summary()
        print(
            f"Brian2 network: {len(summary['layers'])} groups, {summary['neurons']} neurons, "
            f"{summary['synapses']} synapses; {args.samples} samples x {args.steps} steps, "
            f"input as {summary['input_mode']}"
        )
        for layer in summary["layers"]:
            print(f"  {layer['layer']:<16} {layer['neurons']:>8} neurons  shape {layer['shape']}")
        for p in summary["projections"]:
            print(f"  {p['pre']:>10} -> {p['post']:<10} {p['synapses']:>9} synapses  ({p['projection']})")
        if not args.check:
            return 0
        converted.run(report=None)
    if source is not None:
        identical = _check_source(converted, source, layers)
    else:
        identical = _check_import(converted, model, kind)
    return 0 if identical or args.mode == "biophysical" else 1


def _check_import(converted, model, kind: str) -> bool:
    """Compare Brian2 with the PyTorch model (this package's, or its import of a NIR graph)."""
    from dassdp.bridge.check import agreement

    result = agreement(converted, model)
    print(
        f"check: identical spike rasters: {result['identical_rasters']}; "
        f"prediction agreement: {result.get('prediction_agreement', 'n/a')}; "
        f"max output difference: {result.get('max_output_difference', 'n/a')}"
    )
    if kind == "nir":
        print("compared Brian2 with this package's PyTorch import of the graph, not with the framework that wrote it")
    else:
        print("compared Brian2 with the PyTorch model itself")
    return result["identical_rasters"]


def _check_source(converted, source, layers=None) -> bool:
    """Compare Brian2's spikes, layer by layer, with snnTorch's own forward pass of ``source``."""
    from dassdp.bridge.plan import ConversionError
    from dassdp.bridge.snntorch_io import snntorch_spikes

    expected = snntorch_spikes(source, converted.inputs, layers)
    got = converted.spike_rasters()
    for name, raster in expected.items():
        if name not in got or got[name].shape != raster.shape:
            raise ConversionError(
                f"layer {name!r}: snnTorch's forward pass gives spikes of shape {raster.shape[2:]}, the Brian2 "
                f"network {got[name].shape[2:] if name in got else 'no such layer'}: the import's layer order is "
                "not the forward order (functional style: --layers fc1,lif1,...)"
            )
    identical = True
    dtype = next((p.dtype for p in source.parameters() if p.is_floating_point()), None)
    print(f"check against snnTorch's own forward pass ({dtype}; Brian2 in float64):")
    for name, raster in expected.items():
        mismatches = int((raster != got[name]).sum())
        identical &= mismatches == 0
        print(
            f"  {name:<16} snnTorch {int(raster.sum())} spikes, Brian2 {int(got[name].sum())}, "
            f"{mismatches} of {raster.size} entries differ"
        )
    print(f"check: identical spike rasters: {identical}")
    return identical
