"""Guess feature types from a table to write a starter config."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

TEXT_MIN_WORDS = 4  # mean words per value above which a string column is text
MAX_CATEGORY_NUMBERS = 20  # integer targets with at most this many values are classes


def infer_type(column: pd.Series) -> str:
    """number | category | binary | text | image, from the values alone."""
    values = column.dropna()
    if len(values) == 0:
        return "category"
    first = values.iloc[0]
    if isinstance(first, np.ndarray | list):
        return "image"
    if values.nunique() == 2:
        return "binary"
    if pd.api.types.is_numeric_dtype(values):
        return "number"
    words = values.astype(str).str.split().str.len().mean()
    unique_share = values.nunique() / len(values)
    return "text" if words >= TEXT_MIN_WORDS and unique_share > 0.5 else "category"


def infer_target_type(column: pd.Series) -> str:
    values = column.dropna()
    if values.nunique() == 2:
        return "binary"
    if pd.api.types.is_float_dtype(values) and not np.all(np.mod(values, 1) == 0):
        return "number"
    if pd.api.types.is_numeric_dtype(values) and values.nunique() > MAX_CATEGORY_NUMBERS:
        return "number"
    return "category"


def starter_config(frame: pd.DataFrame, source: str, target: str) -> dict[str, Any]:
    """A config dict with one input feature per column besides the target."""
    features = [
        {"name": str(name), "type": infer_type(frame[name])}
        for name in frame.columns
        if name != target
    ]
    return {
        "data": {"source": source, "target": target},
        "input_features": features,
        "output_features": [{"name": target, "type": infer_target_type(frame[target])}],
        "training": {"epochs": 10, "batch_size": 64, "learning_rate": 0.001, "seed": 0},
    }
