"""Neuron and network models: Brian2 equation templates (LIF, conductance LIF, dopamine volume,
spike relays) and the PyTorch surrogate-gradient layers.

Brian2 templates are data (equation strings and namespaces) that build objects on request, so
importing this package does not import Brian2 until a template is used.
"""

from dassdp.models.neurons import NeuronModel, conductance_lif, current_lif

__all__ = ["NeuronModel", "conductance_lif", "current_lif"]
