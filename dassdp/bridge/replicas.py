"""Replicas: R networks of one architecture side by side, converted into one Brian2 network.

`Replicas([net_0, ..., net_{R-1}])` is a PyTorch module: on ``x[T, B, R n_in]`` it runs member r
on the features ``x[..., r n_in : (r + 1) n_in]`` and concatenates the outputs, member by
member. `dassdp.bridge.to_brian2` converts it into one network whose every group holds R blocks
(replica r owns neurons ``[r n, (r + 1) n)``, as `dassdp.rules.brian2.replicas` numbers them) and
whose projections are block-diagonal (`dassdp.bridge.plan.BlockAffine`): no synapse crosses replicas, so each
replica computes exactly what its member converted alone computes (the input current of each
block is computed by its own member's layer on its own features, the same PyTorch operation on
the same values).

The members must have the same layers (names, kinds, sizes, resets); their weights, biases and
per-neuron ``beta``/``threshold`` may differ. Supported members: chains of linear layers and
neuron populations (`dassdp.models.snn.SpikingMLP`, or an ``nn.Sequential`` of ``nn.Linear``
and `dassdp.models.snn.LIF` / `dassdp.bridge.modules.CubaLIF` / ``LI`` layers); convolutions and
pooling are refused with a `ConversionError` naming the layer. Weights do not go back through
`dassdp.bridge.to_torch` (which writes one network; it refuses a replicated one): read each
replica's from its rule or synapses.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from dassdp.bridge.plan import Affine, BlockAffine, ConversionError, Neurons, Plan, TimeMean

__all__ = ["Replicas", "lower_replicas", "stack_plans"]


class Replicas(nn.Module):
    """R members run side by side on ``x[T, B, R n_in]`` (module docstring)."""

    def __init__(self, members) -> None:
        super().__init__()
        members = list(members) if not isinstance(members, nn.Module) else None
        if not members or not all(isinstance(m, nn.Module) for m in members):
            raise TypeError("Replicas needs a non-empty list of torch.nn.Module members")
        self.members = nn.ModuleList(members)

    def __len__(self) -> int:
        return len(self.members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[-1] // len(self.members)
        return torch.cat(
            [member(x[..., r * n : (r + 1) * n].contiguous()) for r, member in enumerate(self.members)], dim=-1
        )


def _stack_neurons(stages: list[Neurons], n: int) -> Neurons:
    first = stages[0]
    for r, stage in enumerate(stages[1:], start=1):
        for what in ("kind", "reset", "reset_delay"):
            if getattr(stage, what) != getattr(first, what):
                raise ConversionError(
                    f"Replicas: layer {first.name!r} has {what}={getattr(first, what)!r} in member 0 but "
                    f"{getattr(stage, what)!r} in member {r}; members must share it"
                )

    def stacked(what: str) -> Any:
        values = [getattr(s, what) for s in stages]
        if values[0] is None:
            return None
        return np.concatenate([np.broadcast_to(v, (n,)) for v in values])

    return Neurons(
        first.name,
        first.kind,
        stacked("beta"),
        stacked("threshold"),
        first.reset,
        alpha=stacked("alpha"),
        reset_delay=first.reset_delay,
    )


def stack_plans(plans: list[Plan]) -> Plan:
    """One plan of R members' plans (module docstring); `ConversionError` naming the layer where
    they differ or where a stage cannot be replicated."""
    first = plans[0]
    names = [s.name for s in first.stages]
    for r, plan in enumerate(plans[1:], start=1):
        if [s.name for s in plan.stages] != names or [type(s) for s in plan.stages] != [type(s) for s in first.stages]:
            raise ConversionError(f"Replicas: member {r} has other layers than member 0 ({names})")
        if plan.shapes() != first.shapes():
            raise ConversionError(f"Replicas: member {r} has other layer sizes than member 0")
    if len(first.input_shape) != 1:
        raise ConversionError(f"Replicas: members must take flat inputs (n_in,), got {first.input_shape}")
    stages, shapes = [], first.shapes()
    for k, stage in enumerate(first.stages):
        column = [plan.stages[k] for plan in plans]
        if isinstance(stage, Affine):
            stages.append(BlockAffine(stage.name, column))
        elif isinstance(stage, Neurons):
            stages.append(_stack_neurons(column, math.prod(shapes[k])))
        elif isinstance(stage, TimeMean):
            stages.append(stage)
        else:
            raise ConversionError(
                f"Replicas: layer {stage.name!r} ({type(stage).__name__}) cannot be replicated; members may hold "
                "linear layers and neuron populations only"
            )
    return Plan((len(plans) * first.input_shape[0],), stages, dict(first.meta))


def lower_replicas(model: Replicas, input_shape: tuple[int, ...] | None) -> Plan:
    """`dassdp.bridge.lower.lower` of each member (inputs ``(n_in,)`` each), stacked."""
    from dassdp.bridge.lower import lower

    R = len(model)
    member_shape = None
    if input_shape is not None:
        if len(input_shape) != 1 or input_shape[0] % R:
            raise ConversionError(
                f"Replicas of {R} members need flat inputs of R x n_in features, got shape {tuple(input_shape)}"
            )
        member_shape = (input_shape[0] // R,)
    return stack_plans([lower(member, member_shape) for member in model.members])
