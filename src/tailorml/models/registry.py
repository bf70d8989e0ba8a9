"""Encoders and decoders registered by name.

Adding an encoder is one new file with ``@register_encoder("name", Options,
types={...})`` on its class, plus an import in ``tailorml/models/encoders``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from tailorml.config import EncoderConfig, register_options
from tailorml.features.meta import FeatureMeta


class Encoder(nn.Module):
    """Maps one preprocessed feature batch to a vector per row.

    Subclasses take ``(meta, options)``, set ``self.output_size`` and implement
    ``forward(x) -> (B, output_size)``. Pretrained encoders also override the
    three hooks below.
    """

    output_size: int

    def load_pretrained(self) -> None:
        """Put pretrained weights in (a new model; a saved one has its own)."""

    def lengths(self, x: torch.Tensor) -> torch.Tensor | None:
        """Tokens per row ``(B,)`` when the encoder's cost grows with them."""
        return None

    def parameter_groups(self) -> list[tuple[list[nn.Parameter], float]]:
        """Parameters that learn at rates of their own, with those rates."""
        return []


@dataclass(frozen=True)
class EncoderEntry:
    name: str
    cls: type[Encoder]
    options: type[EncoderConfig]
    types: frozenset[str]


ENCODERS: dict[str, EncoderEntry] = {}


def register_encoder(
    name: str, options: type[EncoderConfig], types: set[str]
) -> Callable[[type[Encoder]], type[Encoder]]:
    """Class decorator registering an encoder for the given feature types."""

    def wrap(cls: type[Encoder]) -> type[Encoder]:
        ENCODERS[name] = EncoderEntry(name, cls, options, frozenset(types))
        register_options("encoder", name, options)
        return cls

    return wrap


def build_encoder(meta: FeatureMeta, options: EncoderConfig) -> Encoder:
    """Instantiate the registered encoder for one feature.

    Raises:
        ConfigError: the encoder does not accept this feature type.
    """
    from tailorml.errors import ConfigError

    entry = ENCODERS.get(options.name)
    if entry is None:
        raise ConfigError(f"unknown encoder '{options.name}'; registered: {sorted(ENCODERS)}.")
    if meta.type not in entry.types:
        raise ConfigError(
            f"input feature '{meta.name}' has type {meta.type}, which encoder '{entry.name}' "
            f"does not take (it takes {', '.join(sorted(entry.types))})."
        )
    if not isinstance(options, entry.options):
        options = entry.options.model_validate(options.model_dump())
    return entry.cls(meta, options)
