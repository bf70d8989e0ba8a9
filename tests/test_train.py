"""End to end: train → run folder → reload → evaluate / predict; determinism
and resume after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

import tailorml
from tailorml.config import load_config

ROOT = Path(__file__).resolve().parents[1]
SEED_CONFIG = ROOT / "examples" / "seed_cnn_mnist.yaml"
TIMINGS = {"seconds", "wall_seconds", "samples_per_s"}


def without_timings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in TIMINGS}
    return value


@pytest.fixture(scope="module")
def seed_run(tmp_path_factory: pytest.TempPathFactory) -> tailorml.Run:
    return tailorml.train(SEED_CONFIG, tmp_path_factory.mktemp("seed") / "run", quiet=True)


def test_seed_cnn_reaches_the_keras_accuracy(seed_run: tailorml.Run) -> None:
    metrics = seed_run.metrics
    assert metrics.test["accuracy"] >= 0.93
    assert metrics.data.rows == {"train": 4000, "test": 1000, "validation": 1000}
    low, high = metrics.test.ci95.low, metrics.test.ci95.high
    assert low < metrics.test["accuracy"] < high
    assert metrics.train.samples_per_s > 0
    assert metrics.train.epochs == 5


def test_run_folder_holds_every_artefact(seed_run: tailorml.Run) -> None:
    folder = seed_run.path
    assert folder is not None
    for name in ("config.yaml", "metrics.json", "history.csv", "report.html"):
        assert (folder / name).is_file(), name
    assert (folder / "model" / "model.safetensors").is_file()
    manifest = json.loads((folder / "model" / "model.json").read_text())
    assert manifest["format_version"] == 1
    history = pd.read_csv(folder / "history.csv")
    assert list(history["epoch"]) == [1, 2, 3, 4, 5]
    assert {"train_loss", "val_loss", "val_accuracy"} <= set(history.columns)
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    resolved = load_config(folder / "config.yaml")
    assert resolved == load_config(SEED_CONFIG)
    assert not list(folder.rglob("*.pkl")) and not list(folder.rglob("*.pt"))


def test_reloaded_run_predicts_the_same(seed_run: tailorml.Run, tmp_path: Path) -> None:
    assert seed_run.path is not None
    again = tailorml.load(seed_run.path)
    scores = again.evaluate("builtin:mnist")
    assert scores["accuracy"] == pytest.approx(seed_run.metrics.test["accuracy"])
    preds = again.predict("builtin:mnist")
    assert len(preds) == 1000
    assert list(preds.columns) == ["prediction"] + [f"probability_{d}" for d in range(10)]
    assert preds.filter(like="probability_").sum(axis=1).round(5).eq(1).all()


def test_cli_evaluate_and_predict(seed_run: tailorml.Run, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "preds.csv"
    result = cli("predict", str(seed_run.path), "--data", "builtin:mnist", "--output", str(out))
    assert result.returncode == 0, result.stderr
    preds = pd.read_csv(out)
    assert len(preds) == 1000 and "probability_7" in preds.columns
    metrics_file = tmp_path / "eval.json"
    result = cli(
        "evaluate", str(seed_run.path), "--data", "builtin:mnist", "--output", str(metrics_file)
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(metrics_file.read_text())["accuracy"] >= 0.93


def small_config(tmp_path: Path, epochs: int) -> Path:
    config = yaml.safe_load(SEED_CONFIG.read_text())
    config["training"]["epochs"] = epochs
    config["decoder"]["dropout"] = 0.2  # exercises the dropout RNG on resume
    path = tmp_path / f"seed_{epochs}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_same_config_and_seed_give_identical_metrics(tmp_path: Path) -> None:
    config = small_config(tmp_path, 2)
    first = tailorml.train(config, tmp_path / "a", quiet=True).metrics.dump()
    second = tailorml.train(config, tmp_path / "b", quiet=True).metrics.dump()
    assert without_timings(first) == without_timings(second)


def test_killed_run_resumes_to_the_same_metrics(tmp_path: Path) -> None:
    config = small_config(tmp_path, 4)
    reference = tailorml.train(config, tmp_path / "straight", quiet=True).metrics.dump()
    run_dir = tmp_path / "killed"
    command = [
        sys.executable,
        "-m",
        "tailorml.cli",
        "train",
        str(config),
        "--output",
        str(run_dir),
        "--quiet",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = run_dir / "checkpoint" / "state.json"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if state.exists() and json.loads(state.read_text())["epoch"] >= 2:
            break
        time.sleep(0.02)
    time.sleep(0.3)  # into the next epoch
    assert process.poll() is None, "training finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (run_dir / "metrics.json").exists()
    assert not list(run_dir.rglob("*.tmp"))  # no half-written file in place
    resumed = tailorml.train(config, run_dir, resume=True, quiet=True).metrics.dump()
    assert without_timings(resumed) == without_timings(reference)
