"""Train one candidate on a share of the training rows and score it."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from tailorml.config import ModelConfig
from tailorml.match.portfolio import Candidate
from tailorml.match.prepare import Prepared
from tailorml.models import ENCODERS, TailorModel
from tailorml.models.classical import CLASSICAL
from tailorml.runs.bundle import Bundle, save_bundle
from tailorml.runs.run import Run
from tailorml.train import Trainer


@dataclass
class TrialResult:
    """What a rung needs to rank a candidate, and what it cost."""

    name: str
    rung: int
    quality: float  # higher is better (errors are negated)
    train_seconds: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def deep_config(base: ModelConfig, params: dict[str, Any], seed: int) -> ModelConfig:
    """The base config with the candidate's encoder, decoder and training."""
    raw = base.model_dump(mode="json")
    encoder = params.get("encoder", {})
    takes = ENCODERS[encoder["name"]].types if encoder else frozenset()
    for feature in raw["input_features"]:
        if feature["type"] in takes:
            feature["encoder"] = encoder
    raw["decoder"] = {**raw["decoder"], **params.get("decoder", {})}
    raw["training"] = {**raw["training"], **params.get("training", {}), "seed": seed}
    return ModelConfig.model_validate(raw)


def fit_bundle(candidate: Candidate, data: Prepared, fraction: float, seed: int) -> Bundle:
    """Train the candidate on a seeded ``fraction`` of the training rows."""
    train = data.subset(fraction, seed)
    assert train.target is not None
    target = data.features.target
    metas = data.features.metas()
    if candidate.family == "deep":
        config = deep_config(data.config, candidate.params, seed)
        torch.manual_seed(seed)
        model = TailorModel(config, metas, target.n_outputs)
        trainer = Trainer(model, target.kind, config.training, quiet=True)
        trainer.fit(train, data.encoded["validation"])
        model.eval()
        spent = {"privacy": trainer.privacy} if trainer.privacy else {}
        return Bundle(config, data.features, model, params=spent)
    classical = CLASSICAL[candidate.family](
        candidate.params, metas, target.kind, len(target.labels) or 1
    )
    classical.fit(train.inputs, train.target, seed)
    return Bundle(data.config, data.features, classical, candidate.family, dict(candidate.params))


def quality_of(metrics: dict[str, Any], metric: str) -> float:
    """Higher is better: error metrics are negated."""
    value = float(metrics.get(metric) or 0.0)
    return -value if metric in ("mae", "rmse") else value


def run_trial(
    candidate: Candidate, data: Prepared, rung: int, fraction: float, metric: str,
    save_to: Path | None,
) -> TrialResult:  # fmt: skip
    """Train, score on validation (argmax decisions), optionally save."""
    seed = data.scenario.seed
    started = time.perf_counter()
    bundle = fit_bundle(candidate, data, fraction, seed)
    seconds = time.perf_counter() - started
    scores = Run(bundle).score_rows(data.frames["validation"], "validation")
    if save_to is not None:
        save_bundle(bundle, save_to)
    return TrialResult(candidate.name, rung, quality_of(scores, metric), seconds)


def set_threads(workers: int) -> None:
    """Share the cores between parallel trials instead of oversubscribing."""
    cores = os.cpu_count() or 1
    torch.set_num_threads(max(1, cores // workers))
