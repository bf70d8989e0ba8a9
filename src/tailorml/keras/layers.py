"""Keras-named layer descriptions for :class:`tailorml.keras.Sequential`.

These only describe a layer; ``Sequential`` turns the list into a tailorml
model config (a ``cnn`` encoder plus an MLP decoder) and trains it with the
same engine as ``tailor train``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Input:
    """``Input(shape=(28, 28, 1))``: height, width, channels (channels last)."""

    shape: tuple[int, ...]


@dataclass
class Conv2D:
    filters: int
    kernel_size: int | tuple[int, int] = 3
    activation: str | None = None
    padding: str = "valid"
    strides: int | tuple[int, int] = 1


@dataclass
class MaxPooling2D:
    pool_size: int | tuple[int, int] = 2


@dataclass
class Flatten:
    pass


@dataclass
class Dropout:
    rate: float


@dataclass
class Dense:
    units: int
    activation: str | None = None


Layer = Input | Conv2D | MaxPooling2D | Flatten | Dropout | Dense
