"""Decoders: from combined encodings to the output."""

from tailorml.models.decoders.mlp import MLPDecoder

__all__ = ["MLPDecoder"]
