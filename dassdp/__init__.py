"""dassdp: dopamine-modulated spike-synchrony-dependent plasticity (DA-SSDP).

Tian, Tensingh, Eshraghian, Truong, Kavehei, arXiv 2512.07194 (TMLR).

Subpackages: ``models`` (neuron and network models), ``rules`` (plasticity rules, each as a NumPy
reference, Brian2 equations and a PyTorch update), ``bridge`` (PyTorch/NIR <-> Brian2), ``runs``
(studies, runner, CLI) and ``analysis`` (synchrony, continual-learning metrics, figures).
"""

__version__ = "0.1.0"
