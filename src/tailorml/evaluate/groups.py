"""Which groups a fairness limit judges, and the gap between them.

A limit compares the rates of a sensitive attribute's groups (the selection rate for
demographic parity; TPR and FPR for equalized odds). A group with fewer than
``min_group_size`` rows in the split being judged is too small for its rate to mean
anything (three people give a rate of 0, 1/3, 2/3 or 1), so it is left out of the gap
and reported apart, with its count and the Wilson 95% interval of each rate. A limit
may also be scoped: ``groups`` judges only the groups listed, ``reference`` measures
every judged group against one group (the largest difference to it) instead of the
largest difference between any two. A limit with fewer than two groups large enough
(or a reference group that is too small) cannot be judged on that split; it is
reported as such and constrains nothing.

The gap and its standard error are computed here once and shared by the threshold
search (evaluate/thresholds.py) and the measurement of a split (match, audit), so the
figure a decision was chosen on is the figure it is judged by.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from tailorml.errors import DataError, dash_hint
from tailorml.records.audit import Rate, SmallGroup
from tailorml.records.match import GroupScopeFacts, LimitFigures

DEFAULT_MIN_GROUP_SIZE = 30
DPD = "demographic_parity_difference"
EOD = "equalized_odds_difference"
Z95 = 1.959964


@dataclass(frozen=True)
class GroupScope:
    """The groups a limit judges: large enough ones, optionally only some, against one."""

    min_group_size: int = DEFAULT_MIN_GROUP_SIZE
    groups: tuple[str, ...] | None = None
    reference: str | None = None


@dataclass(frozen=True)
class Groups:
    """One sensitive attribute encoded once under one scope."""

    labels: np.ndarray  # (G,) group names, sorted
    codes: np.ndarray  # (N,) each row's group index
    rows: np.ndarray  # (G,) rows per group
    pos: np.ndarray  # (G,) actual positives per group
    neg: np.ndarray  # (G,) actual negatives per group
    in_scope: np.ndarray  # (G,) a group the limit is about (``scope.groups``)
    eligible: np.ndarray  # (G,) judged: in scope and large enough
    reference: int | None  # the reference group's index among the judged ones
    judged: bool  # two judged groups (the reference among them, when one is named)


def encode_groups(labels: np.ndarray, y: np.ndarray, scope: GroupScope) -> Groups:
    """Group codes, counts and the judged groups of one attribute on one split."""
    names, codes = np.unique(np.asarray(labels).astype(str), return_inverse=True)
    count = len(names)
    rows = np.bincount(codes, minlength=count).astype(np.float64)
    pos = np.bincount(codes, weights=np.asarray(y, dtype=np.float64), minlength=count)
    in_scope = np.ones(count, dtype=bool)
    if scope.groups is not None:
        in_scope = np.isin(names, np.asarray(scope.groups, dtype=str))
    eligible = in_scope & (rows >= scope.min_group_size)
    reference = None
    judged = int(eligible.sum()) >= 2
    if scope.reference is not None:
        where = np.flatnonzero(names == scope.reference)
        judged = judged and len(where) == 1 and bool(eligible[where[0]])
        if judged:
            reference = int(np.flatnonzero(np.flatnonzero(eligible) == where[0])[0])
    return Groups(names, codes, rows, pos, rows - pos, in_scope, eligible, reference, judged)


def rate_gap(
    hits: np.ndarray, totals: np.ndarray, reference: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The largest rate difference between groups and the Agresti-Caffo standard error of
    the difference between the two groups that make it, (...,) each.

    Args:
        hits: rows counted by the rate, (..., G).
        totals: rows in each group's denominator, (G,). An empty group's rate is 0,
            as in scikit-learn's normalised confusion matrix.
        reference: compare every group with this one (index into G) instead of the
            highest rate with the lowest.
    """
    hits = np.asarray(hits, dtype=np.float64)
    totals = np.broadcast_to(np.asarray(totals, dtype=np.float64), hits.shape)
    if hits.shape[-1] < 2:
        return np.zeros(hits.shape[:-1]), np.zeros(hits.shape[:-1])
    rates = np.divide(hits, totals, out=np.zeros(hits.shape), where=totals > 0)
    if reference is None:
        ends = np.stack([rates.argmax(-1), rates.argmin(-1)], axis=-1)  # (..., 2)
    else:
        apart = np.abs(rates - rates[..., reference : reference + 1])
        ends = np.stack([apart.argmax(-1), np.full(apart.shape[:-1], reference)], axis=-1)
    end_rates = np.take_along_axis(rates, ends, -1)
    n = np.take_along_axis(totals, ends, -1) + 2.0
    shrunk = (np.take_along_axis(hits, ends, -1) + 1.0) / n
    se = np.sqrt((shrunk * (1.0 - shrunk) / n).sum(-1))
    return np.abs(end_rates[..., 0] - end_rates[..., 1]), se


def limit_gap(
    metric: str, tp: np.ndarray, fp: np.ndarray, groups: Groups
) -> tuple[np.ndarray, np.ndarray]:
    """Gap and standard error of ``metric`` over the judged groups, from predicted
    positives per group among actual positives (``tp``) and negatives (``fp``), (..., G).
    A limit that cannot be judged has gap and error 0."""
    if not groups.judged:
        return np.zeros(np.shape(tp)[:-1]), np.zeros(np.shape(tp)[:-1])
    keep, ref = groups.eligible, groups.reference
    if metric == DPD:
        return rate_gap((tp + fp)[..., keep], groups.rows[keep], ref)
    if metric == EOD:
        tpr_gap, tpr_se = rate_gap(tp[..., keep], groups.pos[keep], ref)
        fpr_gap, fpr_se = rate_gap(fp[..., keep], groups.neg[keep], ref)
        return np.maximum(tpr_gap, fpr_gap), np.maximum(tpr_se, fpr_se)
    raise ValueError(f"unknown fairness metric '{metric}'; use '{DPD}' or '{EOD}'")


def group_counts(y: np.ndarray, pred: np.ndarray, groups: Groups) -> tuple[np.ndarray, ...]:
    """Predicted positives per group among actual positives (tp) and negatives (fp), (G,)."""
    count = len(groups.labels)
    tp = np.bincount(groups.codes, weights=pred * y, minlength=count)
    fp = np.bincount(groups.codes, weights=pred * (1.0 - y), minlength=count)
    return tp, fp


def _rate(hits: float, n: float, z: float = Z95) -> Rate:
    """A proportion and its Wilson score interval (both None without rows)."""
    if n <= 0:
        return Rate(value=None, ci95=None)
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low, high = max(0.0, centre - half), min(1.0, centre + half)
    return Rate(value=float(p), ci95=(float(low), float(high)))


def too_small(y: np.ndarray, pred: np.ndarray, groups: Groups) -> list[SmallGroup]:
    """The groups in scope left out for size: count and each rate with its interval."""
    tp, fp = group_counts(y, pred, groups)
    return [
        SmallGroup(
            group=str(groups.labels[g]),
            n=int(groups.rows[g]),
            selection_rate=_rate(tp[g] + fp[g], groups.rows[g]),
            tpr=_rate(tp[g], groups.pos[g]),
            fpr=_rate(fp[g], groups.neg[g]),
        )
        for g in np.flatnonzero(groups.in_scope & ~groups.eligible)
    ]


def judge_limit(
    y_true: np.ndarray, y_pred: np.ndarray, labels: np.ndarray, metric: str, scope: GroupScope
) -> LimitFigures:
    """One limit's figures on one split: the gap over the judged groups, its standard
    error, the judged groups' sizes and the groups too small to judge."""
    y = np.asarray(y_true, dtype=np.float64)
    pred = np.asarray(y_pred, dtype=np.float64)
    groups = encode_groups(labels, y, scope)
    tp, fp = group_counts(y, pred, groups)
    gap, se = limit_gap(metric, tp, fp, groups)
    keep = groups.eligible
    sizes = {str(g): int(n) for g, n in zip(groups.labels[keep], groups.rows[keep], strict=True)}
    return LimitFigures(
        metric=metric,
        judged=groups.judged,
        gap=float(gap) if groups.judged else None,
        se=float(se) if groups.judged else None,
        groups=sizes,
        too_small=too_small(y, pred, groups),
        scope=GroupScopeFacts.model_validate(asdict(scope)),
    )


def group_labels(values: pd.Series | np.ndarray) -> np.ndarray:
    """Group labels as strings; a missing value is the group ``<missing>``."""
    labels = pd.Series(values).astype(object)
    return labels.where(labels.notna(), "<missing>").astype(str).to_numpy()


def check_sensitive(rows: pd.DataFrame, sensitive: list[str]) -> dict[str, np.ndarray]:
    """Sensitive columns as group labels; unknown or single-group columns are errors."""
    groups = {}
    for column in sensitive:
        if column not in rows.columns:
            tip = dash_hint(column, rows.columns)
            raise DataError(f"sensitive column '{column}' does not exist in the data{tip}")
        groups[column] = labels = group_labels(rows[column])
        if len(set(labels)) < 2:
            raise DataError(
                f"sensitive column '{column}' has a single group ({labels[0]!r}); "
                "fairness compares at least two."
            )
    return groups
