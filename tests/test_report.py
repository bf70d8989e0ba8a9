"""The HTML report of a run folder: content, self-containment, graceful gaps."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from tailorml.errors import TailorError
from tailorml.evaluate import evaluate
from tailorml.report import write_report

LABELS = ["setosa", "versicolor", "virginica"]


def classification_metrics_json() -> dict[str, Any]:
    y_true = np.array([0, 1, 2] * 10)
    pred = np.where(np.arange(30) % 6 == 0, (y_true + 1) % 3, y_true)
    proba = np.full((30, 3), 0.1)
    proba[np.arange(30), pred] = 0.8
    test = evaluate("classification", y_true, proba, LABELS, n_resamples=200).dump()
    validation = evaluate("classification", y_true[:15], proba[:15], LABELS, n_resamples=200).dump()
    return {
        "task": "classification",
        "labels": LABELS,
        "test": test,
        "validation": validation,
        "train": {"seconds": 12.5, "samples_per_s": 4321.0, "epochs": 3, "early_stopped": True},
    }


def make_run(tmp_path: Path, name: str, metrics: dict[str, Any], history: str) -> Path:
    run_dir = tmp_path / name
    run_dir.mkdir()
    config = {
        "data": {"source": "builtin:iris", "target": "species"},
        "training": {"epochs": 5, "learning_rate": 0.001},
    }
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (run_dir / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    (run_dir / "history.csv").write_text(history, encoding="utf-8")
    return run_dir


CLASSIFICATION_HISTORY = """epoch,train_loss,val_loss,train_accuracy,val_accuracy,lr,seconds
1,1.05,0.98,0.55,0.60,0.001,4.1
2,0.71,0.69,0.74,0.73,0.0005,4.2
3,0.52,0.55,0.83,0.80,0.00025,4.2
"""


def test_classification_report(tmp_path: Path) -> None:
    metrics = classification_metrics_json()
    run_dir = make_run(tmp_path, "iris-mlp", metrics, CLASSIFICATION_HISTORY)

    path = write_report(run_dir)

    assert path == run_dir / "report.html"
    html = path.read_text(encoding="utf-8")
    assert "iris-mlp" in html
    assert "builtin:iris" in html
    for label in LABELS:
        assert label in html
    assert f"{metrics['test']['accuracy']:.4f}" in html
    assert f"{metrics['test']['ci95']['low']:.4f}" in html
    assert html.count("<svg") >= 4  # loss, accuracy, lr, confusion matrix
    assert "Confusion matrix" in html
    assert "Stopped early" in html and "4,321" in html
    assert "learning_rate: 0.001" in html  # the config dump
    assert list(run_dir.glob(".*.tmp")) == []


def test_report_is_self_contained(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, "run", classification_metrics_json(), CLASSIFICATION_HISTORY)
    html = write_report(run_dir).read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"<(script|link|img)\b[^>]*\b(src|href)=\"(?!data:|#)", html)
    svg_ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(svg_ids) == len(set(svg_ids)), "charts on one page must not share element ids"


def test_report_is_deterministic(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, "run", classification_metrics_json(), CLASSIFICATION_HISTORY)
    first = write_report(run_dir).read_text(encoding="utf-8")
    assert write_report(run_dir).read_text(encoding="utf-8") == first


def test_text_is_escaped(tmp_path: Path) -> None:
    metrics = classification_metrics_json()
    metrics["run_name"] = "<script>alert(1)</script>"
    run_dir = make_run(tmp_path, "run", metrics, CLASSIFICATION_HISTORY)
    html = write_report(run_dir).read_text(encoding="utf-8")
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_regression_run_without_validation(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y_true = rng.normal(size=50)
    test = evaluate("regression", y_true, y_true + 0.1, n_resamples=100).dump()
    metrics = {"task": "regression", "test": test, "train": {"seconds": 2.0, "epochs": 2}}
    history = "epoch,train_loss,train_mae\n1,0.9,0.7\n2,0.4,0.5\n"
    run_dir = make_run(tmp_path, "house-prices", metrics, history)

    html = write_report(run_dir).read_text(encoding="utf-8")

    assert "house-prices" in html
    assert "mae" in html and f"{test['mae']:.4f}" in html
    assert "<svg" in html
    assert "Confusion matrix" not in html
    assert "validation" not in html


def test_run_with_only_metrics_renders(tmp_path: Path) -> None:
    run_dir = tmp_path / "bare"
    run_dir.mkdir()
    (run_dir / "metrics.json").write_text(json.dumps({"task": "regression"}), encoding="utf-8")
    html = write_report(run_dir).read_text(encoding="utf-8")
    assert "No evaluation metrics" in html
    assert "No training history" in html
    assert "No config.yaml" in html


def test_missing_metrics_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TailorError, match="metrics.json"):
        write_report(tmp_path)


def test_malformed_metrics_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "metrics.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(TailorError, match="not valid JSON"):
        write_report(tmp_path)
