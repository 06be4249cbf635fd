"""Analysis of spike data and result tables; imports neither Brian2 nor torch at module level.

Modules (import the one you need; this package imports none of them eagerly, so that
``import dassdp.analysis`` stays light and never loads matplotlib):

- :mod:`~dassdp.analysis.spikes`: the tidy spike table and converters (arrays, PyTorch, Brian2),
  window assignment;
- :mod:`~dassdp.analysis.synchrony`: per-window statistics (sample synchrony S, fired fraction,
  latencies, co-firing, spike-count correlation, Fano factor);
- :mod:`~dassdp.analysis.pairwise`: all-pairs STTC, SPIKE-synchronization and ISI-distance;
- :mod:`~dassdp.analysis.population`: Golomb's chi and the Kuramoto order parameter;
- :mod:`~dassdp.analysis.continual`: accuracy matrix, ACC, BWT, FWT, forgetting;
- :mod:`~dassdp.analysis.stats`: Student-t intervals over seeds, paired differences to a reference
  variant and the smallest difference detectable at 80 % power;
- :mod:`~dassdp.analysis.figures`: one function per figure (imports matplotlib and seaborn);
- :mod:`~dassdp.analysis.report`: the ``dassdp report`` command.
"""
