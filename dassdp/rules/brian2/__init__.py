"""Plasticity rules as Brian2 objects: DA-SSDP, SSDP (gate off), pair-based STDP and DA-STDP.

Each rule is a `BrianRule` (`dassdp.rules.brian2.protocol`): its ``objects`` go into a
`brian2.Network` and its ``synapses`` hold the weights. Nothing uses ``network_operation``: all
rules run unchanged on the ``numpy``, ``cython``, ``cpp_standalone`` and ``cuda_standalone``
targets. The PyTorch counterpart of `DASSDPSynapses` is `dassdp.rules.plugin.DASSDPPlugin`.
"""

from dassdp.rules.brian2 import log_filters
from dassdp.rules.brian2.losses import ExternalLoss, ReadoutLoss, SpikeCountLoss, WindowLoss
from dassdp.rules.brian2.protocol import BrianRule
from dassdp.rules.brian2.ssdp import DASSDPSynapses, SSDPSynapses
from dassdp.rules.brian2.stdp import DASTDPSynapses, STDPSynapses
from dassdp.rules.brian2.windows import neuron_variables

log_filters.install()

__all__ = [
    "BrianRule",
    "DASSDPSynapses",
    "DASTDPSynapses",
    "ExternalLoss",
    "ReadoutLoss",
    "SSDPSynapses",
    "STDPSynapses",
    "SpikeCountLoss",
    "WindowLoss",
    "neuron_variables",
]
