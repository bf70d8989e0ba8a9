"""From a scenario to encoded train / validation / test data, once per preprocessing."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from tailorml.config import ModelConfig, Scenario
from tailorml.data.roles import ColumnRole, classify_columns, notes
from tailorml.errors import ConfigError, DataError
from tailorml.features import Encoded, FeatureSet
from tailorml.features.featureset import preprocessor_for
from tailorml.features.splits import read_splits
from tailorml.io import JSONObject

MATCH_HINT = "keep it with columns: {{{name}: feature}} in the scenario"


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
    scenario's own (``features``), while text read by a
    ``pretrained`` encoder needs its checkpoint's tokenizer instead.
    """

    scenario: Scenario
    config: ModelConfig  # inputs, output and data; candidates add encoders/decoder/training
    frames: dict[str, pd.DataFrame]
    dropped_rows: int
    roles: list[ColumnRole] = field(default_factory=list)  # inferred inputs only, else empty
    fitted: dict[str, Preprocessed] = field(default_factory=dict)  # by preprocessing signature

    @property
    def features(self) -> FeatureSet:
        return self.preprocessed(self.config).features

    def preprocessed(self, config: ModelConfig) -> Preprocessed:
        """The features ``config`` needs, fitted on the training rows (once)."""
        key = preprocessing_signature(config)
        if key not in self.fitted:
            features = FeatureSet.fit(config, self.frames["train"])
            encoded = {name: features.encode(frame, name) for name, frame in self.frames.items()}
            self.fitted[key] = Preprocessed(features, encoded)
        return self.fitted[key]

    def role_notes(self) -> list[str]:
        """One line per inferred input that is not a plain feature: left out, or text."""
        return notes(self.roles, MATCH_HINT)

    def subset(self, fraction: float, seed: int, train: Encoded) -> tuple[Encoded, pd.DataFrame]:
        """A seeded sample of the training rows (successive-halving rungs), as
        tensors of ``train`` and as the raw rows they came from."""
        rows = self.frames["train"]
        if fraction >= 1:
            return train, rows
        n = len(rows)
        keep = np.sort(np.random.default_rng(seed).permutation(n)[: max(1, int(n * fraction))])
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


def column_roles(scenario: Scenario, columns: pd.DataFrame) -> list[ColumnRole]:
    """Every column's role when the scenario leaves its inputs to infer (sensitive
    columns left out unless allowed, ``columns:`` overrides applied); none when it
    lists ``input_features``.

    Raises:
        ConfigError: ``columns:`` is set beside ``input_features``, or names the target
            or a column the data lacks.
        DataError: The target column does not exist.
    """
    target = scenario.data.target
    assert target is not None
    if target not in columns.columns:
        raise DataError(
            f"target column '{target}' does not exist in '{scenario.data.source}'; columns: "
            f"{', '.join(map(str, columns.columns[:30]))}."
        )
    if scenario.input_features is not None:
        if scenario.columns:
            raise ConfigError(
                "columns: overrides apply to inferred inputs; with input_features listed, "
                f"add or remove features there instead (columns: {', '.join(scenario.columns)})."
            )
        return []
    return classify_columns(
        columns,
        target,
        sensitive=() if scenario.use_sensitive_as_features else scenario.sensitive,
        overrides=scenario.columns,
        task=None if scenario.task == "generation" else scenario.task,
    )


def model_config(scenario: Scenario, columns: pd.DataFrame, roles: list[ColumnRole]) -> ModelConfig:
    """The model config a scenario implies: its inputs (given, or the columns
    ``column_roles`` keeps) and its output.

    Raises:
        DataError: Every column but the target is left out.
    """
    features: list[Any]
    if scenario.input_features is not None:
        features = [f.model_dump() for f in scenario.input_features]
    else:
        features = [{"name": r.name, "type": r.type} for r in roles if r.kept]
        if not features:
            raise DataError(
                f"no column of '{scenario.data.source}' is left as an input feature: "
                + "; ".join(r.describe() for r in roles)
                + ". Keep one with columns: {NAME: feature}, or list input_features."
            )
    return ModelConfig.model_validate(
        {
            "data": scenario.data.model_dump(),
            "input_features": features,
            "output_features": [output_feature(scenario, columns[scenario.data.target])],
            "training": {"seed": scenario.seed},
        }
    )


def output_feature(scenario: Scenario, column: pd.Series) -> JSONObject:
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
    roles = column_roles(scenario, frames["train"])
    config = model_config(scenario, frames["train"], roles)
    data = Prepared(scenario, config, frames, dropped, roles)
    data.preprocessed(data.config)  # the shared features: bad data fails here, not mid-search
    return data
