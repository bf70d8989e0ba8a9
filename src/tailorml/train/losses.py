"""The loss and the count of correct predictions for each output kind."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import nn

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def make_loss(kind: str, name: str, reduction: str = "mean") -> LossFn:
    """The loss for an output kind; ``auto`` picks the usual one.

    Args:
        kind: output kind (category | binary | number).
        name: the configured loss, or ``auto``.
        reduction: ``mean`` over the batch, or ``none`` for one loss per row.
    """
    if name == "auto":
        name = {"category": "cross_entropy", "binary": "binary_cross_entropy"}.get(kind, "mse")
    if name == "cross_entropy":
        return partial(nn.functional.cross_entropy, reduction=reduction)
    if name == "binary_cross_entropy":
        bce = nn.functional.binary_cross_entropy_with_logits
        return lambda out, y: bce(out.reshape(-1), y, reduction=reduction)
    regression: dict[str, Callable[..., torch.Tensor]] = {
        "mse": nn.functional.mse_loss,
        "mae": nn.functional.l1_loss,
        "huber": nn.functional.huber_loss,
    }
    loss = regression[name]
    return lambda out, y: loss(out.reshape(-1), y, reduction=reduction)


def count_correct(kind: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Correct predictions in a batch, as a 0-d tensor (no host sync)."""
    if kind == "category":
        return (out.argmax(dim=1) == y).sum()
    if kind == "binary":
        return ((out.reshape(-1) > 0).float() == y).sum()
    return torch.zeros((), dtype=torch.int64)
