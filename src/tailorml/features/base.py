"""Preprocessors: fitted on training rows only, saved with the model as JSON."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from tailorml.errors import DataError
from tailorml.features.meta import FeatureMeta
from tailorml.io import JSONObject, as_object

PREPROCESSORS: dict[str, type[Preprocessor]] = {}


class Preprocessor:
    """Turns one column of a table into a tensor, with state learnt at fit.

    Subclasses register under a feature type with ``@register_preprocessor``,
    take the feature's preprocessing options, and keep every fitted value in
    plain JSON types so the model bundle needs no pickle.
    """

    type: ClassVar[str]
    kind: ClassVar[str] = ""  # the registry key when a type has several preprocessors

    def __init__(self, name: str, options: dict[str, Any], state: dict[str, Any] | None = None):
        self.name = name
        self.options = options
        self.state: dict[str, Any] = state or {}

    def fit(self, column: pd.Series) -> None:
        """Learn the state from training rows."""
        raise NotImplementedError

    def transform(self, column: pd.Series) -> torch.Tensor:
        """Return the batch tensor for these rows."""
        raise NotImplementedError

    def meta(self) -> FeatureMeta:
        """Shape and vocabulary of the transformed feature."""
        raise NotImplementedError

    def tokens(self, ids: torch.Tensor) -> list[list[str]]:
        """The token strings of each row of ids ``(N, T)``, padding left out
        (text preprocessors; for explanations)."""
        raise NotImplementedError

    def reading(self) -> str:
        """How much of a text the model reads (text preprocessors; for the request schema)."""
        raise NotImplementedError

    def to_dict(self) -> JSONObject:
        data: JSONObject = {
            "type": self.type,
            "name": self.name,
            "options": self.options,
            "state": self.state,
        }
        return data | ({"kind": self.kind} if self.kind else {})

    @staticmethod
    def from_dict(data: JSONObject) -> Preprocessor:
        cls = PREPROCESSORS[str(data.get("kind") or data["type"])]
        options, state = as_object(data["options"], "options"), as_object(data["state"], "state")
        return cls(str(data["name"]), options, state)


def register_preprocessor(cls: type[Preprocessor]) -> type[Preprocessor]:
    PREPROCESSORS[cls.kind or cls.type] = cls
    return cls


def missing_mask(column: pd.Series) -> np.ndarray:
    """True where a value is missing (None, NaN or an empty string)."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return np.isnan(column.to_numpy(dtype=np.float64, na_value=np.nan))
    values = column.to_numpy(dtype=object)
    mask = np.array(pd.isna(values), dtype=bool)
    blank = [isinstance(v, str) and not v.strip() for v in values]
    return mask | np.array(blank, dtype=bool)


def fail_on_rows(
    name: str, rows: np.ndarray, problem: str, values: pd.Series | None = None
) -> None:
    """Raise a DataError naming the first offending rows of a column.

    Row numbers are 1-based positions among the data rows (header excluded).
    """
    if len(rows) == 0:
        return
    shown = ", ".join(str(int(r) + 1) for r in rows[:5])
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    example = "" if values is None else f" (first bad value: {values.iloc[int(rows[0])]!r})"
    raise DataError(f"column '{name}': {problem} in row {shown}{more}{example}.")
