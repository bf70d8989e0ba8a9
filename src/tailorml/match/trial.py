"""Train one candidate on a share of the training rows and score it."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from tailorml.config import ModelConfig, Scenario
from tailorml.errors import DataError
from tailorml.evaluate.groups import check_sensitive
from tailorml.features import Encoded
from tailorml.match.assess import limit_figures
from tailorml.match.constraints import constraint_name, fairness_check
from tailorml.match.portfolio import Candidate
from tailorml.match.prepare import Prepared
from tailorml.models import ENCODERS, TailorModel
from tailorml.models.classical import CLASSICAL
from tailorml.runs.bundle import Bundle, save_bundle
from tailorml.runs.run import Run
from tailorml.train import Trainer
from tailorml.train.frozen import embed_frozen_costed
from tailorml.train.weights import reweigh_training

Job = tuple[Candidate, int, float, str, Path | None]  # candidate, rung, fraction, metric, save to


@dataclass
class TrialResult:
    """What a rung needs to rank a candidate, and what it cost."""

    name: str
    rung: int
    quality: float  # higher is better (errors are negated)
    train_seconds: float
    within_fairness: bool = True  # argmax decisions meet the limits (when thresholds are shared)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


CHECKPOINT_PREPROCESSING = ("max_length", "truncation")  # what a checkpoint tokenizer takes


def deep_config(base: ModelConfig, params: dict[str, Any], seed: int) -> ModelConfig:
    """The base config with the candidate's encoder, decoder and training.

    Text that a pretrained encoder reads keeps only the preprocessing its
    checkpoint's tokenizer takes; the word-vocabulary options (``min_count``
    and the like) are for the other candidates.
    """
    raw = base.model_dump(mode="json")
    encoder = params.get("encoder", {})
    takes = ENCODERS[encoder["name"]].types if encoder else frozenset()
    for feature in raw["input_features"]:
        if feature["type"] in takes:
            feature["encoder"] = encoder
            if encoder["name"] == "pretrained":
                options = feature["preprocessing"]
                feature["preprocessing"] = {k: options[k] for k in CHECKPOINT_PREPROCESSING}
    raw["decoder"] = {**raw["decoder"], **params.get("decoder", {})}
    raw["training"] = {**raw["training"], **params.get("training", {}), "seed": seed}
    return ModelConfig.model_validate(raw)


def fit_bundle(candidate: Candidate, data: Prepared, fraction: float, seed: int) -> Bundle:
    """Train the candidate on a seeded ``fraction`` of the training rows."""
    return fit_charged(candidate, data, fraction, seed)[0]


def fit_charged(
    candidate: Candidate, data: Prepared, fraction: float, seed: int
) -> tuple[Bundle, float]:
    """The trained candidate, and the training seconds it is charged: the wall
    time, except that a frozen encoder's embeddings of all training rows
    (computed once, cached on disk, read by later trials) count at what
    computing them cost, for the share of the rows the candidate trains on."""
    started = time.perf_counter()
    if candidate.family == "deep":
        bundle, adjustment = fit_network(candidate, data, fraction, seed)
        return bundle, time.perf_counter() - started + adjustment
    return fit_classical(candidate, data, fraction, seed), time.perf_counter() - started


def fit_classical(candidate: Candidate, data: Prepared, fraction: float, seed: int) -> Bundle:
    """A classical candidate, on the inputs its family reads (trees: the table columns)."""
    family = CLASSICAL[candidate.family]
    config = classical_config(data.config, family.input_types(candidate.params))
    prepared = data.preprocessed(config)
    train, rows = data.subset(fraction, seed, prepared.encoded["train"])
    y = train.target
    assert y is not None
    target = prepared.features.target
    classical = family(
        candidate.params, prepared.features.metas(), target.kind, len(target.labels) or 1
    )
    classical.fit(train.inputs, y, seed, sensitive_labels(data, rows))
    return Bundle(config, prepared.features, classical, candidate.family, dict(candidate.params))


def classical_config(base: ModelConfig, types: frozenset[str] | None) -> ModelConfig:
    """The base config with only the inputs of ``types`` (all of them for None)."""
    if types is None or all(f.type in types for f in base.input_features):
        return base
    kept = [f for f in base.input_features if f.type in types]
    if not kept:
        raise DataError("this model family reads none of the input features' types")
    return base.model_copy(update={"input_features": kept})


def fit_network(
    candidate: Candidate, data: Prepared, fraction: float, seed: int
) -> tuple[Bundle, float]:
    """A deep candidate, on the features its encoders read (a pretrained
    encoder's checkpoint tokenizer, else the shared ones), and the seconds to
    add to its wall time: its share of what the frozen embeddings cost, less
    the time spent here getting them (see ``fit_charged``)."""
    config = deep_config(data.config, candidate.params, seed)
    prepared = data.preprocessed(config)
    features = prepared.features
    torch.manual_seed(seed)
    model = TailorModel(config, features.metas(), features.target.n_outputs)
    # A frozen encoder embeds every training row once (cached on disk), so
    # each rung's sample reuses the same vectors instead of embedding again.
    full = prepared.encoded["train"]
    started = time.perf_counter()
    inputs, cost = embed_frozen_costed(model, full.inputs, config.training.precision)
    adjustment = cost * fraction - (time.perf_counter() - started)
    full = Encoded(inputs, full.target)
    train, rows = data.subset(fraction, seed, full)
    if config.training.fairness is not None:  # a copy: the shared split keeps no weights
        train = Encoded(train.inputs, train.target)
        reweigh_training(config, rows, train, features)
    trainer = Trainer(model, features.target.kind, config.training, quiet=True)
    trainer.fit(train, prepared.encoded["validation"])
    model.eval()
    spent = {"privacy": trainer.privacy} if trainer.privacy else {}
    return Bundle(config, features, model, params=spent), adjustment


def sensitive_labels(data: Prepared, rows: pd.DataFrame) -> np.ndarray | None:
    """The first fairness limit's attribute on the training rows, if any."""
    limits = data.scenario.constraints.fairness
    if not limits:
        return None
    attribute = limits[0].attribute
    return check_sensitive(rows, [attribute])[attribute]


def quality_of(metrics: dict[str, Any], metric: str) -> float:
    """Higher is better: error metrics are negated."""
    value = float(metrics.get(metric) or 0.0)
    return -value if metric in ("mae", "rmse") else value


def run_trial(
    candidate: Candidate, data: Prepared, rung: int, fraction: float, metric: str,
    save_to: Path | None,
) -> TrialResult:  # fmt: skip
    """Train, score on validation (argmax decisions), optionally save.

    The training seconds count the candidate's share of what its frozen
    embeddings cost, though later trials read them from the cache.
    """
    bundle, seconds = fit_charged(candidate, data, fraction, data.scenario.seed)
    run, validation = Run(bundle), data.frames["validation"]
    scores = run.score_rows(validation, "validation")
    if save_to is not None:
        save_bundle(bundle, save_to)
    fair = within_fairness(run, data.scenario, validation)
    return TrialResult(candidate.name, rung, quality_of(scores, metric), seconds, fair)


def within_fairness(run: Run, scenario: Scenario, rows: pd.DataFrame) -> bool:
    """Whether argmax decisions on ``rows`` keep every fairness limit.

    Only asked when decisions may not use per-group thresholds: a threshold
    shared by all groups moves every group's rate together and closes a gap
    only at a large cost, so the model itself must be fair. With group
    thresholds any model can be made to meet the limit, so it is always True.
    """
    limits = scenario.constraints.fairness
    if not limits or scenario.decisions.group_thresholds:
        return True
    outcome = run.outcome(rows)
    judged = limit_figures(scenario, outcome.y_true, outcome.decided, rows)
    return all(fairness_check(f, judged[constraint_name(f)])["pass"] for f in limits)


def set_threads(workers: int) -> None:
    """Share the cores between parallel trials instead of oversubscribing."""
    cores = os.cpu_count() or 1
    torch.set_num_threads(max(1, cores // workers))
