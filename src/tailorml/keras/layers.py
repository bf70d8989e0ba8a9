"""Keras-named layer descriptions for :class:`tailorml.keras.Sequential`.

These only describe a layer; ``Sequential`` turns the list into a tailorml
model config (a ``cnn`` encoder plus an MLP decoder) and trains it with the
same engine as ``tailor train``.
"""

from __future__ import annotations

from dataclasses import dataclass


def _pair(value: int | tuple[int, int]) -> int:
    if isinstance(value, tuple):
        if value[0] != value[1]:
            raise ValueError(f"only square kernels and pools are supported, got {value}")
        return value[0]
    return value


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

__all__ = ["Conv2D", "Dense", "Dropout", "Flatten", "Input", "Layer", "MaxPooling2D", "_pair"]
