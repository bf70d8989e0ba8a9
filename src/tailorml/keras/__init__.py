"""A Keras-like ``Sequential`` API on the tailorml engine (for the seed CNN)."""

from tailorml.keras import layers
from tailorml.keras.sequential import Sequential

__all__ = ["Sequential", "layers"]
