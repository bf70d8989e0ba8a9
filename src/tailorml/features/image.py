"""Images (arrays, nested lists or file paths) to scaled (C, H, W) tensors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from PIL import Image

from tailorml.errors import DataError
from tailorml.features.base import Preprocessor, register_preprocessor
from tailorml.features.meta import FeatureMeta


def to_array(value: Any, name: str, row: int) -> np.ndarray:
    """One image as an (H, W, C) array; paths are opened with Pillow."""
    if isinstance(value, str | Path):
        try:
            with Image.open(value) as img:
                value = np.asarray(img)
        except (OSError, ValueError) as err:
            problem = f"cannot open image {value!r}: {err}"
            raise DataError(f"column '{name}', row {row + 1}: {problem}.") from None
    try:
        array = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        got = type(value).__name__
        raise DataError(f"column '{name}', row {row + 1}: not an image (got {got}).") from None
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise DataError(
            f"column '{name}', row {row + 1}: an image must be H×W or H×W×C, "
            f"got shape {array.shape}."
        )
    return array


def resize(array: np.ndarray, height: int, width: int) -> np.ndarray:
    channels = [Image.fromarray(array[:, :, c]) for c in range(array.shape[2])]
    resized = [np.asarray(c.resize((width, height), Image.Resampling.BILINEAR)) for c in channels]
    return np.stack(resized, axis=2)


def nchw(images: torch.Tensor) -> torch.Tensor:
    """(N, H, W, C) to a (N, C, H, W) copy with plain row-major strides.

    ``permute(...).contiguous()`` is a no-op when C == 1 and keeps
    channels-last strides, which sends convolutions down a slower path.
    """
    return images.permute(0, 3, 1, 2).clone(memory_format=torch.contiguous_format)


@register_preprocessor
class ImagePreprocessor(Preprocessor):
    """Checks every image against the training size and scales pixels."""

    type = "image"

    def fit(self, column: pd.Series) -> None:
        if len(column) == 0:
            raise DataError(f"column '{self.name}': no images to learn the size from.")
        first = to_array(column.iloc[0], self.name, 0)
        sides = ("height", "width", "channels")  # of the first image, where not configured
        self.state = {k: self.options.get(k) or first.shape[i] for i, k in enumerate(sides)}

    def transform(self, column: pd.Series) -> torch.Tensor:
        h, w, c = self.state["height"], self.state["width"], self.state["channels"]
        batch = np.empty((len(column), h, w, c), dtype=np.float32)
        for row, value in enumerate(column):
            batch[row] = self._fit_to_size(to_array(value, self.name, row), row)
        batch /= self.options["scale"]
        return nchw(torch.from_numpy(batch))  # (N, C, H, W)

    def _fit_to_size(self, array: np.ndarray, row: int) -> np.ndarray:
        h, w, c = self.state["height"], self.state["width"], self.state["channels"]
        if array.shape[:2] != (h, w):
            if not self.options["resize"]:
                raise DataError(
                    f"column '{self.name}', row {row + 1}: image is {array.shape[0]}×"
                    f"{array.shape[1]}, expected {h}×{w} (set preprocessing.resize: true "
                    "to resize images)."
                )
            array = resize(array, h, w)
        if array.shape[2] != c:
            if c == 1:
                array = array[:, :, :3].mean(axis=2, keepdims=True)
            elif array.shape[2] == 1:
                array = np.repeat(array, c, axis=2)
            else:
                raise DataError(
                    f"column '{self.name}', row {row + 1}: image has {array.shape[2]} channels, "
                    f"expected {c}."
                )
        return array

    def meta(self) -> FeatureMeta:
        shape = (self.state["channels"], self.state["height"], self.state["width"])
        return FeatureMeta(self.name, self.type, shape, "float32")
