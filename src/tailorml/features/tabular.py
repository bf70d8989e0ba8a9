"""Numbers, categories and yes/no values from table columns."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import torch

from tailorml.features.base import Preprocessor, fail_on_rows, missing_mask, register_preprocessor
from tailorml.features.meta import FeatureMeta


def parse_numbers(name: str, column: pd.Series) -> np.ndarray:
    """Column as float64 with NaN for missing values; text that is not a
    number, and ``inf`` / ``-inf``, are errors, never silently turned into a
    missing value (or into NaN scores further on)."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        missing = missing_mask(column)
        numbers = pd.to_numeric(column.where(~missing), errors="coerce")
        values = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.flatnonzero(np.isnan(values) & ~missing)
        fail_on_rows(name, bad, "expected a number", column)
    infinite = np.flatnonzero(np.isinf(values))
    fail_on_rows(name, infinite, "infinite value (numbers must be finite)", column)
    return values


@register_preprocessor
class NumberPreprocessor(Preprocessor):
    type = "number"

    def fit(self, column: pd.Series) -> None:
        values = parse_numbers(self.name, column)
        present = values[~np.isnan(values)]
        if present.size == 0:
            present = np.zeros(1)
        fill = {"mean": present.mean(), "median": np.median(present), "zero": 0.0}
        self.state = {
            "fill": float(fill.get(self.options["missing"], 0.0)),
            "mean": float(present.mean()),
            "std": float(present.std()) or 1.0,
            "min": float(present.min()),
            "max": float(present.max()),
        }

    def transform(self, column: pd.Series) -> torch.Tensor:
        values = parse_numbers(self.name, column)
        holes = np.isnan(values)
        if self.options["missing"] == "fail":
            fail_on_rows(self.name, np.flatnonzero(holes), "missing value")
        values = np.where(holes, self.state["fill"], values)
        norm = self.options["normalization"]
        if norm == "zscore":
            values = (values - self.state["mean"]) / self.state["std"]
        elif norm == "minmax":
            span = (self.state["max"] - self.state["min"]) or 1.0
            values = (values - self.state["min"]) / span
        return torch.from_numpy(values.astype(np.float32)).unsqueeze(1)  # (N, 1)

    def meta(self) -> FeatureMeta:
        return FeatureMeta(self.name, self.type, (1,), "float32")


def as_text(column: pd.Series) -> pd.Series:
    """Values as stripped strings; missing values stay missing."""
    missing = missing_mask(column)
    values = column.to_numpy(dtype=object)
    text = [None if gap else _label_text(v) for v, gap in zip(values, missing, strict=True)]
    return pd.Series(text, index=column.index, dtype=object)


def _label_text(value: object) -> str:
    # 1.0 and 1 from different files must name the same category
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


@register_preprocessor
class CategoryPreprocessor(Preprocessor):
    """Vocabulary of training values; id 0 is the bucket for unknown/missing."""

    type = "category"

    def fit(self, column: pd.Series) -> None:
        counts = Counter(v for v in as_text(column) if v is not None)
        kept = [v for v, c in counts.items() if c >= self.options["min_count"]]
        kept.sort(key=lambda v: (-counts[v], v))
        if self.options["max_categories"]:
            kept = kept[: self.options["max_categories"]]
        self.state = {"vocab": ["<unknown>", *sorted(kept)]}

    def transform(self, column: pd.Series) -> torch.Tensor:
        text = as_text(column)
        if self.options["missing"] == "fail":
            fail_on_rows(self.name, np.flatnonzero(text.isna().to_numpy()), "missing value")
        index = {v: i for i, v in enumerate(self.state["vocab"])}
        ids = [index.get(v, 0) if v is not None else 0 for v in text]
        return torch.tensor(ids, dtype=torch.int64)  # (N,)

    def meta(self) -> FeatureMeta:
        return FeatureMeta(self.name, self.type, (), "int64", len(self.state["vocab"]))


TRUE_WORDS = {"1", "true", "yes", "y", "t"}


@register_preprocessor
class BinaryPreprocessor(Preprocessor):
    """Two values become 1.0 (the positive one) and 0.0."""

    type = "binary"

    def fit(self, column: pd.Series) -> None:
        values = sorted({v for v in as_text(column) if v is not None})
        if len(values) > 2:
            fail_on_rows(
                self.name, np.array([0]), f"a binary feature has more than two values {values[:5]}"
            )
        positive = self.options.get("positive")
        if positive is None:
            truthy = [v for v in values if v.lower() in TRUE_WORDS]
            positive = truthy[0] if truthy else (values[-1] if values else "1")
        self.state = {"positive": positive, "values": values}

    def transform(self, column: pd.Series) -> torch.Tensor:
        text = as_text(column)
        if self.options["missing"] == "fail":
            fail_on_rows(self.name, np.flatnonzero(text.isna().to_numpy()), "missing value")
        positive = self.state["positive"]
        flags = np.array([v == positive for v in text], dtype=np.float32)
        return torch.from_numpy(flags).unsqueeze(1)  # (N, 1)

    def meta(self) -> FeatureMeta:
        return FeatureMeta(self.name, self.type, (1,), "float32")
