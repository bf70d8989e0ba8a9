"""Training settings: schedules, optimisers, early stopping, bf16, regression."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

import tailorml
import tailorml.data
from tailorml.config import TrainingConfig
from tailorml.train.loop import lr_at


def german(**training: Any) -> dict[str, Any]:
    return {
        "data": {"source": "builtin:german_credit", "target": "credit_risk"},
        "input_features": [
            {"name": "duration", "type": "number"},
            {"name": "credit_amount", "type": "number"},
            {"name": "age", "type": "number"},
            {"name": "status", "type": "category"},
            {"name": "credit_history", "type": "category"},
            {"name": "savings", "type": "category"},
        ],
        "output_features": [{"name": "credit_risk", "type": "binary", "positive": "bad"}],
        "training": {"epochs": 4, "batch_size": 32, **training},
    }


def test_schedules() -> None:
    cosine = TrainingConfig(learning_rate=1.0, epochs=4, lr_schedule="cosine")
    assert [round(lr_at(e, cosine), 4) for e in range(4)] == [1.0, 0.8536, 0.5, 0.1464]
    step = TrainingConfig(learning_rate=1.0, lr_schedule="step", lr_step_epochs=2, lr_gamma=0.1)
    assert [lr_at(e, step) for e in range(4)] == pytest.approx([1.0, 1.0, 0.1, 0.1])
    warm = TrainingConfig(
        learning_rate=1.0, warmup_epochs=3, lr_schedule="exponential", lr_gamma=0.5
    )
    assert [lr_at(e, warm) for e in range(5)] == pytest.approx([0.25, 0.5, 0.75, 1.0, 0.5])


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
def test_each_optimizer_learns(optimizer: str) -> None:
    run = tailorml.train(german(optimizer=optimizer, learning_rate=0.01), quiet=True)
    losses = [h["train_loss"] for h in run.history]
    assert losses[-1] < losses[0]
    assert run.metrics.test["accuracy"] > 0.6


def test_early_stopping_stops_and_keeps_the_best_epoch() -> None:
    run = tailorml.train(
        german(epochs=60, learning_rate=0.05, early_stopping_patience=2), quiet=True
    )
    train = run.metrics.train
    assert train.early_stopped is True
    assert train.epochs < 60
    assert train.best_epoch == train.epochs - 2
    val_losses = [h["val_loss"] for h in run.history]
    assert min(val_losses) == val_losses[train.best_epoch - 1]


def test_bf16_trains_to_a_similar_accuracy() -> None:
    fp32 = tailorml.train(german(), quiet=True).metrics.test["accuracy"]
    bf16 = tailorml.train(german(precision="bf16"), quiet=True).metrics.test["accuracy"]
    assert abs(fp32 - bf16) < 0.05


def test_gradient_clipping_runs() -> None:
    run = tailorml.train(german(gradient_clipping=0.1), quiet=True)
    assert all(math.isfinite(h["train_loss"]) for h in run.history)


def test_regression_output(tmp_path: Path) -> None:
    config = german(epochs=6)
    config["input_features"] = [f for f in config["input_features"] if f["name"] != "credit_amount"]
    config["input_features"].append({"name": "purpose", "type": "category"})
    config["output_features"] = [{"name": "credit_amount", "type": "number"}]
    config["data"]["target"] = "credit_amount"
    run = tailorml.train(config, tmp_path / "run", quiet=True)
    test = run.metrics.test
    assert run.metrics.task == "regression"
    assert {"mae", "rmse", "r2"} <= set(test.figures)
    assert test["r2"] > 0.2  # duration explains much of the amount
    preds = tailorml.load(tmp_path / "run").predict("builtin:german_credit")
    assert list(preds.columns) == ["prediction"]
    actual = tailorml.data.load_builtin("german_credit").frames["all"]["credit_amount"]
    assert abs(preds["prediction"].mean() - actual.mean()) < 0.2 * actual.mean()  # in money units
    assert preds["prediction"].corr(actual) > 0.5
