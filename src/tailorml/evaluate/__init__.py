"""Evaluate predictions: quality metrics and their confidence intervals."""

from tailorml.evaluate.metrics import (
    bootstrap_ci,
    bootstrap_mean_ci,
    classification_metrics,
    evaluate,
    expected_calibration_error,
    regression_metrics,
)

__all__ = [
    "bootstrap_ci",
    "bootstrap_mean_ci",
    "classification_metrics",
    "evaluate",
    "expected_calibration_error",
    "regression_metrics",
]
