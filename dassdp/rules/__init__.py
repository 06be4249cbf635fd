"""Plasticity rules, each in three expressions that must agree: ``reference`` (NumPy, the
oracle), ``brian2`` (Brian2 equations) and ``torch`` (PyTorch update)."""
