"""The shipped examples reach the figures the README promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import tailorml
from tailorml.data import load_builtin

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def test_adult_mlp_reaches_085(tmp_path: Path) -> None:
    run = tailorml.train(EXAMPLES / "adult_mlp.yaml", tmp_path / "run", quiet=True)
    assert run.metrics.data.rows["test"] == 16281
    assert run.metrics.test["accuracy"] >= 0.85


def test_fsdd_cnn_reaches_097_on_the_official_split(tmp_path: Path) -> None:
    run = tailorml.train(EXAMPLES / "fsdd_cnn.yaml", tmp_path / "run", quiet=True)
    assert run.metrics.data.rows["test"] == 300  # recordings 0-4 of each speaker and digit
    assert run.metrics.test["accuracy"] >= 0.97


@pytest.mark.parametrize("name", ["sentiment_rnn", "sentiment_transformer"])
def test_sentiment_beats_majority_by_15_points(name: str, tmp_path: Path) -> None:
    run = tailorml.train(EXAMPLES / f"{name}.yaml", tmp_path / "run", quiet=True)
    labels = load_builtin("sentiment").frames["all"]["sentiment"]
    majority = labels.value_counts(normalize=True).max()
    assert run.metrics.test["accuracy"] >= majority + 0.15


def test_keras_like_seed_program_prints_test_accuracy() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "seed_cnn_mnist.py")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    line = [row for row in result.stdout.splitlines() if row.startswith("Test accuracy:")]
    assert line, result.stdout
    assert float(line[0].split(":")[1]) >= 0.93
