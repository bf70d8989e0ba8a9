"""Combiners: from one encoding per input feature to one vector per row."""

from __future__ import annotations

import torch
from torch import nn

from tailorml.models.registry import register_combiner


@register_combiner("concat")
class Concat(nn.Module):
    """The encodings side by side.

    Args:
        widths: the width of each input feature's encoding.
    """

    def __init__(self, widths: list[int]):
        super().__init__()
        self.output_size = sum(widths)

    def forward(self, encoded: list[torch.Tensor]) -> torch.Tensor:
        return encoded[0] if len(encoded) == 1 else torch.cat(encoded, dim=1)  # (B, ΣD_i)
