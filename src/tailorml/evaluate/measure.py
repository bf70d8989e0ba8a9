"""Measurements a scenario cares about: speed, size, compute, money, fairness.

Pure functions over callables, arrays and folders; they know nothing of
tailorml's model classes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score
from torch.utils.flop_counter import FlopCounterMode

from tailorml.evaluate.groups import group_labels
from tailorml.records.match import AttributeFairness, GroupFigures

Predict = Callable[[pd.DataFrame], object]


def latency_ms(
    predict: Predict, rows: pd.DataFrame, *, n: int = 200, warmup: int = 20, seed: int = 0
) -> dict[str, float]:
    """Single-row latency: ``predict`` on one-row frames, ``n`` timed calls.

    Rows are drawn with a seeded generator (cycling when there are fewer);
    ``warmup`` calls run first, untimed.
    """
    if len(rows) == 0 or n < 1:
        raise ValueError("latency needs at least one row and one timed call")
    order = np.random.default_rng(seed).permutation(len(rows))
    picks = [rows.iloc[[int(order[i % len(order)])]] for i in range(n + warmup)]
    for row in picks[:warmup]:
        predict(row)
    times = np.empty(n)
    for i, row in enumerate(picks[warmup:]):
        start = time.perf_counter_ns()
        predict(row)
        times[i] = (time.perf_counter_ns() - start) / 1e6
    return {
        "p50_ms": float(np.percentile(times, 50)),
        "p95_ms": float(np.percentile(times, 95)),
        "mean_ms": float(times.mean()),
        "n": n,
    }


def throughput_rows_per_s(
    predict: Predict, rows: pd.DataFrame, *, batch_size: int = 1024, min_seconds: float = 0.5,
    max_repeats: int = 50,
) -> float:  # fmt: skip
    """Rows per second predicting batches of ``batch_size`` rows."""
    batch = rows.iloc[np.arange(batch_size) % len(rows)]  # cycle short frames up to a batch
    done, start = 0, time.perf_counter()
    for _ in range(max_repeats):
        predict(batch)
        done += len(batch)
        if time.perf_counter() - start >= min_seconds:
            break
    return done / (time.perf_counter() - start)


def folder_size_mb(path: Path) -> float:
    """Total size of the files under ``path`` (or of the file) in MB."""
    if path.is_file():
        return path.stat().st_size / 1e6
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def torch_parameters(module: torch.nn.Module) -> int:
    """Number of parameters."""
    return int(sum(p.numel() for p in module.parameters()))


def torch_flops_per_row(
    module: torch.nn.Module, example: dict[str, torch.Tensor] | torch.Tensor
) -> int:
    """FLOPs of one forward pass per row, by torch's flop counter."""
    rows = len(next(iter(example.values()))) if isinstance(example, dict) else len(example)
    was_training = module.training
    module.eval()
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        module(example)
    module.train(was_training)
    return int(counter.get_total_flops() // max(1, rows))


def cost_per_1k(seconds_per_prediction: float, price_per_hour: float) -> float:
    """Money for 1,000 predictions at ``price_per_hour`` of compute."""
    return 1000 * seconds_per_prediction / 3600 * price_per_hour


def training_cost(seconds: float, price_per_hour: float) -> float:
    """Money for ``seconds`` of compute at ``price_per_hour``."""
    return seconds / 3600 * price_per_hour


def value_per_1k(per_row_values: np.ndarray) -> float:
    """Mean money per prediction, times 1,000."""
    return float(np.mean(per_row_values) * 1000) if len(per_row_values) else 0.0


def _plain(value: Any) -> float | None:
    number = float(value)
    return None if math.isnan(number) or math.isinf(number) else number


_GAPS = {  # AttributeFairness field: the fairlearn function of the same name
    "demographic_parity_difference": demographic_parity_difference,
    "demographic_parity_ratio": demographic_parity_ratio,
    "equalized_odds_difference": equalized_odds_difference,
    "equalized_odds_ratio": equalized_odds_ratio,
}


def fairness_report(
    y_true: np.ndarray, y_pred: np.ndarray, sensitive: dict[str, np.ndarray]
) -> dict[str, AttributeFairness]:
    """Per sensitive attribute: parity and odds gaps and ratios (fairlearn),
    and selection rate, accuracy, TPR, FPR and size of each group."""
    report = {}
    metrics = {"selection_rate": selection_rate, "accuracy": accuracy_score,
               "tpr": true_positive_rate, "fpr": false_positive_rate}  # fmt: skip
    for attribute, raw in sensitive.items():
        groups = group_labels(raw)
        by_group = MetricFrame(
            metrics=metrics, y_true=y_true, y_pred=y_pred, sensitive_features=groups
        ).by_group
        counts = pd.Series(groups).value_counts()
        figures: dict[str, Any] = {
            name: _plain(gap(y_true, y_pred, sensitive_features=groups))
            for name, gap in _GAPS.items()
        }
        figures["groups"] = {
            str(g): _group_rates(by_group.loc[g], y_true[groups == g], int(counts[g]))
            for g in by_group.index
        }
        report[attribute] = AttributeFairness.model_validate(figures)
    return report


def _group_rates(rates: pd.Series, y_true: np.ndarray, n: int) -> GroupFigures:
    """A group's rates; TPR (FPR) is undefined, None, without positives (negatives)."""
    return GroupFigures(
        n=n,
        selection_rate=_plain(rates["selection_rate"]),
        accuracy=_plain(rates["accuracy"]),
        tpr=_plain(rates["tpr"]) if np.any(y_true == 1) else None,
        fpr=_plain(rates["fpr"]) if np.any(y_true == 0) else None,
    )


def pareto_front(
    points: dict[str, dict[str, float | None]], maximise: set[str], minimise: set[str]
) -> list[str]:
    """Names no other point dominates (None counts as the worst value)."""

    def score(point: dict[str, float | None], key: str) -> float:
        value = point.get(key)
        if value is None or math.isnan(float(value)):
            return -math.inf
        return float(value) if key in maximise else -float(value)

    keys = sorted(maximise | minimise)
    vectors = {name: [score(p, k) for k in keys] for name, p in points.items()}
    return [  # no other point is as good on every axis and better on one
        name
        for name, mine in vectors.items()
        if not any(
            all(o >= m for o, m in zip(other, mine, strict=True)) and other != mine
            for other in vectors.values()
        )
    ]
