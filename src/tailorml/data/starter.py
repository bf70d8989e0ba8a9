"""A starter model config written from a table: ``tailor init``."""

from __future__ import annotations

from typing import Any

import pandas as pd
import yaml

from tailorml.data.infer import infer_target_type
from tailorml.data.roles import ColumnRole, classify_columns, notes
from tailorml.errors import DataError

INIT_HINT = "add it under input_features to use it"


def starter_config(
    frame: pd.DataFrame, source: str, target: str, roles: list[ColumnRole] | None = None
) -> dict[str, Any]:
    """A config dict (``data``, ``input_features``, ``output_features``, ``training``) with
    one input feature per column that ``classify_columns`` keeps; ``roles`` None classifies
    the columns here.

    Raises:
        DataError: Every column but the target was left out.
    """
    if roles is None:
        roles = classify_columns(frame, target)
    features = [{"name": r.name, "type": r.type} for r in roles if r.kept]
    if not features:
        raise DataError(
            f"no column of '{source}' is left as an input feature: "
            + "; ".join(r.describe() for r in roles)
        )
    return {
        "data": {"source": source, "target": target},
        "input_features": features,
        "output_features": [{"name": target, "type": infer_target_type(frame[target])}],
        "training": {"epochs": 10, "batch_size": 64, "learning_rate": 0.001, "seed": 0},
    }


def starter_yaml(frame: pd.DataFrame, source: str, target: str) -> tuple[str, list[ColumnRole]]:
    """The starter config as YAML, and the roles it was built from.

    Every excluded column gets a comment line above ``input_features`` saying why, and
    so does every kept ``text`` column.
    """
    roles = classify_columns(frame, target)
    config = starter_config(frame, source, target, roles)
    # column names may hold line breaks
    comments = [f"# {' '.join(note.splitlines())}\n" for note in notes(roles, INIT_HINT)]
    head = yaml.safe_dump({"data": config["data"]}, sort_keys=False)
    features = yaml.safe_dump({"input_features": config["input_features"]}, sort_keys=False)
    rest = {k: v for k, v in config.items() if k not in ("data", "input_features")}
    return head + "".join(comments) + features + yaml.safe_dump(rest, sort_keys=False), roles
