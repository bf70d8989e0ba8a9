"""GPU readiness on a CPU: bench/gpu.py's small run, devices and GPU pricing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tailorml.config import Scenario
from tailorml.errors import ConfigError
from tailorml.match.assess import training_price
from tailorml.train.precision import resolve_device

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_bench_runs_small_on_the_cpu() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gpu.py"), "--small", "--device", "cpu"],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["device"].startswith("cpu") and result["precision"] == "bf16"
    assert result["seed_cnn"]["test_accuracy"] > 0.8  # one epoch of the seed CNN learns
    assert result["seed_cnn"]["train_samples_per_s"] > 0
    tuned = result["minilm_finetune"]
    assert tuned["train_rows"] == 320 and tuned["epochs"] == 1
    assert 0 <= tuned["test_accuracy"] <= 1 and tuned["inference_sentences_per_s"] > 0


def test_cuda_without_a_gpu_is_a_config_error() -> None:
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="training.device is cuda"):
            resolve_device("cuda")


def test_training_on_a_gpu_is_priced_per_gpu_hour() -> None:
    scenario = Scenario.model_validate(
        {"name": "s", "task": "classification", "data": {"source": "builtin:adult",
         "target": "income"}, "economics": {"price_per_cpu_hour": 0.1, "price_per_gpu_hour": 3}}
    )  # fmt: skip
    assert training_price("cuda", scenario) == 3
    assert training_price("cpu", scenario) == 0.1
