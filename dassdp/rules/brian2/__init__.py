"""Plasticity rules as Brian2 objects: DA-SSDP, SSDP (gate off), pair-based STDP and DA-STDP.

Each builder returns an object whose ``objects`` go into a `brian2.Network` and whose
``synapses`` hold the weights. Nothing uses ``network_operation``: all rules run unchanged on the
``numpy``, ``cython``, ``cpp_standalone`` and ``cuda_standalone`` targets.
"""

from dassdp.rules.brian2.losses import ExternalLoss, SpikeCountLoss
from dassdp.rules.brian2.ssdp import DASSDP, SSDP
from dassdp.rules.brian2.stdp import DASTDP, STDP
from dassdp.rules.brian2.windows import neuron_variables

__all__ = ["DASSDP", "DASTDP", "SSDP", "STDP", "ExternalLoss", "SpikeCountLoss", "neuron_variables"]
