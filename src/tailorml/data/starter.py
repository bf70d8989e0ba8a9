"""A starter model config written from a table: ``tailor init``."""

from __future__ import annotations

import pandas as pd
import yaml

from tailorml.data.infer import infer_target_type
from tailorml.data.roles import ColumnRole, classify_columns, notes
from tailorml.errors import DataError

INIT_HINT = "add it under input_features to use it"


def starter_yaml(frame: pd.DataFrame, source: str, target: str) -> tuple[str, list[ColumnRole]]:
    """A config (``data``, ``input_features``, ``output_features``, ``training``) as YAML,
    with one input feature per column that ``classify_columns`` keeps, and the roles.

    Every excluded column gets a comment line above ``input_features`` saying why, and
    so does every kept ``text`` column.

    Raises:
        DataError: Every column but the target was left out.
    """
    roles = classify_columns(frame, target)
    features = [{"name": r.name, "type": r.type} for r in roles if r.kept]
    if not features:
        raise DataError(
            f"no column of '{source}' is left as an input feature: "
            + "; ".join(r.describe() for r in roles)
        )
    rest = {
        "output_features": [{"name": target, "type": infer_target_type(frame[target])}],
        "training": {"epochs": 10, "batch_size": 64, "learning_rate": 0.001, "seed": 0},
    }
    # column names may hold line breaks
    comments = [f"# {' '.join(note.splitlines())}\n" for note in notes(roles, INIT_HINT)]
    head = yaml.safe_dump({"data": {"source": source, "target": target}}, sort_keys=False)
    inputs = yaml.safe_dump({"input_features": features}, sort_keys=False)
    return head + "".join(comments) + inputs + yaml.safe_dump(rest, sort_keys=False), roles
