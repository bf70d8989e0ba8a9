"""Shared fixtures: a helper to run the real CLI, and a tiny pretrained checkpoint.

Tests never reach the network: the Hugging Face Hub is offline, and cached
embeddings go to a folder of the test session.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TAILORML_CACHE", tempfile.mkdtemp(prefix="tailorml-test-cache-"))

import tailorml  # noqa: E402, F401  (registers encoders before configs are parsed)
from tailorml.config import Scenario, load_config  # noqa: E402
from tailorml.features.checkpoint import bundled_minilm  # noqa: E402
from tailorml.records.match import MatchResult  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def make_tiny_checkpoint(folder: Path, layers: int = 2, width: int = 32) -> Path:
    """A small random BERT with all-MiniLM-L6-v2's tokenizer, saved as a
    Hugging Face checkpoint folder (config.json, model.safetensors, tokenizer.json)."""
    import torch
    from transformers import BertConfig, BertModel

    minilm = bundled_minilm()
    architecture = json.loads((minilm / "config.json").read_text())
    architecture.update(
        hidden_size=width, num_hidden_layers=layers, num_attention_heads=2,
        intermediate_size=2 * width, max_position_embeddings=128,
    )  # fmt: skip
    torch.manual_seed(0)
    model = BertModel(BertConfig(**architecture), add_pooling_layer=False)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder))
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | {"model_type": "bert"}))
    shutil.copy(minilm / "tokenizer.json", folder / "tokenizer.json")
    return folder


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 32-wide BERT checkpoint folder (about 4 MB), built once per session."""
    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny_bert"))


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


@pytest.fixture(scope="session")
def matched(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, MatchResult]]:
    """Every shipped scenario matched once per session (local backend):
    (run folder, match.json's record)."""
    from tailorml.pipelines import match

    out = {}
    for scenario in sorted((ROOT / "scenarios").glob("*.yaml")):
        run_dir = tmp_path_factory.mktemp(scenario.stem)
        loaded = load_config(scenario, Scenario)
        spec: Scenario | Path = scenario
        if loaded.task == "generation":  # the baselines only: networks train for minutes
            spec = loaded.model_copy(
                update={"budget": loaded.budget.model_copy(update={"seconds": 60})}
            )
        out[scenario.stem] = (run_dir, match(spec, run_dir, quiet=True))
    return out
