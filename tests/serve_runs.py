"""Tiny trained runs for the service tests: trained once per test session.

``trained(kind, base)`` returns a run folder under ``base`` (the session's
temporary root), training it the first time it is asked for.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

import tailorml

ROOT = Path(__file__).resolve().parents[1]
PLANTED_EMAIL = "jane.doe@example.com"


def table_csv(folder: Path, rows: int = 240) -> Path:
    """Applicants: a number, a category, a yes/no value, free text; label approved."""
    rng = np.random.default_rng(0)
    income = rng.normal(50, 15, rows).round(1)
    city = rng.choice(["Lyon", "Oslo", "Porto"], rows)
    member = rng.choice(["no", "yes"], rows)
    good = (income > 50) | (member == "yes")
    notes = np.where(good, "steady job long history", "late payments new account")
    frame = pd.DataFrame({"income": income, "city": city, "member": member, "note": notes,
                          "approved": np.where(good, "yes", "no")})  # fmt: skip
    path = folder / "applicants.csv"
    frame.to_csv(path, index=False)
    return path


def regression_csv(folder: Path, rows: int = 200) -> Path:
    rng = np.random.default_rng(1)
    x1, x2 = rng.uniform(0, 10, rows), rng.uniform(0, 10, rows)
    frame = pd.DataFrame({"x1": x1, "x2": x2, "y": 3 * x1 - 2 * x2 + rng.normal(0, 0.5, rows)})
    path = folder / "numbers.csv"
    frame.to_csv(path, index=False)
    return path


def feedback_csv(folder: Path, rows: int = 80, planted: bool = True) -> Path:
    texts, labels = [], []
    for i in range(rows):
        good = i % 2 == 0
        words = "great friendly quick service" if good else "slow rude awful wait"
        contact = PLANTED_EMAIL if planted and i % 4 == 0 else "the desk"
        texts.append(f"{words} contact {contact}")
        labels.append("pos" if good else "neg")
    path = folder / "feedback.csv"
    pd.DataFrame({"text": texts, "label": labels}).to_csv(path, index=False)
    return path


def digits_config(folder: Path) -> dict[str, Any]:
    """The seed CNN's shape (28×28 digits, conv 3×3 → pool → dense), made small."""
    return {
        "data": {"source": "builtin:mnist", "target": "label"},
        "input_features": [{
            "name": "image", "type": "image",
            "preprocessing": {"height": 28, "width": 28, "channels": 1, "scale": 255},
            "encoder": {"name": "cnn", "output": "flatten", "conv_layers": [
                {"filters": 8, "kernel_size": 3, "activation": "relu", "pool_size": 2}]},
        }],
        "decoder": {"hidden": [32]},
        "output_features": [{"name": "label", "type": "category"}],
        "training": {"epochs": 1, "batch_size": 128, "seed": 0},
    }  # fmt: skip


def table_config(folder: Path) -> dict[str, Any]:
    return {
        "data": {"source": str(table_csv(folder)), "target": "approved"},
        "input_features": [
            {"name": "income", "type": "number"},
            {"name": "city", "type": "category"},
            {"name": "member", "type": "binary"},
            {
                "name": "note",
                "type": "text",
                "encoder": {"name": "rnn", "hidden_size": 8},
                "preprocessing": {"max_length": 8},
            },
        ],  # fmt: skip
        "output_features": [{"name": "approved", "type": "binary", "positive": "yes"}],
        "training": {"epochs": 3, "seed": 0},
    }


def regression_config(folder: Path) -> dict[str, Any]:
    return {
        "data": {"source": str(regression_csv(folder)), "target": "y"},
        "input_features": [{"name": "x1", "type": "number"}, {"name": "x2", "type": "number"}],
        "output_features": [{"name": "y", "type": "number"}],
        "training": {"epochs": 5, "seed": 0},
    }


def pii_config(folder: Path) -> dict[str, Any]:
    return {
        "data": {"source": str(feedback_csv(folder)), "target": "label", "pii": "redact"},
        "input_features": [
            {
                "name": "text",
                "type": "text",
                "encoder": {"name": "rnn"},
                "preprocessing": {"max_length": 12},
            }
        ],  # fmt: skip
        "output_features": [{"name": "label", "type": "category"}],
        "training": {"epochs": 2, "seed": 0},
    }


def pii_fail_config(folder: Path) -> dict[str, Any]:
    """Trained on text free of personal data, under a policy that refuses any."""
    config = pii_config(folder)
    config["data"] = {"source": str(feedback_csv(folder, planted=False)), "target": "label",
                      "pii": "fail"}  # fmt: skip
    return config


CONFIGS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "digits": digits_config,
    "table": table_config,
    "regression": regression_config,
    "pii": pii_config,
    "pii_fail": pii_fail_config,
}


def trained(kind: str, base: Path) -> Path:
    """The run folder of a tiny model of this kind, trained on first use."""
    folder = base / "serve-runs" / kind
    if not (folder / "model" / "model.json").is_file():
        data = base / "serve-data" / kind
        data.mkdir(parents=True, exist_ok=True)
        tailorml.train(CONFIGS[kind](data), folder, quiet=True)
    return folder


def digit_images(n: int) -> list[np.ndarray]:
    """Test digits as (28, 28) uint8 arrays."""
    frame = tailorml.data.load_builtin("mnist").frames["test"]
    return [np.asarray(frame["image"].iloc[i]) for i in range(n)]


# ---------------------------------------------------------------- a real server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``tailor serve RUN`` in a subprocess on a free port, until stopped."""

    def __init__(self, run: Path, *options: str, env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "tailorml.cli", "serve", str(run),
                   "--port", str(self.port), *options]  # fmt: skip
        self.process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip

    def wait_healthy(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"tailor serve exited early:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"tailor serve did not answer /health in {timeout} s")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(timeout=60)

    def output(self) -> str:
        if self.process.poll() is None:
            return ""
        assert self.process.stdout is not None
        return self.process.stdout.read()
