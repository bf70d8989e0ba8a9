"""Decoders: from combined encodings to the output."""

from tailorml.models.decoders.mlp import ACTIVATIONS, MLPDecoder

__all__ = ["ACTIVATIONS", "MLPDecoder"]
