"""The loss, as each output type defines it."""

from __future__ import annotations

from tailorml.features.outputs import LOSSES, OUTPUT_TYPES, LossFn


def make_loss(kind: str, name: str, reduction: str = "mean") -> LossFn:
    """The configured loss (``auto``: the output type's own).

    Args:
        kind: the output type (category | binary | number).
        name: the configured loss, or ``auto``.
        reduction: ``mean`` over the batch, or ``none`` for one loss per row.
    """
    return LOSSES[OUTPUT_TYPES[kind].loss if name == "auto" else name](reduction)
