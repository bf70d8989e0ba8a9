"""Choose the decision threshold on p(positive) that earns the most, within fairness limits.

The choice is made on a validation split and must still hold on an untouched test
split, so every fairness limit is enforced with a safety margin:

    met  <=>  gap <= limit - margin_z * se

``gap`` is fairlearn's between-groups difference (max over groups minus min over
groups of the selection rate; for equalized odds the larger of the TPR and FPR
differences). ``se`` is the Agresti-Caffo standard error of the difference between
the two extreme groups' rates: with ``x`` hits out of ``n`` rows in a group,
``p~ = (x + 1) / (n + 2)`` and ``se = sqrt(p1~(1 - p1~) / (n1 + 2) + p2~(1 - p2~) / (n2 + 2))``.
The adjustment keeps ``se`` above zero when a rate is 0 or 1, so a limit of 0 can never
be certified from a finite sample. For equalized odds the rates are TPR (``n`` = the
group's positives) and FPR (``n`` = its negatives) and the larger of the two errors is
used; a group with no positives (negatives) has an unmeasured TPR (FPR) and so a wide
margin. ``limit - margin_z * se`` is reported as the effective limit; it is negative when
the sample is too small to certify the limit at all.

Groups with fewer than ``MIN_GROUP_ROWS`` rows are left out of gaps and margins (their
rates are too noisy to judge) and get the global threshold, as unseen groups do: the one
selecting the counted groups' share of rows, if the limits still hold, else the best
single threshold meeting them (or the best one). If fewer than two groups
are that large, all groups are used and their small size shows in the margin.

With ``margin_z`` = 1.96 the margin bounds the population gap (about 97.5 % one-sided for
a fixed rule). A test split as small as the validation split adds its own noise, about
sqrt(2) * se; to bound the gap measured there too, use ``margin_z`` near 2.8.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from tailorml.evaluate.decision import Decision

__all__ = [
    "MIN_GROUP_ROWS",
    "Decision",
    "DecisionResult",
    "FairnessLimit",
    "ValueMatrix",
    "choose_decision",
    "demographic_parity_gap",
    "equalized_odds_gap",
]

MIN_GROUP_ROWS = 30
Metric = Literal["demographic_parity_difference", "equalized_odds_difference"]
_DPD = "demographic_parity_difference"
_EOD = "equalized_odds_difference"
# Narrower bands leave room for the exact margin at the extreme groups.
_BAND_SCALES = (1.0, 0.85, 0.7, 0.55, 0.4, 0.25, 0.1)


@dataclass(frozen=True)
class ValueMatrix:
    """Money earned (negative: lost) by each outcome of one prediction."""

    true_positive: float
    false_positive: float
    true_negative: float
    false_negative: float

    def per_row(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """Money per prediction, (N,)."""
        actual = np.asarray(y_true).astype(bool)
        said = np.asarray(y_pred).astype(bool)
        if_positive = np.where(actual, self.true_positive, self.false_positive)
        if_negative = np.where(actual, self.false_negative, self.true_negative)
        return np.where(said, if_positive, if_negative).astype(np.float64)

    def total(self, tp: np.ndarray, fp: np.ndarray, pos: float, neg: float) -> np.ndarray:
        """Money summed over rows from confusion counts; ``pos``/``neg`` count actual labels."""
        fn, tn = pos - tp, neg - fp
        return (
            tp * self.true_positive
            + fp * self.false_positive
            + tn * self.true_negative
            + fn * self.false_negative
        )


@dataclass(frozen=True)
class FairnessLimit:
    """At most ``limit`` of ``metric`` between the groups of ``attribute``."""

    attribute: str
    metric: Metric
    limit: float

    @property
    def key(self) -> str:
        return f"{self.attribute}:{self.metric}"


@dataclass
class DecisionResult:
    """The chosen decision and what it earns and measures on the rows it was chosen on.

    Attributes:
        decision: the rule to apply to new rows.
        value_per_row: mean money per row at the decision.
        baseline_value_per_row: mean money per row at threshold 0.5, no groups.
        gaps: measured gap per limit key ``"attribute:metric"``.
        feasible: whether every limit is met after its margin.
        binding: key of the limit that constrained the choice (or could not be met).
        effective_limits: limit minus margin per limit key, as enforced.
    """

    decision: Decision
    value_per_row: float
    baseline_value_per_row: float
    gaps: dict[str, float]
    feasible: bool
    binding: str | None
    effective_limits: dict[str, float]


@dataclass(frozen=True)
class _Groups:
    """One sensitive attribute encoded once: group codes and per-group counts."""

    labels: np.ndarray  # (G,) str
    codes: np.ndarray  # (N,) int
    rows: np.ndarray  # (G,)
    pos: np.ndarray  # (G,) actual positives
    neg: np.ndarray  # (G,) actual negatives
    eligible: np.ndarray  # (G,) bool: counted in gaps and margins


@dataclass(frozen=True)
class _Assessment:
    """Value and per-limit gap / effective limit of one decision."""

    value: float  # total money over the rows
    gaps: dict[str, float]
    effective: dict[str, float]

    def met(self) -> bool:
        return all(self.gaps[k] <= self.effective[k] for k in self.gaps)


def _encode(groups: np.ndarray, y: np.ndarray, min_rows: int) -> _Groups:
    labels, codes = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    count = len(labels)
    rows = np.bincount(codes, minlength=count).astype(np.float64)
    pos = np.bincount(codes, weights=y, minlength=count)
    eligible = rows >= min_rows
    if eligible.sum() < 2:
        eligible = np.ones(count, dtype=bool)
    return _Groups(labels, codes, rows, pos, rows - pos, eligible)


def _rate_gap(hits: np.ndarray, totals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Max-minus-min rate over groups and the Agresti-Caffo error of that difference.

    Args:
        hits: rows counted by the rate, (..., G).
        totals: rows in each group's denominator, (G,). An empty group's rate is 0,
            as in scikit-learn's normalised confusion matrix.

    Returns:
        The gap and its standard error, both (...,).
    """
    hits = np.asarray(hits, dtype=np.float64)
    totals = np.broadcast_to(np.asarray(totals, dtype=np.float64), hits.shape)
    if hits.shape[-1] < 2:
        return np.zeros(hits.shape[:-1]), np.zeros(hits.shape[:-1])
    rates = np.divide(hits, totals, out=np.zeros(hits.shape), where=totals > 0)
    ends = np.stack([rates.argmax(-1), rates.argmin(-1)], axis=-1)  # (..., 2)
    end_rates = np.take_along_axis(rates, ends, -1)
    n = np.take_along_axis(totals, ends, -1) + 2.0
    shrunk = (np.take_along_axis(hits, ends, -1) + 1.0) / n
    se = np.sqrt((shrunk * (1.0 - shrunk) / n).sum(-1))
    return end_rates[..., 0] - end_rates[..., 1], se


def _limit_gap(
    metric: str, tp: np.ndarray, fp: np.ndarray, groups: _Groups
) -> tuple[np.ndarray, np.ndarray]:
    """Gap and standard error of ``metric`` from predicted-positive counts per group, (..., G)."""
    keep = groups.eligible
    if metric == _DPD:
        return _rate_gap((tp + fp)[..., keep], groups.rows[keep])
    if metric == _EOD:
        tpr_gap, tpr_se = _rate_gap(tp[..., keep], groups.pos[keep])
        fpr_gap, fpr_se = _rate_gap(fp[..., keep], groups.neg[keep])
        return np.maximum(tpr_gap, fpr_gap), np.maximum(tpr_se, fpr_se)
    raise ValueError(f"unknown fairness metric '{metric}'; use '{_DPD}' or '{_EOD}'")


def _group_counts(y: np.ndarray, pred: np.ndarray, groups: _Groups) -> tuple[np.ndarray, ...]:
    """Predicted positives per group among actual positives (tp) and negatives (fp), (G,)."""
    count = len(groups.labels)
    tp = np.bincount(groups.codes, weights=pred * y, minlength=count)
    fp = np.bincount(groups.codes, weights=pred * (1.0 - y), minlength=count)
    return tp, fp


def demographic_parity_gap(y_pred: np.ndarray, groups: np.ndarray, min_rows: int = 0) -> float:
    """fairlearn's ``demographic_parity_difference`` (between groups).

    Args:
        y_pred: 0/1 decisions, (N,).
        groups: group label per row, (N,).
        min_rows: leave out groups with fewer rows (0 keeps all, as fairlearn does).
    """
    pred = np.asarray(y_pred, dtype=np.float64)
    encoded = _encode(groups, np.zeros_like(pred), min_rows)
    tp, fp = _group_counts(np.zeros_like(pred), pred, encoded)
    return float(_limit_gap(_DPD, tp, fp, encoded)[0])


def equalized_odds_gap(
    y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray, min_rows: int = 0
) -> float:
    """fairlearn's ``equalized_odds_difference`` (between groups, worst case).

    Args:
        y_true: 0/1 labels, (N,).
        y_pred: 0/1 decisions, (N,).
        groups: group label per row, (N,).
        min_rows: leave out groups with fewer rows (0 keeps all, as fairlearn does).
    """
    y = np.asarray(y_true, dtype=np.float64)
    encoded = _encode(groups, y, min_rows)
    tp, fp = _group_counts(y, np.asarray(y_pred, dtype=np.float64), encoded)
    return float(_limit_gap(_EOD, tp, fp, encoded)[0])


def _threshold_grid(proba: np.ndarray, grid: int) -> np.ndarray:
    """Quantiles of ``proba`` plus 0.5, sorted and unique."""
    return np.unique(np.append(np.quantile(proba, np.linspace(0.0, 1.0, grid)), 0.5))


def _counts_at(
    y: np.ndarray, proba: np.ndarray, codes: np.ndarray, count: int, thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Predicted positives among actual positives and negatives at every threshold, (T, G).

    A row is positive at threshold j when ``proba >= thresholds[j]``, i.e. for all j below
    ``searchsorted(thresholds, proba, 'right')``; histogram that index, then sum from above.
    """
    size = len(thresholds)
    cells = np.searchsorted(thresholds, proba, side="right") * count + codes
    out = []
    for weights in (y, 1.0 - y):
        hist = np.bincount(cells, weights=weights, minlength=(size + 1) * count)
        above = np.cumsum(hist.reshape(size + 1, count)[::-1], axis=0)[::-1]
        out.append(above[1:])
    return out[0], out[1]


@dataclass(frozen=True)
class _Search:
    """Everything the per-group search needs, fixed for one call."""

    y: np.ndarray
    proba: np.ndarray
    value: ValueMatrix
    encoded: dict[str, _Groups]
    limits: list[FairnessLimit]
    margin_z: float

    @property
    def attribute(self) -> str:
        """The attribute per-group thresholds are set on: the first limit's."""
        return self.limits[0].attribute


def _predict(s: _Search, decision: Decision) -> np.ndarray:
    """``decision.apply`` on the search rows via group codes (no per-row lookups), (N,)."""
    if not decision.group_thresholds:
        return (s.proba >= decision.threshold).astype(np.float64)
    groups = s.encoded[s.attribute]
    by_code = [decision.group_thresholds.get(str(g), decision.threshold) for g in groups.labels]
    return (s.proba >= np.asarray(by_code)[groups.codes]).astype(np.float64)


def _assess(s: _Search, decision: Decision) -> _Assessment:
    """Value and every limit's gap and effective limit for one decision."""
    pred = _predict(s, decision)
    gaps, effective = {}, {}
    for lim in s.limits:
        tp, fp = _group_counts(s.y, pred, s.encoded[lim.attribute])
        gap, se = _limit_gap(lim.metric, tp, fp, s.encoded[lim.attribute])
        gaps[lim.key], effective[lim.key] = float(gap), float(lim.limit - s.margin_z * se)
    return _Assessment(float(s.value.per_row(s.y, pred).sum()), gaps, effective)


def _best_index(values: np.ndarray, allowed: np.ndarray, thresholds: np.ndarray) -> int | None:
    """Most valuable allowed threshold; ties go to the one closest to 0.5."""
    if not allowed.any():
        return None
    best = values[allowed].max()
    tied = allowed & (values >= best - 1e-9 * max(1.0, abs(best)))
    return int(np.argmin(np.where(tied, np.abs(thresholds - 0.5), np.inf)))


@dataclass(frozen=True)
class _GroupOptions:
    """One group's candidate thresholds and what each gives."""

    thresholds: np.ndarray  # (T,)
    tp: np.ndarray  # (T,)
    fp: np.ndarray  # (T,)
    rates: np.ndarray  # (T, D): selection rate, or TPR and FPR
    value: np.ndarray  # (T,) money summed over the group's rows


def _group_options(
    y: np.ndarray, proba: np.ndarray, value: ValueMatrix, metric: str, grid: int
) -> _GroupOptions:
    thresholds = _threshold_grid(proba, grid)
    tp, fp = _counts_at(y, proba, np.zeros(len(y), dtype=np.int64), 1, thresholds)
    tp, fp = tp[:, 0], fp[:, 0]
    pos, neg = float(y.sum()), float(len(y) - y.sum())
    if metric == _DPD:
        rates = ((tp + fp) / len(y))[:, None]
    else:
        rates = np.stack([tp / max(pos, 1.0), fp / max(neg, 1.0)], axis=1)
    return _GroupOptions(thresholds, tp, fp, rates, value.total(tp, fp, pos, neg))


@dataclass(frozen=True)
class _Targets:
    """A regular grid of target rates, each with a band around it, at several band widths."""

    axis: np.ndarray  # (A,) target rates along each dimension
    half: np.ndarray  # (S, A) or (S, A, A): half-width of the band at each target


def _targets(lim: FairnessLimit, groups: _Groups, margin_z: float, grid: int) -> _Targets:
    """Target rates to sweep: selection rate (DPD) or TPR x FPR (EOD), with their bands.

    The widest band is half the effective limit two of the smallest counted groups would
    get at the target rate, so groups inside it differ by about the enforced limit.
    """
    axis = np.linspace(0.0, 1.0, grid)
    if lim.metric == _DPD:
        rates, sizes = [axis], [groups.rows[groups.eligible]]
    else:
        rates = list(np.meshgrid(axis, axis, indexing="ij"))
        sizes = [groups.pos[groups.eligible], groups.neg[groups.eligible]]
    se = np.zeros(rates[0].shape)
    for rate, size in zip(rates, sizes, strict=True):
        smallest = np.sort(size)[:2] + 2.0
        se = np.maximum(se, np.sqrt(rate * (1 - rate) * (1 / smallest).sum()))
    half = np.maximum(0.0, lim.limit - margin_z * se) / 2
    return _Targets(axis, np.stack([half * scale for scale in _BAND_SCALES]))


def _band_picks(options: _GroupOptions, targets: _Targets) -> np.ndarray:
    """Per target, the most valuable threshold with rates inside its band, -1 if none, (R,).

    Each threshold writes its index into the few targets whose band holds it, from the
    least to the most valuable, so the most valuable one is left.
    """
    best = np.full(targets.half.shape, -1, dtype=np.int64)
    step, reach = targets.axis[1] - targets.axis[0], targets.half.max()
    for t in np.argsort(options.value, kind="stable"):
        point = options.rates[t]
        box = tuple(
            slice(max(0, int(np.ceil((q - reach) / step))), int(np.floor((q + reach) / step)) + 1)
            for q in point
        )
        near = [np.abs(targets.axis[b] - q) for b, q in zip(box, point, strict=True)]
        distance = near[0] if len(near) == 1 else np.maximum.outer(near[0], near[1])
        view = best[(slice(None), *box)]
        view[distance[None] <= targets.half[(slice(None), *box)]] = t
    return best.reshape(-1)


def _split_rows(groups: _Groups) -> list[np.ndarray]:
    """Row indices of each counted group, in label order."""
    order = np.argsort(groups.codes, kind="stable")
    parts = np.split(order, np.cumsum(groups.rows.astype(np.int64))[:-1])
    return [parts[g] for g in np.flatnonzero(groups.eligible)]


def _combos(
    s: _Search, options: list[_GroupOptions], groups: _Groups, fallback: float, grid: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate picks, one threshold index per counted group.

    Returns:
        The picks (K, Ge), with the unconstrained optimum (every group at its best) last;
        their total values (K,); whether they meet the limits on the group attribute (K,),
        judged exactly from per-group counts.
    """
    if len(options) == 2:
        # two groups (the common case): every pair of thresholds, exactly
        first, second = np.meshgrid(
            np.arange(len(options[0].thresholds)),
            np.arange(len(options[1].thresholds)),
            indexing="ij",
        )
        banded = np.stack([first.ravel(), second.ravel()], axis=1)
    else:
        targets = _targets(s.limits[0], groups, s.margin_z, grid)
        banded = np.stack([_band_picks(o, targets) for o in options], axis=1)
        banded = np.unique(banded[(banded >= 0).all(1)], axis=0)
    free = np.array([[int(np.argmax(o.value)) for o in options]])
    picks = np.concatenate([banded, free])
    rest = ~groups.eligible[groups.codes]  # rows of small groups keep the global threshold
    rest_pred = ((s.proba >= fallback) & rest).astype(np.float64)
    tp_rest, fp_rest = _group_counts(s.y, rest_pred, groups)
    tp, fp = np.tile(tp_rest, (len(picks), 1)), np.tile(fp_rest, (len(picks), 1))
    values = np.full(len(picks), s.value.per_row(s.y[rest], rest_pred[rest]).sum())
    for j, (g, o) in enumerate(zip(np.flatnonzero(groups.eligible), options, strict=True)):
        tp[:, g], fp[:, g] = o.tp[picks[:, j]], o.fp[picks[:, j]]
        values += o.value[picks[:, j]]
    met = np.ones(len(picks), dtype=bool)
    for lim in s.limits:
        if lim.attribute == s.attribute:
            gap, se = _limit_gap(lim.metric, tp, fp, groups)
            met &= gap <= lim.limit - s.margin_z * se
    return picks, values, met


def _search_groups(s: _Search, grid: int, fallback: float) -> tuple[Decision | None, Decision]:
    """Per-group thresholds on the first limit's attribute.

    Returns:
        The most valuable decision meeting every limit (None if none does) and the
        unconstrained one (every group at its most valuable threshold).
    """
    attribute = s.attribute
    groups = s.encoded[attribute]
    metric = s.limits[0].metric
    options = [
        _group_options(s.y[rows], s.proba[rows], s.value, metric, grid)
        for rows in _split_rows(groups)
    ]
    picks, values, met = _combos(s, options, groups, fallback, grid)
    labels = groups.labels[groups.eligible]

    def decision(k: int) -> Decision:
        chosen = zip(labels, options, picks[k], strict=True)
        return Decision(fallback, attribute, {str(g): float(o.thresholds[i]) for g, o, i in chosen})

    for k in np.argsort(-values, kind="stable"):
        if met[k] and _assess(s, decision(int(k))).met():
            return decision(int(k)), decision(len(picks) - 1)
    return None, decision(len(picks) - 1)


def _match_fallback(s: _Search, decision: Decision) -> Decision:
    """Give small and unseen groups a threshold selecting the counted groups' share of rows.

    The new global threshold is kept only if every limit is still met.

    Args:
        s: the search.
        decision: a per-group decision whose global threshold came from the global search.
    """
    groups = s.encoded[s.attribute]
    counted = groups.eligible[groups.codes]
    proba = np.sort(s.proba[counted])[::-1]
    chosen = int(_predict(s, decision)[counted].sum())
    threshold = proba[chosen - 1] if chosen else np.nextafter(proba[0], np.inf)
    matched = Decision(float(threshold), s.attribute, dict(decision.group_thresholds))
    return matched if _assess(s, matched).met() else decision


def _check_inputs(
    y_true: np.ndarray,
    proba_pos: np.ndarray,
    sensitive: dict[str, np.ndarray],
    limits: list[FairnessLimit],
    grid: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities as float arrays, (N,); raises ValueError on bad input."""
    y = np.asarray(y_true, dtype=np.float64).ravel()
    proba = np.asarray(proba_pos, dtype=np.float64).ravel()
    if len(y) == 0 or len(y) != len(proba):
        raise ValueError(f"need as many labels as probabilities, got {len(y)} and {len(proba)}")
    if not np.isin(y, (0.0, 1.0)).all() or not np.isfinite(proba).all():
        raise ValueError("labels must be 0/1 and probabilities finite")
    if grid < 2:
        raise ValueError(f"grid must be at least 2, got {grid}")
    for lim in limits:
        if lim.metric not in (_DPD, _EOD):
            raise ValueError(f"unknown fairness metric '{lim.metric}'; use '{_DPD}' or '{_EOD}'")
        if lim.attribute not in sensitive:
            known = ", ".join(sorted(sensitive)) or "none"
            raise ValueError(f"no sensitive column '{lim.attribute}' (have: {known})")
        if len(sensitive[lim.attribute]) != len(y):
            raise ValueError(f"sensitive column '{lim.attribute}' has the wrong length")
    return y, proba


def _search_global(s: _Search, grid: int) -> tuple[Decision | None, Decision]:
    """The best single threshold meeting every limit (None if none does), and the best one."""
    thresholds = _threshold_grid(s.proba, grid)
    tp, fp = _counts_at(s.y, s.proba, np.zeros(len(s.y), dtype=np.int64), 1, thresholds)
    values = s.value.total(tp[:, 0], fp[:, 0], s.y.sum(), len(s.y) - s.y.sum())
    met = np.ones(len(thresholds), dtype=bool)
    for lim in s.limits:
        groups = s.encoded[lim.attribute]
        tp, fp = _counts_at(s.y, s.proba, groups.codes, len(groups.labels), thresholds)
        gap, se = _limit_gap(lim.metric, tp, fp, groups)
        met &= gap <= lim.limit - s.margin_z * se
    best = _best_index(values, met, thresholds)
    free = _best_index(values, np.ones(len(thresholds), dtype=bool), thresholds)
    assert free is not None  # every threshold is allowed
    chosen = None if best is None else Decision(float(thresholds[best]))
    return chosen, Decision(float(thresholds[free]))


def _binding(chosen: _Assessment, free: _Assessment, feasible: bool) -> str | None:
    """The limit that shaped the choice.

    Feasible: of the limits the unconstrained optimum breaks, the one with the least slack
    at the choice (None if it breaks none). Infeasible: the most violated limit.
    """
    if not feasible:
        return max(chosen.gaps, key=lambda k: chosen.gaps[k] - chosen.effective[k])
    broken = [k for k in free.gaps if free.gaps[k] > free.effective[k]]
    if not broken:
        return None
    return min(broken, key=lambda k: chosen.effective[k] - chosen.gaps[k])


def choose_decision(
    y_true: np.ndarray,
    proba_pos: np.ndarray,
    value: ValueMatrix,
    sensitive: dict[str, np.ndarray],
    limits: list[FairnessLimit],
    group_thresholds: bool,
    margin_z: float = 1.96,
    grid: int = 101,
) -> DecisionResult:
    """The most valuable decision rule that meets every fairness limit after its margin.

    Args:
        y_true: 0/1 labels of the validation rows, (N,).
        proba_pos: p(positive) of those rows, (N,).
        value: money per outcome.
        sensitive: group label per row for each attribute, (N,) each; may be empty.
        limits: fairness limits, each on one attribute of ``sensitive``.
        group_thresholds: allow one threshold per group of the first limit's attribute.
        margin_z: z-score of the safety margin (see the module docstring).
        grid: thresholds (quantiles of ``proba_pos``, plus 0.5) and target rates to try.

    Returns:
        The decision and its value, gaps and effective limits on these rows. When no rule
        meets the limits, the most valuable single threshold, with ``feasible`` False.

    Raises:
        ValueError: mismatched lengths, labels not 0/1, or a limit on a missing attribute.
    """
    y, proba = _check_inputs(y_true, proba_pos, sensitive, limits, grid)
    attributes = dict.fromkeys(lim.attribute for lim in limits)
    encoded = {a: _encode(sensitive[a], y, MIN_GROUP_ROWS) for a in attributes}
    s = _Search(y, proba, value, encoded, list(limits), margin_z)
    chosen, best_single = _search_global(s, grid)
    free = best_single  # the unconstrained optimum, to tell which limit was binding
    if group_thresholds and limits:
        grouped, grouped_free = _search_groups(s, grid, (chosen or best_single).threshold)
        if grouped:
            grouped = _match_fallback(s, grouped)
        if grouped and (not chosen or _assess(s, grouped).value > _assess(s, chosen).value):
            chosen = grouped
        if _assess(s, grouped_free).value > _assess(s, free).value:
            free = grouped_free
    final = _assess(s, chosen or best_single)
    return DecisionResult(
        decision=chosen or best_single,
        value_per_row=final.value / len(y),
        baseline_value_per_row=_assess(s, Decision(0.5)).value / len(y),
        gaps=final.gaps,
        feasible=chosen is not None,
        binding=_binding(final, _assess(s, free), chosen is not None) if limits else None,
        effective_limits=final.effective,
    )
