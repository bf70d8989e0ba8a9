"""Registered decoders: from combined encodings to the output; importing this
package registers them all."""

from tailorml.models.decoders.mlp import MLPDecoder

__all__ = ["MLPDecoder"]
