"""The output column: class labels or numbers, and back again."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from tailorml.errors import DataError
from tailorml.features.base import fail_on_rows, missing_mask
from tailorml.features.outputs import OUTPUT_TYPES, OutputType
from tailorml.io import JSONObject, as_object


class Target:
    """Encodes the output column for training and decodes predictions.

    ``kind`` names the registered output type (category | binary | number),
    which does the work (see ``features/outputs.py``); ``state`` is what it
    learnt from the training rows.
    """

    def __init__(self, name: str, kind: str, state: dict[str, Any] | None = None):
        if kind not in OUTPUT_TYPES:
            raise DataError(f"unknown output type '{kind}'; registered: {', '.join(OUTPUT_TYPES)}.")
        self.name = name
        self.kind = kind
        self.state: dict[str, Any] = state or {}

    @property
    def type(self) -> OutputType:
        return OUTPUT_TYPES[self.kind]

    @property
    def task(self) -> str:
        return self.type.task

    @property
    def labels(self) -> list[str]:
        return list(self.state.get("labels", []))

    @property
    def n_outputs(self) -> int:
        """Width of the model's output: 1 logit for binary and number."""
        return self.type.width(self.state)

    def fit(self, column: pd.Series, positive: str | None = None) -> None:
        self._check_present(column)
        self.state = self.type.fit(self.name, column, positive)

    def _check_present(self, column: pd.Series) -> None:
        fail_on_rows(self.name, np.flatnonzero(missing_mask(column)), "the target is missing")

    def encode(self, column: pd.Series, split: str = "data") -> torch.Tensor:
        """Targets as a tensor: class ids (N,) int64, or (N,) float32."""
        self._check_present(column)
        return self.type.encode(self.name, column, self.state, split)

    def probabilities(self, outputs: torch.Tensor) -> np.ndarray:
        """Model outputs (N, K) or (N, 1) to class probabilities (N, K)."""
        return self.type.decode(outputs, self.state)

    def values(self, outputs: torch.Tensor) -> np.ndarray:
        """Regression outputs (N, 1) back in the target's own units (N,)."""
        return self.type.decode(outputs, self.state)

    def class_ids(self, encoded: torch.Tensor) -> np.ndarray:
        return encoded.long().numpy()

    def to_dict(self) -> JSONObject:
        return {"name": self.name, "kind": self.kind, "state": self.state}

    @classmethod
    def from_dict(cls, data: JSONObject) -> Target:
        return cls(str(data["name"]), str(data["kind"]), as_object(data["state"], "state"))
