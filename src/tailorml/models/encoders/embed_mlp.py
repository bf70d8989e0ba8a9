"""Embed-and-MLP encoder for number, binary and category features.

A category id looks up a learned vector; a number or binary value passes
through unchanged. An optional per-feature MLP then maps either one further.
"""

from __future__ import annotations

from typing import Annotated, Literal

import torch
from pydantic import ConfigDict, Field
from torch import nn

from tailorml.config import EncoderConfig
from tailorml.features.meta import FeatureMeta
from tailorml.models.activations import ACTIVATIONS
from tailorml.models.registry import Encoder, register_encoder


class EmbedMLPOptions(EncoderConfig):
    """Options of the ``embed_mlp`` encoder."""

    model_config = ConfigDict(extra="forbid")

    name: Literal["embed_mlp"] = "embed_mlp"
    embedding_size: int | None = Field(
        default=None,
        ge=1,
        description="Category vector size; None: min(50, (vocab_size + 1) // 2).",
    )
    hidden: list[Annotated[int, Field(ge=1)]] = Field(
        default=[], description="Sizes of the MLP layers after the embedding; empty: no MLP."
    )
    activation: Literal["relu", "gelu", "tanh", "sigmoid", "none"] = Field(
        default="relu", description="Activation after each hidden layer."
    )
    dropout: float = Field(
        default=0.0, ge=0.0, lt=1.0, description="Dropout after each hidden layer."
    )


@register_encoder("embed_mlp", EmbedMLPOptions, types={"number", "binary", "category"})
class EmbedMLPEncoder(Encoder):
    """Category: ``nn.Embedding`` lookup; number/binary: the value itself; then the MLP.

    Args:
        meta: the feature; category features need ``vocab_size``.
    """

    def __init__(self, meta: FeatureMeta, options: EmbedMLPOptions) -> None:
        super().__init__()
        self.embed: nn.Module
        if meta.type == "category":
            if meta.vocab_size is None:
                raise ValueError(f"category feature '{meta.name}' has no vocab_size")
            # the rule of thumb for a category vector: half the vocabulary, at most 50
            size = options.embedding_size or min(50, (meta.vocab_size + 1) // 2)
            # Id 0 is the unknown bucket, a real category: no padding_idx.
            self.embed = nn.Embedding(meta.vocab_size, size)
        else:
            size = 1
            self.embed = nn.Identity()
        layers: list[nn.Module] = []  # no hidden sizes: the MLP is the identity
        for hidden in options.hidden:
            layers += [nn.Linear(size, hidden), ACTIVATIONS[options.activation]()]
            layers.append(nn.Dropout(options.dropout))  # even at 0: bundles name layers by index
            size = hidden
        self.mlp = nn.Sequential(*layers)
        self.output_size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Category ids ``(B,)`` int64, or values ``(B, 1)`` float32 → ``(B, output_size)``."""
        h = self.embed(x)  # (B, E) for category, (B, 1) otherwise
        return self.mlp(h)  # (B, output_size)
