"""Guess a column's feature type from its values alone."""

from __future__ import annotations

import numpy as np
import pandas as pd

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")
TEXT_MIN_WORDS = 4  # mean words per value above which a string column is text
MAX_CATEGORY_NUMBERS = 20  # integer targets with at most this many values are classes


def infer_type(column: pd.Series) -> str:
    """number | category | binary | text | image | audio, from the values alone:
    arrays are images; bytes, or paths that all end in an audio suffix, are audio."""
    values = column.dropna()
    if len(values) == 0:
        return "category"
    if isinstance(values.iloc[0], np.ndarray | list):
        return "image"
    if isinstance(values.iloc[0], bytes) or (
        values.map(lambda v: isinstance(v, str) and v.lower().endswith(AUDIO_SUFFIXES)).all()
    ):
        return "audio"
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
