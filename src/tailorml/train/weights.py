"""Kamiran–Calders reweighing: training weights that make the label
independent of the sensitive groups.

Kamiran, F. and Calders, T. (2012), "Data preprocessing techniques for
classification without discrimination", Knowledge and Information Systems 33.
"""

from __future__ import annotations

from functools import reduce
from typing import TypedDict

import numpy as np
import pandas as pd
import torch

from tailorml.config import ModelConfig
from tailorml.evaluate.groups import check_sensitive
from tailorml.features import Encoded, FeatureSet
from tailorml.records.audit import Reweighing, WeightCell


def joint_groups(rows: pd.DataFrame, sensitive: list[str]) -> np.ndarray:
    """One label per row for the combination of its sensitive values.

    Raises:
        DataError: a column is missing or holds a single group.
    """
    columns = check_sensitive(rows, sensitive)
    parts = [np.char.add(f"{name}=", labels.astype(str)) for name, labels in columns.items()]
    return reduce(lambda joint, part: np.char.add(np.char.add(joint, ", "), part), parts)


class Cell(TypedDict):
    """One (group, label) combination: its rows and the weight each gets."""

    group: str
    label: int
    rows: int
    weight: float


def reweigh(groups: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, list[Cell]]:
    """Per-row weights P(g) · P(y) / P(g, y), and the table of cells.

    The weights average to 1 over the rows, so the loss keeps its scale.
    Returns the weights and, per (group, label) cell, its row count and weight.
    """
    n = len(labels)
    weights = np.empty(n, dtype=np.float64)
    cells: list[Cell] = []
    for group in np.unique(groups):
        in_group = groups == group
        for label in np.unique(labels):
            cell = in_group & (labels == label)
            count = int(cell.sum())
            if count == 0:
                continue
            weight = in_group.mean() * (labels == label).mean() / (count / n)
            weights[cell] = weight
            cells.append(Cell(group=str(group), label=int(label), rows=count, weight=float(weight)))
    return weights, cells


def reweigh_training(
    config: ModelConfig, rows: pd.DataFrame, train: Encoded, features: FeatureSet
) -> Reweighing | None:
    """Set Kamiran–Calders weights on the training rows when the config asks.

    Returns what ``metrics.json`` records under ``fairness``: the method, the
    sensitive columns and every (group, label) cell with its rows and weight.
    """
    fairness = config.training.fairness
    if fairness is None:
        return None
    assert train.target is not None
    groups = joint_groups(rows, fairness.sensitive)
    weights, cells = reweigh(groups, train.target.long().numpy())
    names = features.target.labels
    train.weights = torch.from_numpy(weights.astype(np.float32))
    return Reweighing(
        method=fairness.method,
        sensitive=fairness.sensitive,
        cells=[WeightCell.model_validate({**c, "label": names[c["label"]]}) for c in cells],
    )
