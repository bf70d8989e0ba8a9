"""Starter configs and personal-data scans of a user's table: the first look."""

from __future__ import annotations

import pandas as pd

from tailorml.config import parse_config
from tailorml.data.readers import read_source
from tailorml.data.roles import ColumnRole
from tailorml.data.starter import starter_yaml
from tailorml.errors import DataError, dash_hint

PiiCounts = dict[str, dict[str, int]]  # column → entity → count


def starter_config(data: str, target: str) -> tuple[str, list[ColumnRole]]:
    """A valid starter config (YAML with a comment per left-out column) for
    predicting ``target`` from the table ``data``, with the columns' roles.

    Raises:
        DataError: the target column does not exist (with the nearest name).
    """
    frames = read_source(data).frames
    frame = frames.get("train", next(iter(frames.values())))
    if target not in frame.columns:
        tip = dash_hint(target, frame.columns)
        raise DataError(f"target column '{target}' does not exist in '{data}'{tip}")
    text, roles = starter_yaml(frame, data, target)
    parse_config(text, source="the starter config")  # it must be valid
    return text, roles


def scan_personal_data(
    data: str, columns: list[str] | None, redact: bool
) -> tuple[pd.DataFrame, PiiCounts]:
    """Personal data found per column and entity in the table ``data``; with
    ``redact``, the table returned has it replaced (every row kept)."""
    from tailorml.data import pii  # presidio takes seconds to load: only when asked

    frame = pd.concat(list(read_source(data).frames.values()), ignore_index=True)
    if redact:
        return pii.redact(frame, columns)
    return frame, pii.scan(frame, columns)
