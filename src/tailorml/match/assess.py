"""Measure a finished candidate on the validation (or test) split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tailorml.audit.explain import explain_rows
from tailorml.config import Scenario
from tailorml.evaluate import measure, thresholds
from tailorml.evaluate.groups import GroupScope, group_labels, judge_limit
from tailorml.evaluate.thresholds import FairnessLimit, QualityFloor, ValueMatrix, choose_decision
from tailorml.match.constraints import constraint_name
from tailorml.match.prepare import Prepared
from tailorml.records.match import Figures, LimitFigures, Quality, Tuning
from tailorml.runs.bundle import load_bundle, save_bundle
from tailorml.runs.run import Outcome, Run
from tailorml.train.precision import resolve_device

# The limits are one-sided (gap <= limit): enforce them on validation with a
# one-sided 95% margin so they still hold on rows the search never saw.
MARGIN_Z = 1.645
GRID = 301  # candidate thresholds per group (quantiles of the probabilities)


def value_per_row(scenario: Scenario, result: Outcome) -> np.ndarray:
    """Money per prediction (negative for a cost)."""
    v = scenario.value
    if result.proba is None:
        return -v.error_cost * np.abs(result.y_true - result.decided)
    if result.proba.shape[1] == 2:
        return value_matrix(scenario).per_row(result.y_true, result.decided)
    return np.where(result.y_true == result.decided, v.true_positive, v.false_positive)


def value_matrix(scenario: Scenario) -> ValueMatrix:
    v = scenario.value
    return ValueMatrix(v.true_positive, v.false_positive, v.true_negative, v.false_negative)


def sensitive_columns(scenario: Scenario, rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """Group labels per sensitive column; a missing value is the group ``<missing>``."""
    return {c: group_labels(rows[c]) for c in scenario.sensitive}


def fairness_limits(scenario: Scenario) -> list[FairnessLimit]:
    """The scenario's fairness limits with the groups each one judges."""
    return [
        FairnessLimit(
            f.attribute,
            f.metric,
            f.max,
            GroupScope(f.min_group_size, tuple(f.groups) if f.groups else None, f.reference),
            name=constraint_name(f),
        )  # fmt: skip
        for f in scenario.constraints.fairness
    ]


def limit_figures(
    scenario: Scenario, y_true: np.ndarray, decided: np.ndarray, rows: pd.DataFrame
) -> dict[str, LimitFigures]:
    """Each fairness limit's gap over its judged groups, and the groups too small to judge."""
    groups = sensitive_columns(scenario, rows)
    return {
        lim.key: judge_limit(y_true, decided, groups[lim.attribute], lim.metric, lim.scope)
        for lim in fairness_limits(scenario)
    }


def tune_decision(
    run: Run, scenario: Scenario, rows: pd.DataFrame
) -> thresholds.DecisionResult | None:
    """Choose thresholds for a binary classifier on these rows; store them in
    the bundle. Returns the choice, or None for other tasks."""
    run.bundle.decision = None
    result = run.outcome(rows)
    if result.proba is None or result.proba.shape[1] != 2:
        return None
    quality = scenario.constraints.quality  # a floor only on a metric decisions move (not ROC AUC)
    floors: list[QualityFloor] = []
    if quality and quality.metric in ("accuracy", "f1_macro") and quality.min is not None:
        floors = [QualityFloor(quality.metric, quality.min)]
    choice = choose_decision(
        result.y_true, result.proba[:, 1], value_matrix(scenario),
        sensitive_columns(scenario, rows), fairness_limits(scenario),
        scenario.decisions.group_thresholds, margin_z=MARGIN_Z, grid=GRID,
        floors=floors,
    )  # fmt: skip
    run.bundle.decision = choice.decision
    return choice


def add_decision(figures: Figures, choice: thresholds.DecisionResult) -> None:
    """The tuned thresholds, the value at a plain 0.5 threshold, how they were
    chosen, and each fairness limit's effective limit and margin."""
    figures.decision = choice.decision.to_dict()
    figures.baseline_value_per_1k = 1000 * choice.baseline_value_per_row
    figures.effective_limits = choice.effective_limits
    figures.tuning = Tuning(
        margin_z=MARGIN_Z, certified=choice.certified, feasible=choice.feasible,
        binding=choice.binding, effective_floors=choice.effective_floors,
        not_judged=choice.not_judged, conflict=choice.conflict,
    )  # fmt: skip
    for name, effective in choice.effective_limits.items():
        limit = figures.limits[name]
        limit.effective_limit = effective
        limit.margin = MARGIN_Z * limit.se if limit.se is not None else None


def split_figures(run: Run, scenario: Scenario, rows: pd.DataFrame, split: str) -> Figures:
    """Quality, fairness and value of the run's decisions on one split."""
    scores = run.score_rows(rows, split).dump()
    keep = ("accuracy", "f1_macro", "roc_auc", "log_loss", "mae", "rmse", "r2", "ci95", "headline")
    figures = Figures.model_validate({k: scores[k] for k in keep if k in scores})
    result = run.outcome(rows)
    figures.value_per_1k = measure.value_per_1k(value_per_row(scenario, result))
    if scenario.sensitive and result.proba is not None and result.proba.shape[1] == 2:
        figures.fairness = measure.fairness_report(
            result.y_true, result.decided, sensitive_columns(scenario, rows)
        )
        figures.limits = limit_figures(scenario, result.y_true, result.decided, rows)
    return figures


def add_cost_figures(
    figures: Figures, run: Run, folder: Path, scenario: Scenario, rows: pd.DataFrame
) -> None:
    """Latency, throughput, size, parameters, FLOPs and money."""
    latency = measure.latency_ms(run.predict, rows, seed=scenario.seed)
    figures.latency_p50_ms = latency["p50_ms"]
    figures.latency_p95_ms = latency["p95_ms"]
    figures.throughput_rows_per_s = measure.throughput_rows_per_s(run.predict, rows)
    figures.size_mb = measure.folder_size_mb(folder)
    price = scenario.economics.price_per_cpu_hour
    figures.cost_per_1k = measure.cost_per_1k(latency["mean_ms"] / 1000, price)
    figures.explainable = explanation_converges(run, rows)
    example = run.bundle.features.encode(rows.iloc[:8], "example", with_target=False).inputs
    figures.parameters = run.family.size(run.bundle.model)
    figures.flops_per_row = run.family.flops_per_row(run.bundle.model, example)


def training_price(device: str, scenario: Scenario) -> float:
    """Money per hour of the hardware the candidate trained on. Serving is
    measured and priced on the CPU (bundles predict on the CPU)."""
    economics = scenario.economics
    return economics.price_per_gpu_hour if device == "cuda" else economics.price_per_cpu_hour


def explanation_converges(run: Run, rows: pd.DataFrame, sample: int = 20) -> bool:
    """A faithful explanation exists: the family attributes decisions, exactly
    (linear models, trees) or by Integrated Gradients whose completeness error
    is under 5% of the output on at least 90% of a validation sample."""
    if run.family.capabilities.attribution is None:
        return False
    explained = explain_rows(run, rows.iloc[:sample])
    converged = [
        e.convergence_delta is None or abs(e.convergence_delta) < 0.05 * max(abs(e.output), 1e-6)
        for e in explained
    ]
    return bool(np.mean(converged) >= 0.9)


def assess(folder: Path, data: Prepared, train_seconds: float) -> tuple[Run, Figures]:
    """Tune the decision, then measure everything the scenario cares about."""
    scenario = data.scenario
    run = Run(load_bundle(folder), folder)
    rows = data.frames["validation"]
    choice = tune_decision(run, scenario, rows)
    save_bundle(run.bundle, folder)
    figures = split_figures(run, scenario, rows, "validation")
    headline, ci = str(figures.headline), figures.ci95
    low, high = (ci.low, ci.high) if ci else (None, None)
    figures.quality = Quality(metric=headline, value=figures[headline], low=low, high=high)
    add_cost_figures(figures, run, folder, scenario, rows)
    privacy = run.bundle.params.get("privacy")
    figures.epsilon = privacy["epsilon"] if privacy else None
    figures.train_seconds = train_seconds
    training = run.config.training  # a GPU family trains on the GPU, if any, but not under DP-SGD
    on_cpu = not run.family.capabilities.gpu or training.privacy is not None
    figures.train_device = device = "cpu" if on_cpu else resolve_device(training.device).type
    figures.train_cost = measure.training_cost(train_seconds, training_price(device, scenario))
    if choice is not None:
        add_decision(figures, choice)
    return run, figures
