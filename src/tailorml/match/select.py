"""Pick the recommended model: feasible first, then the most value."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from tailorml.evaluate import measure
from tailorml.match.constraints import why_rejected
from tailorml.records.match import CandidateResult

MINIMISE = ("latency_p95_ms", "cost_per_1k", "fairness_gap")  # the Pareto axes besides quality


@dataclass
class Selection:
    recommended: str | None
    reasoning: list[str]
    pareto: list[str]
    binding_constraint: str | None = None
    closest: list[str] = field(default_factory=list)


def signed_quality(entry: CandidateResult) -> float:
    """The candidate's quality, higher is better (errors are negated)."""
    quality = entry.metrics.quality
    assert quality is not None  # every candidate's quality is measured
    return float(quality.value or 0) * (1 if quality.higher_is_better else -1)


def pareto(entries: list[CandidateResult]) -> list[str]:
    points = {
        e.name: {"quality": signed_quality(e)}
        | {axis: getattr(e.metrics, axis) for axis in MINIMISE}
        for e in entries
    }
    return measure.pareto_front(points, {"quality"}, set(MINIMISE))


def certified(entry: CandidateResult) -> bool:
    """Whether the candidate's decisions meet the constraints with the safety margin
    (candidates whose decisions were not tuned count as certified)."""
    tuning = entry.metrics.tuning
    return tuning is None or tuning.certified


def rank_key(entry: CandidateResult) -> tuple[bool, float, float, str]:
    """Certified first (the constraints hold with a margin, so they hold on new rows
    too), then the most value, then the best quality."""
    return (not certified(entry), -float(entry.value_per_1k or 0), -signed_quality(entry),
            entry.name)  # fmt: skip


def runner_up(entry: CandidateResult, best: CandidateResult) -> str:
    """Why a feasible candidate is not the pick."""
    if certified(entry) or not certified(best):
        return "worth less"
    return "meets the constraints only as measured, not with the safety margin"


def select(entries: list[CandidateResult]) -> Selection:
    """The feasible candidate with the most value per 1,000 predictions, those whose
    decisions meet the constraints with the safety margin first."""
    front = pareto(entries) if entries else []
    feasible = sorted((e for e in entries if e.feasible), key=rank_key)
    if feasible:
        best = feasible[0]
        reasons = [
            f"{best.name} ({best.family}) meets every constraint on validation and has "
            f"the highest value: {best.value_per_1k:,.2f} per 1,000 predictions."
        ]
        if not certified(best):
            reasons.append(
                f"{best.name} meets them as measured but not with the safety margin (a bound "
                "lies within the validation split's noise): they may not hold on new rows."
            )
        reasons += [f"{e.name} is feasible but {runner_up(e, best)} "
                    f"({e.value_per_1k:,.2f} per 1,000)." for e in feasible[1:]]  # fmt: skip
        reasons += [f"{e.name} rejected: {'; '.join(e.rejected_because)}."
                    for e in entries if not e.feasible]  # fmt: skip
        return Selection(best.name, reasons, front)
    return nothing_feasible(entries, front)


def nothing_feasible(entries: list[CandidateResult], front: list[str]) -> Selection:
    """Name the constraint that blocks the most candidates, and the closest."""
    if not entries:
        return Selection(None, ["No candidate finished within the budget."], front)
    broken = Counter(name for e in entries for name, c in e.constraints.items() if not c.passed)
    binding = max(sorted(broken), key=lambda n: broken[n])
    closest = sorted(entries, key=lambda e: (len(why_rejected(e.constraints)), rank_key(e)))
    names = [e.name for e in closest[:3]]
    reasons = [f"No feasible model: '{binding}' is broken by {broken[binding]} of {len(entries)} "
               f"candidates. Closest: {', '.join(names)}."]  # fmt: skip
    reasons += [f"{e.name}: {'; '.join(e.rejected_because)}." for e in closest]
    return Selection(None, reasons, front, binding, names)
