"""A scenario's hard constraints, checked against measured figures."""

from __future__ import annotations

from tailorml.config import Scenario
from tailorml.config.scenario import LOWER_IS_BETTER, FairnessConstraint
from tailorml.records.match import GAP_NAMES, Check, Figures, LimitFigures


def default_metric(scenario: Scenario) -> str:
    quality = scenario.constraints.quality
    if quality is not None:
        return quality.metric
    defaults = {"classification": "accuracy", "regression": "mae", "generation": "chrf"}
    return defaults[scenario.task]


def upper(value: float | None, limit: float) -> Check:
    return Check(value=value, limit=limit, passed=value is not None and value <= limit)


def lower(value: float | None, limit: float) -> Check:
    return Check(value=value, limit=limit, passed=value is not None and value >= limit)


def check_constraints(scenario: Scenario, m: Figures) -> dict[str, Check]:
    """Every constraint of the scenario: measured value, limit, pass.

    ``m`` holds the candidate's measured figures (match.json's candidate ``metrics``).
    """
    c = scenario.constraints
    checks: dict[str, Check] = {}
    if c.quality is not None:
        value = m.figures.get(c.quality.metric)
        if c.quality.metric in LOWER_IS_BETTER:
            checks[f"max_{c.quality.metric}"] = upper(value, float(c.quality.max or 0))
        else:
            checks[f"min_{c.quality.metric}"] = lower(value, float(c.quality.min or 0))
    pairs = [
        ("max_latency_p95_ms", c.max_latency_p95_ms, m.latency_p95_ms),
        ("max_cost_per_1k", c.max_cost_per_1k, m.cost_per_1k),
        ("max_model_size_mb", c.max_model_size_mb, m.size_mb),
        ("max_training_seconds", c.max_training_seconds, m.train_seconds),
    ]
    for name, bound, measured in pairs:
        if bound is not None:
            checks[name] = upper(measured, bound)
    for fair in c.fairness:
        name = constraint_name(fair)
        checks[name] = fairness_check(fair, m.limits.get(name))
    if c.max_epsilon is not None:
        checks["max_epsilon"] = upper(m.epsilon, c.max_epsilon)
    if c.explanations == "required":
        explained = bool(m.explainable)
        checks["explanations"] = Check(value=explained, limit="required", passed=explained)
    return checks


def constraint_name(fair: FairnessConstraint) -> str:
    """``max_dpd:ATTRIBUTE`` or ``max_eod:ATTRIBUTE``."""
    return f"max_{GAP_NAMES[fair.metric].lower()}:{fair.attribute}"


def fairness_check(fair: FairnessConstraint, judged: LimitFigures | None) -> Check:
    """The gap over the judged groups against the limit. A limit with fewer than two
    groups large enough to judge passes, marked ``judged: false`` with the reason."""
    if judged is not None and not judged.judged:
        small = ", ".join(f"{g.group} ({g.n})" for g in judged.too_small) or "none"
        note = (f"not judged: fewer than two groups with at least {fair.min_group_size} rows "
                f"(too small: {small})")  # fmt: skip
        return Check(value=None, limit=fair.max, passed=True, judged=False, note=note)
    check = upper(judged.gap if judged is not None else None, fair.max)
    check.judged = judged is not None
    return check


def why_rejected(checks: dict[str, Check]) -> list[str]:
    """One line per broken constraint, with by how much."""
    lines = []
    for name, check in checks.items():
        if check.passed:
            continue
        value, limit = check.value, check.limit
        if isinstance(value, int | float) and isinstance(limit, int | float):
            sign = ">" if name.startswith("max") else "<"
            lines.append(f"{name}: {value:.4g} {sign} {limit:.4g} (by {abs(value - limit):.4g})")
        else:
            lines.append(f"{name}: {value} (needs {limit})")
    return lines
