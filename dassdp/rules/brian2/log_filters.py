"""Brian2 warnings that this package's own code triggers and that are known to be harmless,
filtered by logger and message, so that every other warning stays visible.

Brian2 warns that "an abstract code block may not be well-defined" when a synaptic pathway
writes to post-synaptic variables and it cannot prove that no post neuron is reached twice. The
dopamine deliveries of `dassdp.models.dopamine.deliver` and of the DA-SSDP gate
(`dassdp.rules.brian2.ssdp._SHARE`) are one-to-all Synapses from a one-neuron volume (with
replicas, from each volume neuron to its replica's block): every post neuron is the target of
exactly one synapse, so the order of execution cannot matter. Only the
warnings about those code blocks are dropped; the filter matches the first line Brian2 quotes.
"""

from __future__ import annotations

import logging

__all__ = ["install"]

#: Brian2's logger of the warning
LOGGER = "brian2.codegen.generators.base"
#: the start of the warning
WARNING = "Came across an abstract code block that may not be well-defined"
#: the quoted first line of each of our one-to-all delivery code blocks
DELIVERIES = ("'tj := (ssdp_fired_post * ssdp_lat_post)", "'DA_post = DA_pre'")


class _OneToAllDeliveries(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith(WARNING) and any(line in message for line in DELIVERIES))


def install() -> None:
    """Add the filter to Brian2's logger (once)."""
    logger = logging.getLogger(LOGGER)
    if not any(isinstance(f, _OneToAllDeliveries) for f in logger.filters):
        logger.addFilter(_OneToAllDeliveries())
