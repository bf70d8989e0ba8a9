"""Shared fixtures: a helper to run the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import tailorml  # noqa: F401  (registers encoders before configs are parsed)

ROOT = Path(__file__).resolve().parents[1]


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``tailor ARGS`` in a fresh process, as a user would."""
    env = {**os.environ, "COLUMNS": "200", **(env or {})}
    env.pop("TAILOR_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "tailorml.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env=env,
        timeout=timeout,
    )


@pytest.fixture
def cli():  # type: ignore[no-untyped-def]
    return run_cli
