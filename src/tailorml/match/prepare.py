"""From a scenario to encoded train / validation / test data, once per preprocessing."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from tailorml.config import ModelConfig, Scenario
from tailorml.config.infer import infer_type
from tailorml.errors import DataError
from tailorml.features import Encoded, FeatureSet
from tailorml.features.featureset import preprocessor_for
from tailorml.runs.pipeline import read_splits


@dataclass
class Preprocessed:
    """One fitted FeatureSet and every split encoded by it."""

    features: FeatureSet
    encoded: dict[str, Encoded]


@dataclass
class Prepared:
    """Everything every candidate trains and is judged on.

    Preprocessing is fitted on the training rows once per preprocessing
    signature, on first use (``preprocessed``): most candidates share the
    scenario's own (``features``, ``encoded``), while text read by a
    ``pretrained`` encoder needs its checkpoint's tokenizer instead.
    """

    scenario: Scenario
    config: ModelConfig  # inputs, output and data; candidates add encoders/decoder/training
    frames: dict[str, pd.DataFrame]
    dropped_rows: int
    fitted: dict[str, Preprocessed] = field(default_factory=dict)  # by preprocessing signature

    @property
    def features(self) -> FeatureSet:
        return self.preprocessed(self.config).features

    @property
    def encoded(self) -> dict[str, Encoded]:
        return self.preprocessed(self.config).encoded

    def preprocessed(self, config: ModelConfig) -> Preprocessed:
        """The features ``config`` needs, fitted on the training rows (once)."""
        key = preprocessing_signature(config)
        if key not in self.fitted:
            features = FeatureSet.fit(config, self.frames["train"])
            encoded = {name: features.encode(frame, name) for name, frame in self.frames.items()}
            self.fitted[key] = Preprocessed(features, encoded)
        return self.fitted[key]

    def subset_index(self, fraction: float, seed: int) -> np.ndarray:
        """Positions of a seeded sample of the training rows (successive-halving rungs)."""
        n = len(self.frames["train"])
        if fraction >= 1:
            return np.arange(n)
        return np.sort(np.random.default_rng(seed).permutation(n)[: max(1, int(n * fraction))])

    def subset(
        self, fraction: float, seed: int, train: Encoded | None = None
    ) -> tuple[Encoded, pd.DataFrame]:
        """The sample as tensors (of ``train``, by default the shared encoding
        of the training rows), and as the raw rows they came from."""
        train = train if train is not None else self.encoded["train"]
        rows = self.frames["train"]
        if fraction >= 1:
            return train, rows
        keep = self.subset_index(fraction, seed)
        index = torch.from_numpy(keep)
        target = train.target.index_select(0, index) if train.target is not None else None
        inputs = {k: v.index_select(0, index) for k, v in train.inputs.items()}
        return Encoded(inputs, target), rows.iloc[keep].reset_index(drop=True)


def preprocessing_signature(config: ModelConfig) -> str:
    """What fitting the features depends on besides the rows: each input's
    preprocessor kind and options (the checkpoint, for pretrained text)."""
    inputs = [
        (p.name, p.kind or p.type, p.options) for p in map(preprocessor_for, config.input_features)
    ]
    return json.dumps(inputs, sort_keys=True, default=str)


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
    data = Prepared(scenario, model_config(scenario, frames["train"]), frames, dropped)
    data.preprocessed(data.config)  # the shared features: bad data fails here, not mid-search
    return data
