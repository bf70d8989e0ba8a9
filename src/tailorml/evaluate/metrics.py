"""Quality metrics on numpy arrays, with bootstrap confidence intervals.

The metric sets are :class:`~tailorml.records.metrics.Scores`, the record
``metrics.json`` holds per split, built from plain Python floats and ints. A
value that is undefined for the data at hand (an AUC when a class never occurs,
an R² on one row) is ``None``, never NaN, because NaN is not valid JSON.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Literal

import numpy as np
from sklearn.metrics import (
    confusion_matrix,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    precision_recall_fscore_support,
    r2_score,
    roc_auc_score,
)

from tailorml.records.metrics import ClassScores, Interval, Scores

Task = Literal["classification", "regression"]

HEADLINE: dict[str, str] = {"classification": "accuracy", "regression": "mae"}
"""The metric each task reports first, with its confidence interval."""

_ECE_BINS = 15
_MAX_INDEX_BLOCK = 1 << 22  # bootstrap indices drawn per block, to bound memory


def classification_metrics(
    y_true: np.ndarray, proba: np.ndarray, labels: list[str], predicted: np.ndarray | None = None
) -> Scores:
    """Score class probabilities against the true classes.

    Args:
        y_true: True class indices, shape (N,), values in ``[0, K)``.
        proba: Predicted class probabilities, shape (N, K), rows summing to 1.
        labels: Class names, ``len(labels) == K >= 2``; index ``i`` names class ``i``.
        predicted: the decided class per row (N,) when a decision rule other
            than argmax (such as tuned thresholds) makes the predictions.

    Raises:
        ValueError: The shapes or values do not fit together.
    """
    y_true, proba = _check_classification(y_true, proba, labels)
    classes = list(range(len(labels)))
    y_pred = proba.argmax(axis=1) if predicted is None else np.asarray(predicted).ravel()
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=classes, zero_division=0
    )
    return Scores.model_validate(  # the metrics are the record's extra keys, in this order
        {
            "accuracy": float(np.mean(y_pred == y_true)),
            "precision_macro": float(np.mean(precision)),
            "recall_macro": float(np.mean(recall)),
            "f1_macro": float(np.mean(f1)),
            "per_class": {
                label: ClassScores(precision=float(p), recall=float(r), f1=float(f), support=int(n))
                for label, p, r, f, n in zip(labels, precision, recall, f1, support, strict=True)
            },
            "roc_auc": roc_auc(y_true, proba),
            "log_loss": float(log_loss(y_true, proba, labels=classes)),
            "confusion_matrix": confusion_matrix(y_true, y_pred, labels=classes).tolist(),
            "ece": expected_calibration_error(y_true, proba),
            "n": int(y_true.size),
        }
    )


def roc_auc(y_true: np.ndarray, proba: np.ndarray) -> float | None:
    """The AUC of class 1 for K == 2, the one-vs-rest macro AUC for K > 2, of class indices
    (N,) and probabilities (N, K); None when some class never occurs in ``y_true`` (its
    AUC has no negatives or no positives to rank)."""
    n_classes = proba.shape[1]
    if np.unique(y_true).size < n_classes:
        return None
    scores = proba[:, 1] if n_classes == 2 else proba  # multi_class applies to K > 2 only
    return float(roc_auc_score(y_true, scores, multi_class="ovr", labels=list(range(n_classes))))


def expected_calibration_error(y_true: np.ndarray, proba: np.ndarray) -> float:
    """Expected calibration error of the top-class confidence, in [0, 1], of class indices
    (N,) and probabilities (N, K).

    Rows are put in ``_ECE_BINS`` (15) equal-width confidence bins ``(lo, hi]`` (the first
    bin also holds 0); the error is the row-weighted mean over bins of
    ``|accuracy - mean confidence|``.
    """
    confidence = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == y_true).astype(np.float64)
    edges = np.linspace(0.0, 1.0, _ECE_BINS + 1)
    bins = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, _ECE_BINS - 1)
    count = np.bincount(bins, minlength=_ECE_BINS)
    gap = np.bincount(bins, weights=correct - confidence, minlength=_ECE_BINS)
    # |sum(correct - conf)| / N per bin equals (n_b / N) * |acc_b - conf_b|.
    return float(np.abs(gap[count > 0]).sum() / y_true.size)


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> Scores:
    """Score numeric predictions, (N,) or (N, 1) each; ``r2`` is None for fewer than two rows.

    Raises:
        ValueError: The arrays are empty or differ in length.
    """
    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.float64).ravel()
    if y_true.size == 0 or y_true.size != y_pred.size:
        raise ValueError(
            f"y_true has {y_true.size} values and y_pred {y_pred.size}; need the same, >= 1"
        )
    return Scores.model_validate(
        {
            "mae": float(mean_absolute_error(y_true, y_pred)),
            "rmse": math.sqrt(float(mean_squared_error(y_true, y_pred))),
            "r2": float(r2_score(y_true, y_pred)) if y_true.size >= 2 else None,
            "n": int(y_true.size),
        }
    )


def bootstrap_ci(
    metric: Callable[[np.ndarray], float],
    n_rows: int,
    *,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of any row-level metric.

    Args:
        metric: Called with an array of row indices (shape (n_rows,), drawn with
            replacement) and returns the metric on those rows.
        level: Coverage of the interval, in (0, 1).
        seed: Seed of the resampling; the same seed gives the same interval.

    Raises:
        ValueError: ``n_rows``, ``n_resamples`` or ``level`` is out of range.
    """
    stats = [metric(idx) for block in _index_blocks(n_rows, n_resamples, seed) for idx in block]
    return _percentile_interval(np.asarray(stats, dtype=np.float64), level)


def bootstrap_mean_ci(
    values: np.ndarray, *, n_resamples: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of a mean of per-row values (N,), vectorised.

    Draws the same resamples as :func:`bootstrap_ci` for the same seed, so
    ``bootstrap_mean_ci(v)`` equals ``bootstrap_ci(lambda i: v[i].mean(), len(v))``;
    the keyword arguments, the result and the errors are those of :func:`bootstrap_ci`.
    Use it for accuracy (per-row correctness) and MAE (per-row absolute error).
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    blocks = _index_blocks(values.size, n_resamples, seed)
    stats = np.concatenate([values[block].mean(axis=1) for block in blocks])
    return _percentile_interval(stats, level)


def evaluate(
    task: Task,
    y_true: np.ndarray,
    output: np.ndarray,
    labels: list[str] | None = None,
    seed: int = 0,
    *,
    n_resamples: int = 1000,
    predicted: np.ndarray | None = None,
) -> Scores:
    """Run the task's metric set and a 95% bootstrap interval of its headline.

    Args:
        y_true: True class indices (N,) or true values (N,).
        output: Classification: probabilities (N, K), or (N,) probabilities of
            class 1 for a binary task. Regression: predictions (N,) or (N, 1).
        labels: Class names; defaults to ``"0" .. "K-1"``. Ignored for regression.
        predicted: Classification: the decided class per row, when not argmax.

    Returns:
        The task's metric set plus ``headline`` (``"accuracy"`` or ``"mae"``) and
        ``ci95`` (an :class:`~tailorml.records.metrics.Interval` of the headline).

    Raises:
        ValueError: Unknown task, or arrays that do not fit together.
    """
    if task == "classification":
        proba = _as_proba(output)
        labels = labels if labels is not None else [str(i) for i in range(proba.shape[1])]
        decided = proba.argmax(axis=1) if predicted is None else np.asarray(predicted).ravel()
        result = classification_metrics(y_true, proba, labels, decided)
        per_row = (decided == np.asarray(y_true).ravel()).astype(np.float64)
    elif task == "regression":
        result = regression_metrics(y_true, output)
        per_row = np.abs(
            np.asarray(y_true, dtype=np.float64).ravel() - np.asarray(output, np.float64).ravel()
        )
    else:
        raise ValueError(f"unknown task {task!r}; expected 'classification' or 'regression'")
    low, high = bootstrap_mean_ci(per_row, n_resamples=n_resamples, level=0.95, seed=seed)
    result.headline = HEADLINE[task]
    result.ci95 = Interval(metric=HEADLINE[task], low=low, high=high)
    return result


def _index_blocks(n_rows: int, n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Yield bootstrap row indices in blocks of shape (B, n_rows), B*n_rows bounded."""
    if n_rows < 1:
        raise ValueError(f"cannot bootstrap {n_rows} rows; need at least one")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    rng = np.random.default_rng(seed)
    per_block = max(1, _MAX_INDEX_BLOCK // n_rows)
    for start in range(0, n_resamples, per_block):
        size = min(per_block, n_resamples - start)
        # One draw per resample keeps the stream identical whatever the block size.
        yield np.stack([rng.integers(0, n_rows, size=n_rows) for _ in range(size)])


def _percentile_interval(stats: np.ndarray, level: float) -> tuple[float, float]:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(stats, [tail, 100.0 - tail])
    return float(low), float(high)


def _as_proba(output: np.ndarray) -> np.ndarray:
    """Accept (N, K) probabilities, or (N,) / (N, 1) probabilities of class 1."""
    proba = np.asarray(output, dtype=np.float64)
    if proba.ndim == 2 and proba.shape[1] == 1:
        proba = proba[:, 0]
    if proba.ndim == 1:
        proba = np.stack([1.0 - proba, proba], axis=1)
    return proba


def _check_classification(
    y_true: np.ndarray, proba: np.ndarray, labels: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).ravel()
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"proba must have shape (N, K) with K >= 2, got {p.shape}")
    if p.shape[1] != len(labels):
        raise ValueError(f"proba has {p.shape[1]} columns but {len(labels)} labels were given")
    if y.size == 0 or y.size != p.shape[0]:
        raise ValueError(f"y_true has {y.size} rows and proba {p.shape[0]}; need the same, >= 1")
    if not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError("y_true must hold integer class indices")
        y = y.astype(np.int64)
    if y.min() < 0 or y.max() >= p.shape[1]:
        raise ValueError(f"y_true holds class indices outside [0, {p.shape[1]})")
    if not np.allclose(p.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError("proba rows must sum to 1")
    # Renormalise: float32 rows off by ~1e-7 would trip scikit-learn's stricter check.
    return y, p / p.sum(axis=1, keepdims=True)
