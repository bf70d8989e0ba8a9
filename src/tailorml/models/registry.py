"""Encoders, combiners and decoders registered by name.

Adding an encoder is one new file with ``@register_encoder("name", Options,
types={...})`` on its class, plus an import in ``tailorml/models/encoders``;
a decoder (``decoder.name``) or combiner (``combiner.type``) likewise with
``register_decoder`` / ``register_combiner``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import torch
from torch import nn

from tailorml.config import DecoderConfig, EncoderConfig, register_options
from tailorml.errors import ConfigError
from tailorml.features.meta import FeatureMeta

Registered = TypeVar("Registered", bound=type[nn.Module])
ParamGroup = tuple[list[nn.Parameter], float]  # parameters and their learning rate


class Encoder(nn.Module):
    """Maps one preprocessed feature batch to a vector per row.

    Subclasses take ``(meta, options)``, set ``self.output_size`` and implement
    ``forward(x) -> (B, output_size)``. The hooks below say what an encoder
    needs from the other layers; the defaults suit an encoder trained from
    scratch on its feature type's own preprocessing.
    """

    output_size: int
    # the preprocessing options its input keeps (None: all); a checkpoint's own
    # tokenizer, say, takes only some of a text feature's
    preprocessing_options: ClassVar[tuple[str, ...] | None] = None

    @property
    def frozen(self) -> bool:
        """Its weights never train: training embeds its inputs once, ahead."""
        return False

    @classmethod
    def for_privacy(cls, options: Any) -> tuple[Any, list[str]]:
        """Options (JSON values) that DP-SGD can train, and what changed in words
        (a layer that mixes rows, such as BatchNorm, swapped for one that does not)."""
        return options, []

    def load_pretrained(self) -> None:
        """Put pretrained weights in (a new model; a saved one has its own)."""

    def lengths(self, x: torch.Tensor) -> torch.Tensor | None:
        """Tokens per row ``(B,)`` when the encoder's cost grows with them."""
        return None

    def parameter_groups(self) -> list[ParamGroup]:
        """Parameters that learn at rates of their own, with those rates."""
        return []


def masked_pool(h: torch.Tensor, mask: torch.Tensor, how: str) -> torch.Tensor:
    """Mean or max over the real positions of each row.

    Args:
        h: ``(B, T, D)``.
        mask: ``(B, T)`` bool, True at real tokens; every row has at least one.
        how: ``mean`` or ``max``.

    Returns:
        ``(B, D)``.
    """
    if how == "mean":
        weights = mask.unsqueeze(-1).to(h.dtype)  # (B, T, 1)
        return (h * weights).sum(1) / weights.sum(1)
    return h.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(1)


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


DECODERS: dict[str, type[nn.Module]] = {}  # (input width, outputs, DecoderConfig) → module
COMBINERS: dict[str, type[nn.Module]] = {}  # (widths of the encodings) → module


def register_decoder(name: str, options: type[DecoderConfig]) -> Callable[[Registered], Registered]:
    """Class decorator registering a decoder; its options validate ``decoder:``."""

    def wrap(cls: Registered) -> Registered:
        DECODERS[name] = cls
        register_options("decoder", name, options)
        return cls

    return wrap


def register_combiner(name: str) -> Callable[[Registered], Registered]:
    """Class decorator registering a combiner: ``forward(encodings) -> (B, output_size)``."""

    def wrap(cls: Registered) -> Registered:
        COMBINERS[name] = cls
        return cls

    return wrap


def build_encoder(meta: FeatureMeta, options: EncoderConfig) -> Encoder:
    """Instantiate the registered encoder for one feature.

    Raises:
        ConfigError: the encoder does not accept this feature type.
    """
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
