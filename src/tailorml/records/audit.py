"""``audit.json``: what ``tailor audit`` measured, per sensitive attribute and group,
before and (after a baseline or mitigation) after."""

from __future__ import annotations

from tailorml.records.base import Part, Record

Interval = tuple[float, float]  # a 95% interval: low, high


class Rate(Part):
    """A rate and its Wilson 95% interval (None without rows to count)."""

    value: float | None
    ci95: Interval | None


class SmallGroup(Part):
    """A group with too few rows to judge: its size and rates, reported apart."""

    group: str
    n: int
    selection_rate: Rate
    tpr: Rate
    fpr: Rate


class GroupRates(Part):
    """One group's audited rates (None where undefined) and their bootstrap intervals."""

    n: int
    selection_rate: float | None
    accuracy: float | None
    tpr: float | None
    fpr: float | None
    mean_probability: float | None
    observed_rate: float | None
    ci95: dict[str, Interval | None]  # by rate name


class JudgedGaps(Part):
    """Both gaps over the groups large enough to judge (None: fewer than two)."""

    demographic_parity_difference: float | None
    equalized_odds_difference: float | None


class AttributeAudit(Part):
    """One sensitive attribute: gaps and ratios over every group (fairlearn), each
    group's rates, and the gaps over the groups large enough to judge."""

    demographic_parity_difference: float | None
    demographic_parity_ratio: float | None
    equalized_odds_difference: float | None
    equalized_odds_ratio: float | None
    groups: dict[str, GroupRates]
    min_group_size: int
    judged: JudgedGaps
    too_small: list[SmallGroup]


class AuditedRows(Part):
    """One run's decisions audited on labelled rows."""

    rows: int
    accuracy: float
    attributes: dict[str, AttributeAudit]


class WeightCell(Part):
    """One (group, label) cell of reweighed training: its rows and weight."""

    group: str
    label: str
    rows: int
    weight: float


class Reweighing(Part):
    """How training weighed rows for fairness (``metrics.json`` ``fairness``)."""

    method: str
    sensitive: list[str]
    cells: list[WeightCell]


class Baseline(Part):
    """The run audited as 'before', and how the audited run was trained instead."""

    run: str
    training: Reweighing | None


class DecisionRule(Part):
    """Thresholds on p(positive): one, or one per group of an attribute."""

    threshold: float
    group_attribute: str | None
    group_thresholds: dict[str, float]


class Mitigation(Part):
    """Per-group thresholds tuned to keep a gap under its limit."""

    decision: DecisionRule
    feasible: bool
    effective_limits: dict[str, float]  # limit less the safety margin, by limit key


class AuditRecord(Record):
    """``audit.json``: ``before`` is the baseline run (or the run itself); ``after``
    is the run, mitigated or trained differently, when there is one to compare."""

    OMIT_UNSET = True  # the parts that apply, none of those that do not (not null)

    run: str
    data: str
    before: AuditedRows
    baseline: Baseline | None = None
    mitigation: Mitigation | None = None
    after: AuditedRows | None = None
