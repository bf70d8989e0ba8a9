"""The MLP decoder between the combined encodings and the output head."""

from __future__ import annotations

import torch
from torch import nn

from tailorml.config import DecoderConfig
from tailorml.models.activations import ACTIVATIONS
from tailorml.models.registry import register_decoder


@register_decoder("mlp", DecoderConfig)
class MLPDecoder(nn.Module):
    """Dense layers (Linear → activation → dropout) then a linear output head.

    Args:
        input_size: width of the combined encodings.
        n_outputs: classes for a category output, 1 for binary or number.
        config: hidden sizes, activation and dropout.
    """

    def __init__(self, input_size: int, n_outputs: int, config: DecoderConfig):
        super().__init__()
        layers: list[nn.Module] = []
        width = input_size
        for hidden in config.hidden:
            layers += [nn.Linear(width, hidden), ACTIVATIONS[config.activation]()]
            if config.dropout > 0:
                layers.append(nn.Dropout(config.dropout))
            width = hidden
        self.hidden = nn.Sequential(*layers)
        self.head = nn.Linear(width, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.hidden(x)  # (B, H)
        return self.head(x)  # (B, K) logits, or (B, 1)
