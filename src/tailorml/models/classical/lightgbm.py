"""Gradient-boosted trees (LightGBM) for tables, saved in LightGBM's own
text model format; no pickle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import torch

from tailorml.io import atomic_write_text
from tailorml.models.classical.base import ClassicalModel, Inputs, class_ids, register_classical
from tailorml.models.classical.design import TABLE_TYPES, dense_design
from tailorml.models.family import Candidate, Capabilities, Params, Proposal, Task

# one thread and deterministic: the same seed gives the same trees on any machine
FIXED: dict[str, Any] = {"deterministic": True, "num_threads": 1, "verbose": -1}
DEFAULTS = {"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 31, "min_child_samples": 20}
NO_TREES = {
    "text": "Text: no trees on bags of words.",
    "image": "Images: no trees on pixels.",
    "audio": "Audio: no trees on spectrogram frames.",
}
SETTINGS: dict[str, Params] = {  # the four that enter a table task's match
    "lightgbm_small": {"num_leaves": 15, "n_estimators": 200},
    "lightgbm_medium": {"num_leaves": 31, "n_estimators": 400},
    "lightgbm_large": {"num_leaves": 63, "n_estimators": 300},
    "lightgbm_slow": {"num_leaves": 31, "n_estimators": 1000, "learning_rate": 0.02},
}


@register_classical
class LightGBMModel(ClassicalModel):
    """Params: ``n_estimators``, ``learning_rate``, ``num_leaves``,
    ``min_child_samples`` (LightGBM's own meaning)."""

    family = "lightgbm"
    capabilities = Capabilities(attribution="tree_shap")  # LightGBM's own TreeSHAP
    READS = frozenset(TABLE_TYPES)  # trees split on table columns, not words or pixels

    @classmethod
    def candidates(cls, task: Task) -> Proposal:
        """Tables: four settings. Bag-of-words trees are slow and rarely win."""
        if task.modality != "table":
            return [], [NO_TREES[task.modality]]
        out = [Candidate(name, "lightgbm", dict(params)) for name, params in SETTINGS.items()]
        return out, ["Tables: gradient-boosted trees (LightGBM) enter in four settings."]

    def fit(
        self, inputs: Inputs, target: torch.Tensor, seed: int, sensitive: np.ndarray | None = None
    ) -> None:
        """Fit on the training rows; ``sensitive`` is not used."""
        x, categorical = dense_design(inputs, self.metas)
        y = class_ids(target, self.kind)
        params = {**DEFAULTS, **self.params}
        objective = {"number": "regression", "binary": "binary"}.get(self.kind, "multiclass")
        booster_params = {
            "objective": objective,
            "learning_rate": params["learning_rate"],
            "num_leaves": params["num_leaves"],
            "min_child_samples": params["min_child_samples"],
            "seed": seed,
            **FIXED,
        }
        if objective == "multiclass":
            booster_params["num_class"] = self.n_classes
        data = lgb.Dataset(x, y, categorical_feature=categorical, free_raw_data=False)
        self.booster = lgb.train(booster_params, data, num_boost_round=params["n_estimators"])

    def predict_raw(self, inputs: Inputs) -> np.ndarray:
        x, _ = dense_design(inputs, self.metas)
        raw = np.asarray(self.booster.predict(x))
        if self.kind == "binary":
            return np.stack([1 - raw, raw], axis=1)
        return raw

    def save(self, folder: Path) -> None:
        atomic_write_text(folder / "lightgbm.txt", self.booster.model_to_string())

    def load_state(self, folder: Path) -> None:
        self.booster = read_booster(folder / "lightgbm.txt")

    def parameters(self) -> int:
        return tree_nodes(self.booster)


def tree_nodes(booster: lgb.Booster) -> int:
    """Nodes of every tree: 2 × leaves − 1 each."""
    return int(sum(t["num_leaves"] * 2 - 1 for t in booster.dump_model()["tree_info"]))


def read_booster(path: Path) -> lgb.Booster:
    """A booster from LightGBM's text format.

    Raises:
        ValueError: the file is not one.
    """
    try:
        return lgb.Booster(model_str=path.read_text())
    except lgb.basic.LightGBMError as err:
        raise ValueError(str(err)) from None
