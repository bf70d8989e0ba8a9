"""Metrics against hand-computed values on tiny arrays, and bootstrap intervals."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from tailorml.evaluate import (
    bootstrap_ci,
    bootstrap_mean_ci,
    classification_metrics,
    evaluate,
    expected_calibration_error,
    regression_metrics,
)

LABELS3 = ["cat", "dog", "owl"]


def one_hot_proba(pred: list[int], k: int, confidence: float = 0.8) -> np.ndarray:
    """Probabilities whose argmax is ``pred``, with the rest spread evenly."""
    proba = np.full((len(pred), k), (1.0 - confidence) / (k - 1))
    proba[np.arange(len(pred)), pred] = confidence
    return proba


# ---------------------------------------------------------------- classification


def test_accuracy_f1_and_confusion_by_hand() -> None:
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = [0, 1, 1, 1, 2, 0]
    m = classification_metrics(y_true, one_hot_proba(y_pred, 3), LABELS3)

    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m.confusion_matrix == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    # cat: P=1/2 R=1/2 F1=1/2; dog: P=2/3 R=1 F1=4/5; owl: P=1 R=1/2 F1=2/3
    assert dict(m.per_class["cat"]) == pytest.approx(
        {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    )
    assert m.per_class["dog"].f1 == pytest.approx(0.8)
    assert m.per_class["owl"].precision == pytest.approx(1.0)
    assert m["precision_macro"] == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert m["recall_macro"] == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)
    assert m["f1_macro"] == pytest.approx((1 / 2 + 4 / 5 + 2 / 3) / 3)
    assert m["log_loss"] == pytest.approx(-(4 * np.log(0.8) + 2 * np.log(0.1)) / 6)
    assert m.n == 6


def test_result_is_plain_json() -> None:
    y_true = np.array([0, 1, 1, 0])
    proba = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.2, 0.8]], dtype=np.float32)
    result = evaluate("classification", y_true, proba, ["no", "yes"])
    assert json.loads(json.dumps(result.dump())) == result.dump()
    assert type(result["accuracy"]) is float
    assert type(result.confusion_matrix[0][0]) is int
    assert type(result.per_class["yes"].support) is int


def test_ece_zero_when_perfectly_calibrated() -> None:
    # Every row has confidence 0.8 and exactly 8 of 10 are right.
    y_true = np.array([0] * 8 + [1] * 2)
    proba = one_hot_proba([0] * 10, 2, confidence=0.8)
    assert expected_calibration_error(y_true, proba) == pytest.approx(0.0, abs=1e-12)
    assert classification_metrics(y_true, proba, ["a", "b"])["ece"] == pytest.approx(0.0, abs=1e-12)


def test_ece_of_overconfident_model() -> None:
    # Confidence 0.99 everywhere, right half the time: ECE = |0.5 - 0.99|.
    y_true = np.array([0, 1] * 5)
    proba = one_hot_proba([0] * 10, 2, confidence=0.99)
    assert expected_calibration_error(y_true, proba) == pytest.approx(0.49)


def test_ece_weights_bins_by_row_count() -> None:
    # Bin of 0.95: 2 rows, both right (gap 0.05). Bin of 0.55: 2 rows, 1 right (gap 0.05).
    y_true = np.array([0, 0, 0, 1])
    proba = np.array([[0.95, 0.05], [0.95, 0.05], [0.55, 0.45], [0.55, 0.45]])
    assert expected_calibration_error(y_true, proba) == pytest.approx(0.5 * 0.05 + 0.5 * 0.05)


def test_binary_auc_matches_sklearn() -> None:
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 2, 200)
    p1 = np.clip(0.3 * y_true + rng.uniform(0, 0.7, 200), 0, 1)
    proba = np.stack([1 - p1, p1], axis=1)
    m = classification_metrics(y_true, proba, ["neg", "pos"])
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y_true, p1))


def test_multiclass_auc_matches_sklearn_ovr_macro() -> None:
    rng = np.random.default_rng(4)
    y_true = rng.integers(0, 3, 300)
    logits = rng.normal(size=(300, 3)) + 1.5 * np.eye(3)[y_true]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    m = classification_metrics(y_true, proba, LABELS3)
    expected = roc_auc_score(y_true, proba, multi_class="ovr", average="macro")
    assert m["roc_auc"] == pytest.approx(expected)


def test_absent_class_gives_auc_none_without_crashing() -> None:
    y_true = np.array([0, 1, 0, 1])  # "owl" never occurs
    proba = one_hot_proba([0, 1, 2, 1], 3)
    m = classification_metrics(y_true, proba, LABELS3)
    assert m["roc_auc"] is None
    assert dict(m.per_class["owl"]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert np.isfinite(m["log_loss"])
    assert m.confusion_matrix[2] == [0, 0, 0]


def test_binary_output_may_be_probability_of_class_one() -> None:
    y_true = np.array([0, 1, 1])
    r = evaluate("classification", y_true, np.array([0.2, 0.7, 0.4]), ["no", "yes"])
    assert r["accuracy"] == pytest.approx(2 / 3)
    assert r.confusion_matrix == [[1, 0], [1, 1]]


@pytest.mark.parametrize(
    ("proba", "labels"),
    [
        (np.full((3, 2), 0.5), ["a", "b", "c"]),  # label count differs from K
        (np.full((3, 2), 0.6), ["a", "b"]),  # rows do not sum to 1
        (np.full((2, 2), 0.5), ["a", "b"]),  # row count differs
    ],
)
def test_mismatched_inputs_raise(proba: np.ndarray, labels: list[str]) -> None:
    with pytest.raises(ValueError):
        classification_metrics(np.array([0, 1, 1]), proba, labels)


# ---------------------------------------------------------------- regression


def test_regression_metrics_by_hand() -> None:
    y_true = np.array([1.0, 2.0, 3.0, 4.0])
    y_pred = np.array([[1.5], [2.0], [2.0], [5.0]])  # errors 0.5, 0, -1, 1
    m = regression_metrics(y_true, y_pred)
    assert m["mae"] == pytest.approx(2.5 / 4)
    assert m["rmse"] == pytest.approx(np.sqrt(2.25 / 4))
    assert m["r2"] == pytest.approx(1 - 2.25 / 5.0)
    assert m.n == 4


def test_regression_r2_none_for_one_row() -> None:
    m = regression_metrics(np.array([1.0]), np.array([2.0]))
    assert m["r2"] is None
    assert m["mae"] == pytest.approx(1.0)


def test_evaluate_regression_headline_and_ci() -> None:
    rng = np.random.default_rng(0)
    y_true = rng.normal(size=500)
    y_pred = y_true + rng.normal(scale=0.5, size=500)
    r = evaluate("regression", y_true, y_pred, seed=1)
    assert r.headline == "mae"
    assert r.ci95.metric == "mae"
    assert r.ci95.low <= r["mae"] <= r.ci95.high
    assert json.loads(json.dumps(r.dump())) == r.dump()


def test_evaluate_rejects_unknown_task() -> None:
    task: Any = "ranking"
    with pytest.raises(ValueError, match="unknown task"):
        evaluate(task, np.zeros(2), np.zeros(2))


# ---------------------------------------------------------------- bootstrap


def correctness(n: int, rate: float = 0.7) -> np.ndarray:
    return (np.random.default_rng(7).uniform(size=n) < rate).astype(float)


def test_bootstrap_contains_point_estimate() -> None:
    values = correctness(400)
    low, high = bootstrap_mean_ci(values)
    assert low < values.mean() < high


def test_bootstrap_is_deterministic_for_a_seed() -> None:
    values = correctness(300)
    assert bootstrap_mean_ci(values, seed=5) == bootstrap_mean_ci(values, seed=5)
    assert bootstrap_mean_ci(values, seed=5) != bootstrap_mean_ci(values, seed=6)


def test_bootstrap_narrows_with_more_rows() -> None:
    small_low, small_high = bootstrap_mean_ci(correctness(100))
    large_low, large_high = bootstrap_mean_ci(correctness(10_000))
    assert large_high - large_low < (small_high - small_low) / 4


def test_fast_path_equals_general_bootstrap() -> None:
    values = correctness(250)
    general = bootstrap_ci(lambda idx: float(values[idx].mean()), values.size, n_resamples=200)
    assert bootstrap_mean_ci(values, n_resamples=200) == pytest.approx(general)


def test_general_bootstrap_of_a_non_mean_metric() -> None:
    y_true = np.array([0, 1] * 50)
    proba = one_hot_proba(list(y_true[:90]) + [0] * 10, 2)

    def f1_macro(idx: np.ndarray) -> float:
        return float(classification_metrics(y_true[idx], proba[idx], ["a", "b"])["f1_macro"])

    low, high = bootstrap_ci(f1_macro, y_true.size, n_resamples=100, level=0.9)
    assert 0.0 <= low <= f1_macro(np.arange(100)) <= high <= 1.0


def test_accuracy_ci_in_evaluate() -> None:
    y_true = np.array([0, 1, 2] * 100)
    pred = np.where(np.arange(300) % 5 == 0, (y_true + 1) % 3, y_true)
    r = evaluate("classification", y_true, one_hot_proba(list(pred), 3), LABELS3, seed=2)
    assert r.headline == "accuracy"
    assert r.ci95.metric == "accuracy"
    assert r["accuracy"] == pytest.approx(0.8)
    assert r.ci95.low < r["accuracy"] < r.ci95.high
    assert evaluate("classification", y_true, one_hot_proba(list(pred), 3), LABELS3, seed=2) == r
