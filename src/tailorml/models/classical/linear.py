"""Logistic / linear (ridge) regression on one-hot, TF-IDF, pixel and audio
statistics features.

Saved as coefficients in safetensors plus JSON; no pickle.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from scipy.special import softmax
from sklearn.linear_model import LogisticRegression, Ridge

from tailorml.models.classical.base import ClassicalModel, Inputs, class_ids, register_classical
from tailorml.models.classical.design import fit_idf, load_linear, save_linear, sparse_design
from tailorml.models.family import Candidate, Capabilities, Proposal, Task

# the settings that enter every match, per modality: candidate name → C
SETTINGS = {
    "table": {"linear_c1": 1.0, "linear_c0.1": 0.1},
    "text": {"tfidf_linear_c1": 1.0, "tfidf_linear_c4": 4.0},
    "image": {"linear_pixels": 0.1},
    "audio": {"mfcc_linear": 1.0},
}
# audio candidates read 20 MFCCs per frame, whatever the scenario's frames are
MFCC = {"audio": {"features": "mfcc", "n_mels": 40, "n_mfcc": 20, "spec_augment": None}}
WHY = {
    "table": "Tables: linear models always enter.",
    "text": "Text: TF-IDF + a linear model always enters.",
    "image": "Images: a linear model on pixels always enters.",
    "audio": "Audio: logistic regression on MFCC statistics (each coefficient's mean and "
    "spread over the clip) always enters.",
}


@register_classical
class LinearModel(ClassicalModel):
    """``C`` (classification, inverse L2 strength) or ``alpha`` (regression)."""

    family = "linear"
    capabilities = Capabilities(attribution="linear")  # coefficient × design value, exact

    @classmethod
    def candidates(cls, task: Task) -> Proposal:
        """Every task: two strengths of L2 (one on pixels)."""
        chosen = SETTINGS[task.modality].items()
        extra = {"preprocessing": MFCC} if task.modality == "audio" else {}
        out = [Candidate(name, "linear", {"C": c, **extra}) for name, c in chosen]
        return out, [WHY[task.modality]]

    def fit(
        self, inputs: Inputs, target: torch.Tensor, seed: int, sensitive: np.ndarray | None = None
    ) -> None:
        """Fit on the training rows; ``sensitive`` is not used."""
        self.idf = fit_idf(inputs, self.metas)
        x = sparse_design(inputs, self.metas, self.idf)
        y = class_ids(target, self.kind)
        if self.kind == "number":
            model = Ridge(alpha=float(self.params.get("alpha", 1.0)), random_state=seed).fit(x, y)
            self.coef = np.asarray(model.coef_, dtype=np.float64).reshape(1, -1)
            self.intercept = np.asarray([model.intercept_], dtype=np.float64).reshape(-1)
            return
        model = LogisticRegression(
            C=float(self.params.get("C", 1.0)), max_iter=int(self.params.get("max_iter", 1000)),
            random_state=seed,
        ).fit(x, y)  # fmt: skip
        self.coef = np.asarray(model.coef_, dtype=np.float64)  # (1, D) binary, (K, D)
        self.intercept = np.asarray(model.intercept_, dtype=np.float64)

    def predict_raw(self, inputs: Inputs) -> np.ndarray:
        x = sparse_design(inputs, self.metas, self.idf)
        scores = np.asarray(x @ self.coef.T) + self.intercept  # (N, 1) or (N, K)
        if self.kind == "number":
            return scores.reshape(-1)
        if scores.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-scores[:, 0]))
            return np.stack([1 - p, p], axis=1)
        return np.asarray(softmax(scores, axis=1))

    def save(self, folder: Path) -> None:
        save_linear(
            folder / "linear.safetensors", self.idf, coef=self.coef, intercept=self.intercept
        )

    def load_state(self, folder: Path) -> None:
        arrays, self.idf = load_linear(folder / "linear.safetensors")
        self.coef, self.intercept = arrays["coef"], arrays["intercept"]

    def parameters(self) -> int:
        return int(self.coef.size + self.intercept.size)
