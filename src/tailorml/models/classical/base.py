"""Classical models share one small interface with the deep model."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from tailorml.features.meta import FeatureMeta

Inputs = dict[str, torch.Tensor]
CLASSICAL: dict[str, type[ClassicalModel]] = {}


class ClassicalModel:
    """A non-neural model on the encoded features.

    Args:
        params: the family's hyperparameters (JSON values).
        metas: shape and vocabulary of each input feature.
        kind: the output kind: category | binary | number.
        n_classes: classes for classification, 1 for regression.
    """

    family: ClassVar[str]
    explainable: ClassVar[bool] = True  # coefficients / tree contributions
    TABLE_TYPES: ClassVar[frozenset[str]] = frozenset({"number", "binary", "category"})

    @classmethod
    def input_types(cls, params: dict[str, Any]) -> frozenset[str] | None:
        """The input feature types the family reads with these params (None: every type).
        A model trained on a table with other columns reads only the ones it takes."""
        return None

    def __init__(
        self, params: dict[str, Any], metas: dict[str, FeatureMeta], kind: str, n_classes: int
    ):
        self.params = params
        self.metas = metas
        self.kind = kind
        self.n_classes = n_classes

    def fit(
        self, inputs: Inputs, target: torch.Tensor, seed: int, sensitive: np.ndarray | None = None
    ) -> None:
        """Fit on the encoded training rows.

        Args:
            inputs: the encoded input features, (N, ...) each.
            target: (N,) class ids, or standardised values for regression.
            seed: the family's random seed.
            sensitive: (N,) labels of a sensitive attribute, for families that
                train under a fairness constraint; the others ignore it.
        """
        raise NotImplementedError

    def predict_raw(self, inputs: Inputs) -> np.ndarray:
        """Probabilities (N, K) for classification, standardised values (N,)."""
        raise NotImplementedError

    def save(self, folder: Path) -> None:
        raise NotImplementedError

    def load_state(self, folder: Path) -> None:
        raise NotImplementedError

    def outputs(self, inputs: Inputs) -> torch.Tensor:
        """The deep model's output convention, so decoding is shared:
        logits (N, K) for category, one logit (N, 1) for binary, (N, 1)."""
        raw = self.predict_raw(inputs)
        if self.kind == "number":
            return torch.from_numpy(raw.reshape(-1, 1).astype(np.float32))
        proba = np.clip(raw, 1e-7, 1 - 1e-7)
        if self.kind == "binary":
            logit = np.log(proba[:, 1]) - np.log(proba[:, 0])
            return torch.from_numpy(logit.reshape(-1, 1).astype(np.float32))
        return torch.from_numpy(np.log(proba).astype(np.float32))


def register_classical(cls: type[ClassicalModel]) -> type[ClassicalModel]:
    CLASSICAL[cls.family] = cls
    return cls


def class_ids(target: torch.Tensor, kind: str) -> np.ndarray:
    return target.long().numpy() if kind != "number" else target.numpy().astype(np.float64)
