"""The loss and the count of correct predictions, as each output type defines them."""

from __future__ import annotations

import torch

from tailorml.features.outputs import LOSSES, OUTPUT_TYPES, LossFn


def make_loss(kind: str, name: str, reduction: str = "mean") -> LossFn:
    """The configured loss (``auto``: the output type's own).

    Args:
        kind: the output type (category | binary | number).
        name: the configured loss, or ``auto``.
        reduction: ``mean`` over the batch, or ``none`` for one loss per row.
    """
    return LOSSES[OUTPUT_TYPES[kind].loss if name == "auto" else name](reduction)


def count_correct(kind: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Correct predictions in a batch, as a 0-d tensor (no host sync)."""
    return OUTPUT_TYPES[kind].count_correct(out, y)
