"""Train one candidate on a share of the training rows and score it."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from tailorml.config import Scenario
from tailorml.evaluate.groups import check_sensitive
from tailorml.features import Encoded
from tailorml.match.assess import limit_figures
from tailorml.match.constraints import constraint_name, fairness_check
from tailorml.match.portfolio import Candidate
from tailorml.match.prepare import Prepared
from tailorml.models.family import family_named
from tailorml.runs.bundle import Bundle, save_bundle
from tailorml.runs.run import Run
from tailorml.train.deep import deep_config  # noqa: F401  (the deep candidates' configs)
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


def fit_bundle(candidate: Candidate, data: Prepared, fraction: float, seed: int) -> Bundle:
    """Train the candidate on a seeded ``fraction`` of the training rows."""
    return fit_charged(candidate, data, fraction, seed)[0]


def fit_charged(
    candidate: Candidate, data: Prepared, fraction: float, seed: int
) -> tuple[Bundle, float]:
    """The trained candidate, and the training seconds it is charged: the wall
    time, except that what its family computes ahead for all training rows (a
    frozen encoder's embeddings, cached on disk and read by later trials)
    counts at what computing it cost, for the share of the rows it trains on."""
    started = time.perf_counter()
    family = family_named(candidate.family)
    config = family.config_for(data.config, candidate.params, seed)
    prepared = data.preprocessed(config)  # the features its config reads
    torch.manual_seed(seed)
    model = family.build(config, prepared.features, candidate.params)
    full = prepared.encoded["train"]
    ahead = time.perf_counter()
    inputs, cost = family.precompute(model, full.inputs, config)
    adjustment = cost * fraction - (time.perf_counter() - ahead)
    train, rows = data.subset(fraction, seed, Encoded(inputs, full.target))
    reweigh_training(config, rows, train, prepared.features)  # on this trial's own Encoded
    validation = prepared.encoded["validation"]
    params = family.fit(model, train, validation, config, sensitive_labels(data, rows))
    bundle = Bundle(config, prepared.features, model, candidate.family, params)
    return bundle, time.perf_counter() - started + adjustment


def sensitive_labels(data: Prepared, rows: pd.DataFrame) -> np.ndarray | None:
    """The first fairness limit's attribute on the training rows, if any."""
    limits = data.scenario.constraints.fairness
    if not limits:
        return None
    attribute = limits[0].attribute
    return check_sensitive(rows, [attribute])[attribute]


def run_trial(
    candidate: Candidate, data: Prepared, rung: int, fraction: float, metric: str,
    save_to: Path | None,
) -> TrialResult:  # fmt: skip
    """Train (charged as ``fit_charged`` says), score on validation (argmax decisions),
    optionally save."""
    bundle, seconds = fit_charged(candidate, data, fraction, data.scenario.seed)
    run, validation = Run(bundle), data.frames["validation"]
    scores = run.score_rows(validation, "validation")
    if save_to is not None:
        save_bundle(bundle, save_to)
    fair = within_fairness(run, data.scenario, validation)
    value = float(scores.figures.get(metric) or 0.0)
    quality = -value if metric in ("mae", "rmse") else value  # higher is better
    return TrialResult(candidate.name, rung, quality, seconds, fair)


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
    return all(fairness_check(f, judged[constraint_name(f)]).passed for f in limits)


def core_share(processes: int) -> int:
    """Threads for each of ``processes`` sharing this machine's cores (none oversubscribed)."""
    return max(1, (os.cpu_count() or 1) // processes)
