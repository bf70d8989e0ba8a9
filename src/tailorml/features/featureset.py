"""All preprocessors of a model together: fit on train, apply anywhere."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch

from tailorml.config import InputFeature, ModelConfig
from tailorml.errors import DataError, dash_hint
from tailorml.features.base import PREPROCESSORS, Preprocessor
from tailorml.features.meta import FeatureMeta
from tailorml.features.target import Target
from tailorml.io import JSONObject, as_object, as_objects


@dataclass
class Encoded:
    """A split as tensors: one per input feature, the targets (or None), and
    per-row training weights (None: every row counts the same)."""

    inputs: dict[str, torch.Tensor]
    target: torch.Tensor | None
    weights: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(next(iter(self.inputs.values())))


class FeatureSet:
    """Preprocessors for every input feature and the target of one model."""

    def __init__(self, inputs: list[Preprocessor], target: Target):
        self.inputs = inputs
        self.target = target

    @classmethod
    def fit(cls, config: ModelConfig, train: pd.DataFrame) -> FeatureSet:
        """Fit every preprocessor on the training rows only."""
        if len(train) == 0:
            raise DataError("the training data is empty: no rows to learn from.")
        check_columns(train, config, "training")
        inputs = [preprocessor_for(f) for f in config.input_features]
        for pre in inputs:
            pre.fit(train[pre.name])
        out = config.output
        target = Target(out.name, out.type)
        target.fit(train[out.name], positive=out.positive)
        return cls(inputs, target)

    def encode(self, frame: pd.DataFrame, split: str = "data", with_target: bool = True) -> Encoded:
        """Tensors for these rows; the target too when asked and present."""
        if len(frame) == 0:
            raise DataError(f"the {split} data is empty: no rows.")
        needed = [p.name for p in self.inputs] + ([self.target.name] if with_target else [])
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise DataError(
                f"the {split} data lacks column(s) {', '.join(map(repr, missing))}; "
                f"it has {', '.join(map(repr, list(frame.columns)[:20]))}."
            )
        inputs = {p.name: p.transform(frame[p.name]) for p in self.inputs}
        target = self.target.encode(frame[self.target.name], split) if with_target else None
        return Encoded(inputs, target)

    def metas(self) -> dict[str, FeatureMeta]:
        return {p.name: p.meta() for p in self.inputs}

    def to_dict(self) -> JSONObject:
        return {"inputs": [p.to_dict() for p in self.inputs], "target": self.target.to_dict()}

    @classmethod
    def from_dict(cls, data: JSONObject) -> FeatureSet:
        inputs = [Preprocessor.from_dict(p) for p in as_objects(data["inputs"], "inputs")]
        return cls(inputs, Target.from_dict(as_object(data["target"], "target")))


def preprocessor_for(feature: InputFeature) -> Preprocessor:
    """An unfitted preprocessor for one input feature.

    The encoder says which (its ``preprocessor`` hook): a ``pretrained``
    encoder's text is tokenized by its checkpoint, every other feature by its
    type's own preprocessor.
    """
    kind: str = feature.type
    extra: JSONObject = {}
    if feature.encoder is not None:
        kind, extra = feature.encoder.preprocessor(feature.type)
    return PREPROCESSORS[kind](feature.name, feature.preprocessing.model_dump() | extra)


def check_columns(frame: pd.DataFrame, config: ModelConfig, split: str) -> None:
    """Every configured column must exist; name the nearest one if not."""
    columns = [str(c) for c in frame.columns]
    wanted = [f.name for f in config.input_features] + [config.output.name]
    for name in wanted:
        if name not in frame.columns:
            tip = dash_hint(name, columns) or "."
            role = "target" if name == config.output.name else "input feature"
            raise DataError(
                f"{role} column '{name}' does not exist in the {split} data{tip} "
                f"Columns: {', '.join(columns[:30])}."
            )
