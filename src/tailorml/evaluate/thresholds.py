"""Choose the decision threshold on p(positive) that earns the most within every constraint.

docs/scenario.md ("How a decision is chosen") describes the method. On the validation split:

1. Candidate decisions: every single threshold on a grid (quantiles of the probabilities,
   plus 0.5, the argmax rule); with ``group_thresholds``, combinations of one threshold per
   judged group of the first limit's attribute (every pair for two groups; for more,
   the most valuable threshold of each group within a band around a common target rate).
2. Each constraint a threshold moves (fairness gaps; accuracy or macro F1) is judged twice:
   as measured, ``gap <= limit`` and ``quality >= floor``; with a margin, so that it still
   holds on rows the search never saw, ``gap <= limit - z * se`` and
   ``quality - z * se >= floor``. ``limit - z * se`` (``floor + z * se``) is reported as
   the effective limit (floor).
3. The choice is the most valuable decision meeting every constraint with its margin
   (``certified``); else the most valuable one meeting them as measured (``feasible``);
   else the one with the least total violation, and ``conflict`` says which constraints
   it breaks and by how much. The argmax rule is a candidate, so a model whose argmax
   decisions meet the constraints as measured keeps them after tuning.

``se`` of a gap is the Agresti-Caffo standard error of the difference between the two
groups that make it: with ``x`` hits out of ``n`` rows in a group,
``p~ = (x + 1) / (n + 2)`` and ``se = sqrt(p1~(1 - p1~) / (n1 + 2) + p2~(1 - p2~) / (n2 + 2))``,
which stays above zero when a rate is 0 or 1, so a limit of 0 can never be certified
from a finite sample. For equalized odds the rates are TPR (``n`` = the group's
positives) and FPR (``n`` = its negatives) and the larger of the two errors is used.
``se`` of accuracy is the binomial ``sqrt(a (1 - a) / n)``, which approximates it for
macro F1 too.

Rows of groups that are not judged (evaluate/groups.py) get the global threshold, as
unseen groups do: the one selecting the judged groups' share of rows, if the constraints
still hold, else the best single threshold meeting them.

With ``margin_z`` = 1.645 the margin bounds the population figure one-sided at about 95%
for a fixed rule. A test split as small as the validation split adds its own noise, about
sqrt(2) * se; to bound the figure measured there too, use ``margin_z`` near 2.3.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from tailorml.evaluate.decision import Decision
from tailorml.evaluate.groups import (
    DEFAULT_MIN_GROUP_SIZE,
    DPD,
    EOD,
    Groups,
    GroupScope,
    encode_groups,
    group_counts,
    judge_limit,
    limit_gap,
)

MIN_GROUP_ROWS = DEFAULT_MIN_GROUP_SIZE
Metric = Literal["demographic_parity_difference", "equalized_odds_difference"]
# Narrower bands leave room for the exact margin at the extreme groups.
_BAND_SCALES = (1.0, 0.85, 0.7, 0.55, 0.4, 0.25, 0.1)
_MAX_EXACT_CHECKS = 2_000  # grouped decisions checked exactly per tier (other attributes)
_TOLERANCE = 1e-12


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
        earned = tp * self.true_positive + fp * self.false_positive
        return earned + (neg - fp) * self.true_negative + (pos - tp) * self.false_negative


@dataclass(frozen=True)
class FairnessLimit:
    """At most ``limit`` of ``metric`` between the judged groups of ``attribute``.

    ``name`` keys the limit in the result (default ``"attribute:metric"``), so a caller
    gets its figures and messages under its own constraint names.
    """

    attribute: str
    metric: Metric
    limit: float
    scope: GroupScope = GroupScope()
    name: str | None = None

    @property
    def key(self) -> str:
        return self.name or f"{self.attribute}:{self.metric}"


@dataclass(frozen=True)
class QualityFloor:
    """At least ``minimum`` of a quality metric that decisions move."""

    metric: Literal["accuracy", "f1_macro"]
    minimum: float

    @property
    def key(self) -> str:
        return f"min_{self.metric}"

    def figure(
        self, tp: np.ndarray, fp: np.ndarray, pos: float, neg: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """The metric and its standard error from confusion counts, (...,) each."""
        tp, fp = np.asarray(tp, dtype=np.float64), np.asarray(fp, dtype=np.float64)
        n = max(pos + neg, 1.0)
        fn, tn = pos - tp, neg - fp
        if self.metric == "accuracy":
            figure = (tp + tn) / n
        else:  # the mean of both classes' F1; a class never predicted nor present scores 0
            f1_pos = np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros(tp.shape),
                               where=(2 * tp + fp + fn) > 0)  # fmt: skip
            f1_neg = np.divide(2 * tn, 2 * tn + fn + fp, out=np.zeros(tp.shape),
                               where=(2 * tn + fn + fp) > 0)  # fmt: skip
            figure = (f1_pos + f1_neg) / 2
        return figure, np.sqrt(np.clip(figure * (1 - figure), 0, None) / n)


@dataclass
class DecisionResult:
    """The chosen decision and what it earns and measures on the rows it was chosen on."""

    decision: Decision
    value_per_row: float  # mean money per row
    baseline_value_per_row: float  # at threshold 0.5, no groups
    gaps: dict[str, float]  # measured, per judged limit key
    feasible: bool  # every constraint met as measured on these rows
    binding: str | None  # the constraint that shaped the choice (or was not met)
    effective_limits: dict[str, float]  # limit minus margin, per judged limit key
    certified: bool = True  # every constraint met with its margin
    quality: dict[str, float] = field(default_factory=dict)  # per quality floor key
    effective_floors: dict[str, float] = field(default_factory=dict)  # floor plus margin
    not_judged: list[str] = field(default_factory=list)  # fewer than two groups to judge
    conflict: list[str] = field(default_factory=list)  # when infeasible: each broken one


@dataclass(frozen=True)
class _Scores:
    """Value and every constraint's slack for K candidate decisions.

    ``slack`` is ``limit - gap`` or ``figure - floor`` (met as measured when >= 0);
    ``margin`` is ``z * se`` (met with the margin when slack >= margin); ``figure``
    is the gap or quality figure itself.
    """

    value: np.ndarray  # (K,) money summed over rows
    figure: dict[str, np.ndarray]  # key -> (K,)
    slack: dict[str, np.ndarray]  # key -> (K,)
    margin: dict[str, np.ndarray]  # key -> (K,)

    def met(self, certified: bool, keys: list[str] | None = None) -> np.ndarray:
        """Whether each decision meets the constraints (all, or ``keys``), (K,)."""
        ok = np.ones(len(self.value), dtype=bool)
        for key in self.slack if keys is None else keys:
            need = self.margin[key] if certified else 0.0
            ok &= self.slack[key] >= need - _TOLERANCE
        return ok

    def violation(self) -> np.ndarray:
        """Total shortfall over the constraints as measured, (K,)."""
        return sum(
            (np.maximum(0.0, -slack) for slack in self.slack.values()), np.zeros(len(self.value))
        )


@dataclass(frozen=True)
class _Search:
    """Everything the search needs, fixed for one call."""

    y: np.ndarray
    proba: np.ndarray
    value: ValueMatrix
    encoded: dict[str, Groups]  # by limit key; judged limits only
    limits: list[FairnessLimit]  # judged limits only
    floors: list[QualityFloor]
    margin_z: float
    pos: float  # actual positives
    neg: float  # actual negatives

    @property
    def group_limit(self) -> FairnessLimit:
        """The limit whose attribute and judged groups per-group thresholds are set on."""
        return self.limits[0]

    @property
    def groups(self) -> Groups:
        return self.encoded[self.group_limit.key]


def _score(
    s: _Search, value: np.ndarray, counts: dict[str, tuple[np.ndarray, np.ndarray]],
    total_tp: np.ndarray, total_fp: np.ndarray,
) -> _Scores:  # fmt: skip
    """Scores from per-group counts of each limit (``counts[key]`` = tp, fp, (K, G)) and
    total counts, (K,). Limits missing from ``counts`` are left out."""
    figure, slack, margin = {}, {}, {}
    for lim in s.limits:
        if lim.key in counts:
            gap, se = limit_gap(lim.metric, *counts[lim.key], s.encoded[lim.key])
            figure[lim.key], slack[lim.key] = gap, lim.limit - gap
            margin[lim.key] = s.margin_z * se
    for floor in s.floors:
        got, se = floor.figure(total_tp, total_fp, s.pos, s.neg)
        figure[floor.key], slack[floor.key] = got, got - floor.minimum
        margin[floor.key] = s.margin_z * se
    return _Scores(np.asarray(value, dtype=np.float64), figure, slack, margin)


def _predict(s: _Search, decision: Decision) -> np.ndarray:
    """``decision.apply`` on the search rows via group codes (no per-row lookups), (N,)."""
    if not decision.group_thresholds:
        return (s.proba >= decision.threshold).astype(np.float64)
    groups = s.groups
    by_code = [decision.group_thresholds.get(str(g), decision.threshold) for g in groups.labels]
    return (s.proba >= np.asarray(by_code)[groups.codes]).astype(np.float64)


def _assess(s: _Search, decision: Decision) -> _Scores:
    """Exact scores of one decision, (1,)."""
    pred = _predict(s, decision)
    counts = {}
    for lim in s.limits:
        tp, fp = group_counts(s.y, pred, s.encoded[lim.key])
        counts[lim.key] = (tp[None], fp[None])
    value = np.array([s.value.per_row(s.y, pred).sum()])
    return _score(s, value, counts, np.array([(pred * s.y).sum()]),
                  np.array([(pred * (1 - s.y)).sum()]))  # fmt: skip


def demographic_parity_gap(y_pred: np.ndarray, groups: np.ndarray, min_rows: int = 0) -> float:
    """fairlearn's ``demographic_parity_difference`` of 0/1 decisions and group labels,
    (N,) each, over groups of at least ``min_rows`` rows (0 keeps all, as fairlearn does);
    0 with fewer than two such groups."""
    judged = judge_limit(np.zeros(len(y_pred)), y_pred, groups, DPD, GroupScope(min_rows))
    return judged.gap or 0.0


def equalized_odds_gap(
    y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray, min_rows: int = 0
) -> float:
    """fairlearn's ``equalized_odds_difference`` (between groups, worst case); ``y_true``
    holds the 0/1 labels, the other arguments are those of :func:`demographic_parity_gap`."""
    return judge_limit(y_true, y_pred, groups, EOD, GroupScope(min_rows)).gap or 0.0


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


def _grid_counts(y: np.ndarray, proba: np.ndarray, grid: int) -> tuple[np.ndarray, ...]:
    """The thresholds to try (quantiles of ``proba`` plus 0.5, sorted and unique) and the
    predicted positives among actual positives and negatives at each, (T,) each."""
    thresholds = np.unique(np.append(np.quantile(proba, np.linspace(0.0, 1.0, grid)), 0.5))
    tp, fp = _counts_at(y, proba, np.zeros(len(y), dtype=np.int64), 1, thresholds)
    return thresholds, tp[:, 0], fp[:, 0]


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
    thresholds, tp, fp = _grid_counts(y, proba, grid)
    pos, neg = float(y.sum()), float(len(y) - y.sum())
    if metric == DPD:
        rates = ((tp + fp) / len(y))[:, None]
    else:
        rates = np.stack([tp / max(pos, 1.0), fp / max(neg, 1.0)], axis=1)
    return _GroupOptions(thresholds, tp, fp, rates, value.total(tp, fp, pos, neg))


def _targets(
    lim: FairnessLimit, groups: Groups, margin_z: float, grid: int
) -> tuple[np.ndarray, np.ndarray]:
    """Target rates to sweep: selection rate (DPD) or TPR x FPR (EOD), with their bands.

    The widest band is half the effective limit two of the smallest counted groups would
    get at the target rate, so groups inside it differ by about the enforced limit.

    Returns:
        The target rates along each dimension, (A,), and the half-width of the band at
        each target for each of the band widths, (S, A) or (S, A, A).
    """
    axis = np.linspace(0.0, 1.0, grid)
    if lim.metric == DPD:
        rates, sizes = [axis], [groups.rows[groups.eligible]]
    else:
        rates = list(np.meshgrid(axis, axis, indexing="ij"))
        sizes = [groups.pos[groups.eligible], groups.neg[groups.eligible]]
    se = np.zeros(rates[0].shape)
    for rate, size in zip(rates, sizes, strict=True):
        smallest = np.sort(size)[:2] + 2.0
        se = np.maximum(se, np.sqrt(rate * (1 - rate) * (1 / smallest).sum()))
    half = np.maximum(0.0, lim.limit - margin_z * se) / 2
    return axis, np.stack([half * scale for scale in _BAND_SCALES])


def _band_picks(options: _GroupOptions, axis: np.ndarray, half: np.ndarray) -> np.ndarray:
    """Per target, the most valuable threshold with rates inside its band, -1 if none, (R,).

    Each threshold writes its index into the few targets whose band holds it, from the
    least to the most valuable, so the most valuable one is left.
    """
    best = np.full(half.shape, -1, dtype=np.int64)
    step, reach = axis[1] - axis[0], half.max()
    for t in np.argsort(options.value, kind="stable"):
        point = options.rates[t]
        box = tuple(
            slice(max(0, int(np.ceil((q - reach) / step))), int(np.floor((q + reach) / step)) + 1)
            for q in point
        )
        near = [np.abs(axis[b] - q) for b, q in zip(box, point, strict=True)]
        distance = near[0] if len(near) == 1 else np.maximum.outer(near[0], near[1])
        view = best[(slice(None), *box)]
        view[distance[None] <= half[(slice(None), *box)]] = t
    return best.reshape(-1)


@dataclass(frozen=True)
class _Grouped:
    """Candidate per-group decisions: one threshold index per judged group, and scores.

    The scores cover the limits on the group attribute and the quality floors; limits on
    other attributes are checked exactly, decision by decision.
    """

    picks: np.ndarray  # (K, Ge), the unconstrained optimum (every group at its best) last
    options: list[_GroupOptions]
    scores: _Scores
    fallback: float
    attribute: str
    labels: np.ndarray  # (Ge,) the judged groups

    def decision(self, k: int) -> Decision:
        chosen = zip(self.labels, self.options, self.picks[k], strict=True)
        return Decision(self.fallback, self.attribute,
                        {str(g): float(o.thresholds[i]) for g, o, i in chosen})  # fmt: skip

    @property
    def free(self) -> Decision:
        """Every group at its most valuable threshold, whatever the constraints."""
        return self.decision(len(self.picks) - 1)


def _combos(s: _Search, grid: int, fallback: float) -> _Grouped:
    """Per-group threshold combinations on the group limit's attribute, scored."""
    groups = s.groups
    order = np.argsort(groups.codes, kind="stable")
    parts = np.split(order, np.cumsum(groups.rows.astype(np.int64))[:-1])  # rows of each group
    options = [
        _group_options(s.y[parts[g]], s.proba[parts[g]], s.value, s.group_limit.metric, grid)
        for g in np.flatnonzero(groups.eligible)
    ]
    if len(options) == 2:
        # two groups (the common case): every pair of thresholds, exactly
        banded = np.indices([len(o.thresholds) for o in options]).reshape(2, -1).T
    else:
        axis, half = _targets(s.group_limit, groups, s.margin_z, grid)
        banded = np.stack([_band_picks(o, axis, half) for o in options], axis=1)
        banded = np.unique(banded[(banded >= 0).all(1)], axis=0)
    free = np.array([[int(np.argmax(o.value)) for o in options]])
    picks = np.concatenate([banded, free])
    rest = ~groups.eligible[groups.codes]  # rows of groups not judged keep the global threshold
    rest_pred = ((s.proba >= fallback) & rest).astype(np.float64)
    tp_rest, fp_rest = group_counts(s.y, rest_pred, groups)
    tp, fp = np.tile(tp_rest, (len(picks), 1)), np.tile(fp_rest, (len(picks), 1))
    values = np.full(len(picks), s.value.per_row(s.y[rest], rest_pred[rest]).sum())
    for j, (g, o) in enumerate(zip(np.flatnonzero(groups.eligible), options, strict=True)):
        tp[:, g], fp[:, g] = o.tp[picks[:, j]], o.fp[picks[:, j]]
        values += o.value[picks[:, j]]
    same = {lim.key: (tp, fp) for lim in s.limits if lim.attribute == s.group_limit.attribute}
    scores = _score(s, values, same, tp.sum(1), fp.sum(1))
    return _Grouped(picks, options, scores, fallback, s.group_limit.attribute,
                    groups.labels[groups.eligible])  # fmt: skip


def _pick_grouped(s: _Search, grouped: _Grouped, certified: bool) -> Decision | None:
    """The most valuable per-group decision meeting every constraint (None if none does)."""
    met = grouped.scores.met(certified)
    order = [int(k) for k in np.argsort(-grouped.scores.value, kind="stable") if met[k]]
    exact = len(grouped.scores.slack) < len(s.limits) + len(s.floors)
    for k in order[:_MAX_EXACT_CHECKS] if exact else order[:1]:
        decision = grouped.decision(k)
        if not exact or _assess(s, decision).met(certified)[0]:
            return _match_fallback(s, decision, certified)
    return None


def _match_fallback(s: _Search, decision: Decision, certified: bool) -> Decision:
    """Give groups that are not judged a threshold selecting the judged groups' share of rows.

    The new global threshold is kept only if every constraint is still met.
    """
    groups = s.groups
    counted = groups.eligible[groups.codes]
    if counted.all():
        return decision
    proba = np.sort(s.proba[counted])[::-1]
    chosen = int(_predict(s, decision)[counted].sum())
    threshold = proba[chosen - 1] if chosen else np.nextafter(proba[0], np.inf)
    matched = Decision(float(threshold), s.group_limit.attribute, dict(decision.group_thresholds))
    return matched if _assess(s, matched).met(certified)[0] else decision


def _check_inputs(
    y_true: np.ndarray, proba_pos: np.ndarray, sensitive: dict[str, np.ndarray],
    limits: list[FairnessLimit], grid: int,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
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
        if lim.metric not in (DPD, EOD):
            raise ValueError(f"unknown fairness metric '{lim.metric}'; use '{DPD}' or '{EOD}'")
        if lim.attribute not in sensitive:
            known = ", ".join(sorted(sensitive)) or "none"
            raise ValueError(f"no sensitive column '{lim.attribute}' (have: {known})")
        if len(sensitive[lim.attribute]) != len(y):
            raise ValueError(f"sensitive column '{lim.attribute}' has the wrong length")
    return y, proba


@dataclass(frozen=True)
class _Global:
    """Every single threshold on the grid, scored on every constraint."""

    thresholds: np.ndarray  # (T,)
    scores: _Scores

    def decision(self, k: int) -> Decision:
        return Decision(float(self.thresholds[k]))

    @property
    def free(self) -> Decision:
        """The most valuable threshold, whatever the constraints."""
        best = self.best(np.ones(len(self.thresholds), dtype=bool))
        assert best is not None  # every threshold is allowed
        return best

    def best(self, allowed: np.ndarray) -> Decision | None:
        """The most valuable allowed threshold; ties go to the one closest to 0.5."""
        if not allowed.any():
            return None
        values = self.scores.value
        top = values[allowed].max()
        tied = allowed & (values >= top - 1e-9 * max(1.0, abs(top)))
        return self.decision(int(np.argmin(np.where(tied, np.abs(self.thresholds - 0.5), np.inf))))


def _global(s: _Search, grid: int) -> _Global:
    thresholds, tp, fp = _grid_counts(s.y, s.proba, grid)
    counts = {
        key: _counts_at(s.y, s.proba, groups.codes, len(groups.labels), thresholds)
        for key, groups in s.encoded.items()
    }
    return _Global(thresholds, _score(s, s.value.total(tp, fp, s.pos, s.neg), counts, tp, fp))


def _compromise(s: _Search, candidates: list[_Global | _Grouped]) -> Decision:
    """The decision with the least total shortfall (ties: the most valuable)."""

    def shortfall(decision: Decision) -> tuple[float, float]:
        exact = _assess(s, decision)
        return float(exact.violation()[0]), -float(exact.value[0])

    least = [c.decision(int(np.lexsort((-c.scores.value, c.scores.violation()))[0]))
             for c in candidates]  # fmt: skip
    return min(least, key=shortfall)


def _conflict(s: _Search, candidates: list[_Global | _Grouped], at: _Scores) -> list[str]:
    """Which constraints cannot hold together, and by how much each misses at ``at``."""
    sets = [c.scores for c in candidates]
    broken = [k for k in at.slack if at.slack[k][0] < -_TOLERANCE]
    lines = []
    for key in broken:
        where = [(sc, sc.met(False, [key])) for sc in sets if key in sc.slack]
        if not any(ok.any() for _, ok in where):
            best = max(float(sc.slack[key].max()) for sc, _ in where)
            lines.append(f"{key} cannot be met by any decision on its own (short by {-best:.4f})")
            continue
        for other in at.slack:
            found = [(sc, ok) for sc, ok in where if other in sc.slack and ok.any()]
            if other == key or any((ok & sc.met(False, [other])).any() for sc, ok in found):
                continue
            miss = min(float(-sc.slack[other][ok].max()) for sc, ok in found)
            lines.append(f"{key} and {other} cannot hold together: where {key} holds, "
                         f"{other} misses by at least {miss:.4f}")  # fmt: skip
    misses = [
        f"{key} {at.figure[key][0]:.4f} ({-at.slack[key][0]:.3g} "
        f"{'above' if key in s.encoded else 'below'} its bound)"
        for key in broken
    ]
    if misses:
        lines.append(f"at the best compromise (least total shortfall): {', '.join(misses)}")
    return lines


def _binding(chosen: _Scores, free: _Scores, certified: bool, feasible: bool) -> str | None:
    """The constraint that shaped the choice.

    Certified: of the constraints the unconstrained optimum breaks (with margin), the one
    with the least room left at the choice (None if it breaks none). Feasible only: the
    constraint furthest from its margin. Infeasible: the most violated one.
    """
    keys = list(chosen.slack)
    if not keys:
        return None
    if not feasible:
        return max(keys, key=lambda k: -chosen.slack[k][0])
    room = {k: float(chosen.slack[k][0] - chosen.margin[k][0]) for k in keys}
    if not certified:
        return min(keys, key=lambda k: room[k])
    broken = [k for k in keys if free.slack[k][0] < free.margin[k][0] - _TOLERANCE]
    return min(broken, key=lambda k: room[k]) if broken else None


def choose_decision(
    y_true: np.ndarray, proba_pos: np.ndarray, value: ValueMatrix,
    sensitive: dict[str, np.ndarray], limits: list[FairnessLimit], group_thresholds: bool,
    margin_z: float = 1.96, grid: int = 101, floors: list[QualityFloor] | None = None,
) -> DecisionResult:  # fmt: skip
    """The most valuable decision rule that meets every constraint (see the module docstring).

    Args:
        y_true: 0/1 labels of the validation rows, (N,).
        proba_pos: p(positive) of those rows, (N,).
        sensitive: group label per row for each attribute, (N,) each; may be empty.
        limits: fairness limits, each on one attribute of ``sensitive``.
        group_thresholds: allow one threshold per judged group of the first judged
            limit's attribute.
        margin_z: z-score of the safety margin.
        grid: thresholds (quantiles of ``proba_pos``, plus 0.5) and target rates to try.
        floors: quality floors (accuracy, macro F1) the decisions must keep.

    Raises:
        ValueError: mismatched lengths, labels not 0/1, or a limit on a missing attribute.
    """
    y, proba = _check_inputs(y_true, proba_pos, sensitive, limits, grid)
    encoded = {lim.key: encode_groups(sensitive[lim.attribute], y, lim.scope) for lim in limits}
    judged = [lim for lim in limits if encoded[lim.key].judged]
    s = _Search(y, proba, value, {lim.key: encoded[lim.key] for lim in judged}, judged,
                list(floors or []), margin_z, float(y.sum()), float(len(y) - y.sum()))  # fmt: skip
    single = _global(s, grid)
    grouped = None
    if group_thresholds and judged:
        fallback = single.best(single.scores.met(True)) or single.free
        grouped = _combos(s, grid, fallback.threshold)
    candidates: list[_Global | _Grouped] = [single] if grouped is None else [single, grouped]
    for certified in (True, False):
        chosen = _choose(s, single, grouped, certified)
        if chosen is not None:
            return _result(s, chosen, candidates, certified, True, limits)
    return _result(s, _compromise(s, candidates), candidates, False, False, limits)


def _choose(
    s: _Search, single: _Global, grouped: _Grouped | None, certified: bool
) -> Decision | None:
    """The most valuable single or per-group decision meeting every constraint."""
    chosen = single.best(single.scores.met(certified))
    better = _pick_grouped(s, grouped, certified) if grouped is not None else None
    if better and (not chosen or _assess(s, better).value[0] > _assess(s, chosen).value[0]):
        return better
    return chosen


def _result(
    s: _Search, decision: Decision, candidates: list[_Global | _Grouped],
    certified: bool, feasible: bool, limits: list[FairnessLimit],
) -> DecisionResult:  # fmt: skip
    """The DecisionResult of the chosen decision."""
    final = _assess(s, decision)
    # the unconstrained optimum: the first candidate set's on a tie
    free = max((_assess(s, c.free) for c in candidates), key=lambda scores: scores.value[0])
    fair = [lim.key for lim in s.limits]
    return DecisionResult(
        decision=decision,
        value_per_row=float(final.value[0]) / len(s.y),
        baseline_value_per_row=float(_assess(s, Decision(0.5)).value[0]) / len(s.y),
        gaps={k: float(final.figure[k][0]) for k in fair},
        feasible=feasible,
        binding=_binding(final, free, certified, feasible),
        effective_limits={
            k: float(final.slack[k][0] + final.figure[k][0] - final.margin[k][0]) for k in fair
        },  # fmt: skip
        certified=certified,
        quality={f.key: float(final.figure[f.key][0]) for f in s.floors},
        effective_floors={f.key: f.minimum + float(final.margin[f.key][0]) for f in s.floors},
        not_judged=[lim.key for lim in limits if lim.key not in s.encoded],
        conflict=[] if feasible else _conflict(s, candidates, final),
    )
