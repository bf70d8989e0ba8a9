"""Bias audit of a trained binary classifier, and threshold mitigation.

Per sensitive attribute and group: selection rate, accuracy, TPR, FPR and
calibration (mean predicted probability next to the observed positive rate),
each with a bootstrap 95% interval; demographic parity and equalized odds
differences and ratios (fairlearn).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tailorml.errors import DataError
from tailorml.evaluate import measure
from tailorml.evaluate.groups import (
    DEFAULT_MIN_GROUP_SIZE,
    DPD,
    EOD,
    GroupScope,
    check_sensitive,
    judge_limit,
)
from tailorml.evaluate.thresholds import FairnessLimit, Metric, ValueMatrix, choose_decision
from tailorml.records.audit import (
    AttributeAudit,
    AuditedRows,
    GroupRates,
    Interval,
    JudgedGaps,
    Mitigation,
)
from tailorml.runs.run import Outcome, Run

RATES = ("selection_rate", "accuracy", "tpr", "fpr", "mean_probability", "observed_rate")


def group_rates(y: np.ndarray, pred: np.ndarray, proba: np.ndarray) -> dict[str, float | None]:
    """The audited rates of one group (None where undefined)."""
    pos, neg = y == 1, y == 0
    return {
        "selection_rate": float(pred.mean()),
        "accuracy": float((pred == y).mean()),
        "tpr": float(pred[pos].mean()) if pos.any() else None,
        "fpr": float(pred[neg].mean()) if neg.any() else None,
        "mean_probability": float(proba.mean()),
        "observed_rate": float(y.mean()),
    }


def bootstrap_rates(
    y: np.ndarray, pred: np.ndarray, proba: np.ndarray, n_resamples: int, seed: int
) -> dict[str, Interval | None]:
    """Percentile 95% intervals of every rate, resampling the group's rows."""
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {k: [] for k in RATES}
    for _ in range(n_resamples):
        index = rng.integers(0, len(y), len(y))
        for key, value in group_rates(y[index], pred[index], proba[index]).items():
            if value is not None:
                draws[key].append(value)
    return {k: (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))) if v else None
            for k, v in draws.items()}  # fmt: skip


def audit_outcome(
    result: Outcome, groups: dict[str, np.ndarray], n_resamples: int = 200, seed: int = 0,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
) -> dict[str, AttributeAudit]:  # fmt: skip
    """Per attribute: gaps and ratios (fairlearn, every group), the gaps between the
    groups large enough to judge (``judged``), the groups too small (``too_small``),
    and every group's rates with CIs."""
    if result.proba is None or result.proba.shape[1] != 2:
        raise DataError("the fairness audit needs a binary classifier (two classes).")
    y, pred, proba = result.y_true, result.decided, result.proba[:, 1]
    report = measure.fairness_report(y, pred, groups)
    audited = {}
    for attribute, labels in groups.items():
        per_group = {}
        for i, group in enumerate(sorted(set(labels))):
            rows = labels == group
            rates = group_rates(y[rows], pred[rows], proba[rows])
            cis = bootstrap_rates(y[rows], pred[rows], proba[rows], n_resamples, seed + i)
            per_group[str(group)] = GroupRates(n=int(rows.sum()), **rates, ci95=cis)
        scope = GroupScope(min_group_size=min_group_size)
        parity, odds = (judge_limit(y, pred, labels, metric, scope) for metric in (DPD, EOD))
        audited[attribute] = AttributeAudit(
            **report[attribute].model_dump(exclude={"groups"}),  # the gaps and ratios
            groups=per_group,
            min_group_size=min_group_size,
            judged=JudgedGaps(
                demographic_parity_difference=parity.gap, equalized_odds_difference=odds.gap
            ),
            too_small=parity.too_small,
        )
    return audited


def audit(
    run: Run, rows: pd.DataFrame, sensitive: list[str], seed: int = 0,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
) -> AuditedRows:  # fmt: skip
    """The bias audit of a run's decisions on labelled rows."""
    groups = check_sensitive(rows, sensitive)
    result = run.outcome(rows)
    return AuditedRows(
        rows=len(rows),
        accuracy=float(np.mean(result.y_true == result.decided)),
        attributes=audit_outcome(result, groups, seed=seed, min_group_size=min_group_size),
    )


def mitigate(
    run: Run, tune_rows: pd.DataFrame, attribute: str, metric: Metric, limit: float
) -> Mitigation:
    """Post-processing: per-group thresholds tuned on ``tune_rows`` (never
    the rows the audit is reported on) so the gap stays under ``limit``.
    The run's bundle gets the new decision."""
    groups = check_sensitive(tune_rows, [attribute])
    run.bundle.decision = None
    result = run.outcome(tune_rows)
    if result.proba is None or result.proba.shape[1] != 2:
        raise DataError("threshold mitigation needs a binary classifier (two classes).")
    choice = choose_decision(
        result.y_true, result.proba[:, 1], ValueMatrix(1.0, 0.0, 1.0, 0.0), groups,
        [FairnessLimit(attribute, metric, limit)], group_thresholds=True, margin_z=1.645, grid=301,
    )  # fmt: skip
    run.bundle.decision = choice.decision
    return Mitigation(
        decision=choice.decision.to_dict(),
        feasible=choice.feasible,
        effective_limits=choice.effective_limits,
    )
