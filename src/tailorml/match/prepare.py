"""From a scenario to encoded train / validation / test data, once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from tailorml.config import ModelConfig, Scenario
from tailorml.config.infer import infer_type
from tailorml.errors import DataError
from tailorml.features import Encoded, FeatureSet
from tailorml.runs.pipeline import read_splits


@dataclass
class Prepared:
    """Everything every candidate trains and is judged on."""

    scenario: Scenario
    config: ModelConfig  # inputs, output and data; candidates add encoders/decoder/training
    frames: dict[str, pd.DataFrame]
    features: FeatureSet
    encoded: dict[str, Encoded]
    dropped_rows: int

    def subset_index(self, fraction: float, seed: int) -> np.ndarray:
        """Positions of a seeded sample of the training rows (successive-halving rungs)."""
        n = len(self.encoded["train"])
        if fraction >= 1:
            return np.arange(n)
        return np.sort(np.random.default_rng(seed).permutation(n)[: max(1, int(n * fraction))])

    def subset(self, fraction: float, seed: int) -> tuple[Encoded, pd.DataFrame]:
        """The sample as encoded tensors, and as the raw rows they came from."""
        train, rows = self.encoded["train"], self.frames["train"]
        if fraction >= 1:
            return train, rows
        keep = self.subset_index(fraction, seed)
        index = torch.from_numpy(keep)
        target = train.target.index_select(0, index) if train.target is not None else None
        inputs = {k: v.index_select(0, index) for k, v in train.inputs.items()}
        return Encoded(inputs, target), rows.iloc[keep].reset_index(drop=True)


def model_config(scenario: Scenario, columns: pd.DataFrame) -> ModelConfig:
    """The model config a scenario implies: its inputs (given or inferred,
    sensitive columns left out unless allowed) and its output."""
    target = scenario.data.target
    assert target is not None
    if target not in columns.columns:
        raise DataError(
            f"target column '{target}' does not exist in '{scenario.data.source}'; columns: "
            f"{', '.join(map(str, columns.columns[:30]))}."
        )
    features: list[Any]
    if scenario.input_features is not None:
        features = [f.model_dump() for f in scenario.input_features]
    else:
        hidden = set() if scenario.use_sensitive_as_features else set(scenario.sensitive)
        features = [
            {"name": str(c), "type": infer_type(columns[c])}
            for c in columns.columns
            if c != target and c not in hidden
        ]
    return ModelConfig.model_validate(
        {
            "data": scenario.data.model_dump(),
            "input_features": features,
            "output_features": [output_feature(scenario, columns[target])],
            "training": {"seed": scenario.seed},
        }
    )


def output_feature(scenario: Scenario, column: pd.Series) -> dict[str, Any]:
    target = scenario.data.target
    if scenario.task == "regression":
        return {"name": target, "type": "number"}
    labels = column.dropna().astype(str).str.strip().unique()
    if len(labels) == 2:
        return {"name": target, "type": "binary", "positive": scenario.value.positive}
    return {"name": target, "type": "category"}


def prepare(scenario: Scenario) -> Prepared:
    """Read, split and encode the scenario's data; fit preprocessing on train."""
    probe = ModelConfig.model_validate(
        {
            "data": scenario.data.model_dump(),
            "input_features": [{"name": "__probe__", "type": "number"}],
            "output_features": [{"name": scenario.data.target, "type": "number"}],
        }
    )
    frames, dropped = read_splits(probe, classification=scenario.task == "classification")
    if "validation" not in frames:
        raise DataError(
            "a scenario needs a validation split: set data.split.validation_fraction > 0."
        )
    for column in scenario.sensitive:
        if column not in frames["train"].columns:
            raise DataError(
                f"sensitive column '{column}' does not exist in '{scenario.data.source}'."
            )
    config = model_config(scenario, frames["train"])
    features = FeatureSet.fit(config, frames["train"])
    encoded = {name: features.encode(frame, name) for name, frame in frames.items()}
    return Prepared(scenario, config, frames, features, encoded, dropped)
