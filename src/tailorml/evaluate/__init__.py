"""Evaluate predictions: quality metrics and their confidence intervals."""

from tailorml.evaluate.metrics import (
    HEADLINE,
    bootstrap_ci,
    bootstrap_mean_ci,
    classification_metrics,
    evaluate,
    expected_calibration_error,
    regression_metrics,
    roc_auc,
)

__all__ = [
    "HEADLINE",
    "bootstrap_ci",
    "bootstrap_mean_ci",
    "classification_metrics",
    "evaluate",
    "expected_calibration_error",
    "regression_metrics",
    "roc_auc",
]
