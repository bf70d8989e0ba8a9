"""A model family and an encoder added from outside the package: defined and
registered here alone, they pass the conformance kit, enter ``tailor match``
(the portfolio builds, trains and measures the family's candidate) and answer
``tailor serve``'s predictions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest
import torch
import yaml
from fastapi.testclient import TestClient
from pydantic import ConfigDict
from torch import nn
from typer.testing import CliRunner

import tailorml
from tailorml.cli import app
from tailorml.config import EncoderConfig, ModelConfig, TrainingConfig
from tailorml.config.registry import _OPTIONS
from tailorml.data import load_builtin
from tailorml.features import Encoded, FeatureMeta, FeatureSet
from tailorml.io import load_tensors, save_tensors
from tailorml.match.backends import plugin_modules
from tailorml.models import ENCODERS, FAMILIES, ModelFamily, register_encoder, register_family
from tailorml.models.family import Candidate, Inputs, Params, Proposal, Task
from tailorml.models.registry import Encoder, build_encoder
from tailorml.serve import create_app
from tailorml.testing import check_encoder, check_family
from tailorml.train import Trainer, predict_outputs

# ---------------------------------------------------------------- the toy encoder


class ScaleOptions(EncoderConfig):
    """Options of the toy ``scale`` encoder."""

    model_config = ConfigDict(extra="forbid")

    name: Literal["toy_scale"] = "toy_scale"
    size: int = 4


class ScaleEncoder(Encoder):
    """A number to ``size`` squashed affine maps of it: tanh(w·x + b)."""

    def __init__(self, meta: FeatureMeta, options: ScaleOptions) -> None:
        super().__init__()
        self.affine = nn.Linear(1, options.size)
        self.output_size = options.size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.affine(x))  # (B, 1) → (B, size)


# ---------------------------------------------------------------- the toy family


class ScaledSum(nn.Module):
    """The toy encoder on every number input, side by side, then a linear head."""

    def __init__(self, metas: dict[str, FeatureMeta], size: int, n_outputs: int):
        super().__init__()
        self.names, self.size = sorted(metas), size
        options = ScaleOptions(size=size)
        self.encoders = nn.ModuleDict({n: build_encoder(metas[n], options) for n in self.names})
        self.head = nn.Linear(size * len(self.names), n_outputs)

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        encoded = [self.encoders[n](inputs[n]) for n in self.names]  # each (B, size)
        return self.head(torch.cat(encoded, dim=1))  # (B, K)


class ScaledSumFamily(ModelFamily[ScaledSum]):
    """Reads the number columns only; trained by the package's own loop."""

    def config_for(self, base: ModelConfig, params: Params, seed: int) -> ModelConfig:
        numbers = [f for f in base.input_features if f.type == "number"]
        return base.model_copy(update={"input_features": numbers})

    def build(
        self, config: ModelConfig, features: FeatureSet, params: Params, pretrained: bool = True
    ) -> ScaledSum:
        return ScaledSum(features.metas(), params.get("size", 4), features.target.n_outputs)

    def fit(
        self, model: ScaledSum, train: Encoded, validation: Encoded | None,
        config: ModelConfig, sensitive: np.ndarray | None = None,
    ) -> Params:  # fmt: skip
        settings = TrainingConfig(epochs=3, batch_size=64, learning_rate=0.01,
                                  seed=config.training.seed)  # fmt: skip
        Trainer(model, config.output.type, settings, quiet=True).fit(train, validation)
        return {"size": model.size}

    def outputs(
        self, model: ScaledSum, inputs: Inputs, config: ModelConfig, cache: bool = False,
        length_batch: int | None = None,
    ) -> torch.Tensor:  # fmt: skip
        return predict_outputs(model, inputs, 1024)

    def save(self, model: ScaledSum, folder: Path) -> None:
        save_tensors(folder / "scaled_sum.safetensors", model.state_dict())

    def load(self, model: ScaledSum, folder: Path) -> None:
        model.load_state_dict(load_tensors(folder / "scaled_sum.safetensors"))
        model.eval()

    def size(self, model: ScaledSum) -> int:
        return sum(p.numel() for p in model.parameters())

    def candidates(self, task: Task) -> Proposal:
        if task.modality != "table":
            return [], []
        entering = [Candidate("scaled_sum", "toy_scaled_sum", {"size": 4})]
        return entering, ["Tables: the toy scaled sum of the numbers enters."]


@pytest.fixture(scope="module", autouse=True)
def registered() -> Iterator[None]:
    """The toy plug-ins registered for this module's tests, and only for them."""
    register_encoder("toy_scale", ScaleOptions, types={"number"})(ScaleEncoder)
    register_family("toy_scaled_sum")(ScaledSumFamily)
    yield
    del ENCODERS["toy_scale"], _OPTIONS["encoder"]["toy_scale"], FAMILIES["toy_scaled_sum"]


def test_spawned_match_workers_import_the_modules_that_registered_plugins() -> None:
    assert __name__ in plugin_modules()  # a plug-in registered at import is known there
    assert not any(name.startswith("tailorml") for name in plugin_modules())


def test_the_toy_encoder_passes_the_kit() -> None:
    check_encoder("toy_scale", [{"size": 2}])


def test_the_toy_family_passes_the_kit() -> None:
    check_family("toy_scaled_sum", {"size": 3})


SCENARIO: dict[str, Any] = {
    "name": "toy_credit",
    "task": "classification",
    "data": {"source": "builtin:german_credit", "target": "credit_risk",
             "split": {"method": "stratified", "test_fraction": 0.25,
                       "validation_fraction": 0.25, "seed": 0}},
    "budget": {"seconds": 30, "workers": 1},  # one process: the trials see the registration
    "value": {"positive": "bad", "true_positive": 0, "false_negative": -5,
              "false_positive": -1, "true_negative": 0},
    "seed": 0,
}  # fmt: skip


@pytest.fixture(scope="module")
def matched(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tailor match`` on German credit with the linear family beside the toy one
    (the trees and networks left out, so one rung trains every candidate fast)."""
    folder = tmp_path_factory.mktemp("toy_match")
    (folder / "scenario.yaml").write_text(yaml.safe_dump(SCENARIO))
    kept = {name: FAMILIES[name] for name in ("linear", "toy_scaled_sum")}
    others = dict(FAMILIES)
    FAMILIES.clear()
    FAMILIES.update(kept)
    try:
        result = CliRunner().invoke(
            app, ["match", str(folder / "scenario.yaml"), "--output", str(folder / "run"), "-q"]
        )
    finally:
        FAMILIES.clear()
        FAMILIES.update(others)
    assert result.exit_code == 0, result.output
    return folder / "run"


def test_tailor_match_trains_and_measures_the_toy_family(matched: Path) -> None:
    result = yaml.safe_load((matched / "match.json").read_text())  # JSON is YAML
    assert "scaled_sum" in result["portfolio"]["candidates"]
    assert any("toy scaled sum" in reason for reason in result["portfolio"]["reasons"])
    toy = next(c for c in result["candidates"] if c["name"] == "scaled_sum")
    assert toy["family"] == "toy_scaled_sum" and toy["status"] == "finished"
    assert toy["metrics"]["parameters"] > 0 and 0 < toy["metrics"]["accuracy"] <= 1
    assert (matched / "candidates" / "scaled_sum" / "scaled_sum.safetensors").is_file()


def test_tailor_serve_answers_with_the_toy_family(matched: Path) -> None:
    folder = matched / "candidates" / "scaled_sum"
    names = [f.name for f in tailorml.load(folder).config.input_features]  # its number columns
    numbers = load_builtin("german_credit").frames["all"].head(3)[names].to_dict("records")
    with TestClient(create_app(folder)) as client:
        response = client.post("/predict", json={"rows": numbers})
        assert response.status_code == 200, response.text
        answers = response.json()["predictions"]
    assert len(answers) == 3
    assert all(a["label"] in ("good", "bad") for a in answers)
