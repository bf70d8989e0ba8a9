"""The output column: class labels or numbers, and back again."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from tailorml.errors import DataError
from tailorml.features.base import fail_on_rows, missing_mask
from tailorml.features.tabular import as_text, parse_numbers


class Target:
    """Encodes the output column for training and decodes predictions.

    ``kind`` is category | binary | number. Classification targets keep their
    labels sorted; binary puts the negative label first and the positive one
    second. Numbers are standardised with training mean and std.
    """

    def __init__(self, name: str, kind: str, state: dict[str, Any] | None = None):
        self.name = name
        self.kind = kind
        self.state: dict[str, Any] = state or {}

    @property
    def task(self) -> str:
        return "regression" if self.kind == "number" else "classification"

    @property
    def labels(self) -> list[str]:
        return list(self.state.get("labels", []))

    @property
    def n_outputs(self) -> int:
        """Width of the model's output: 1 logit for binary and number."""
        return len(self.labels) if self.kind == "category" else 1

    def fit(self, column: pd.Series, positive: str | None = None) -> None:
        self._check_present(column)
        if self.kind == "number":
            values = parse_numbers(self.name, column)
            self.state = {"mean": float(values.mean()), "std": float(values.std()) or 1.0}
            return
        labels = sorted(set(as_text(column)))
        if self.kind == "binary":
            labels = self._binary_order(labels, positive)
        elif len(labels) < 2:
            raise DataError(f"target '{self.name}' has only one class in the training data.")
        self.state = {"labels": labels}

    def _binary_order(self, labels: list[str], positive: str | None) -> list[str]:
        if len(labels) != 2:
            raise DataError(
                f"binary target '{self.name}' must have exactly two values in the training "
                f"data; found {len(labels)}: {labels[:10]}."
            )
        if positive is not None and positive not in labels:
            raise DataError(
                f"binary target '{self.name}': positive label {positive!r} not in {labels}."
            )
        positive = positive or labels[1]
        return [label for label in labels if label != positive] + [positive]

    def _check_present(self, column: pd.Series) -> None:
        fail_on_rows(self.name, np.flatnonzero(missing_mask(column)), "the target is missing")

    def encode(self, column: pd.Series, split: str = "data") -> torch.Tensor:
        """Targets as a tensor: class ids (N,) int64, or (N,) float32."""
        self._check_present(column)
        if self.kind == "number":
            values = (parse_numbers(self.name, column) - self.state["mean"]) / self.state["std"]
            return torch.from_numpy(values.astype(np.float32))
        index = {label: i for i, label in enumerate(self.labels)}
        text = as_text(column)
        unseen = sorted({v for v in text if v not in index})
        if unseen:
            raise DataError(
                f"target '{self.name}' in the {split} data has label(s) never seen in training: "
                f"{', '.join(map(repr, unseen[:10]))}; the model can only predict "
                f"{', '.join(map(repr, self.labels))}."
            )
        ids = torch.tensor([index[v] for v in text], dtype=torch.int64)
        return ids.float() if self.kind == "binary" else ids

    def probabilities(self, outputs: torch.Tensor) -> np.ndarray:
        """Model outputs (N, K) or (N, 1) to class probabilities (N, K)."""
        if self.kind == "binary":
            p = torch.sigmoid(outputs.float().reshape(-1))
            return torch.stack([1 - p, p], dim=1).numpy()
        return torch.softmax(outputs.float(), dim=1).numpy()

    def values(self, outputs: torch.Tensor) -> np.ndarray:
        """Regression outputs (N, 1) back in the target's own units (N,)."""
        scaled = outputs.float().reshape(-1).numpy().astype(np.float64)
        return scaled * self.state["std"] + self.state["mean"]

    def class_ids(self, encoded: torch.Tensor) -> np.ndarray:
        return encoded.long().numpy()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "state": self.state}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Target:
        return cls(data["name"], data["kind"], data["state"])
