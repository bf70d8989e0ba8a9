"""The HTML report of a match: which model fits the scenario, and why.

``tailor match`` leaves ``match.json`` (a :class:`~tailorml.records.match.MatchResult`)
in its run folder; :func:`write_match_report` turns it into ``report.html``: one
self-contained file (inline CSS, inline SVG charts, no external URLs) that can be
mailed or archived and opens offline. Parts the record lacks are left out of the page.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import yaml

from tailorml.errors import TailorError
from tailorml.io import atomic_write_text
from tailorml.records import match as record
from tailorml.records.audit import DecisionRule
from tailorml.report.charts import ParetoPoint, pareto_chart, selection_rate_chart
from tailorml.report.html import REPORT_NAME
from tailorml.report.render import format_number, render

MATCH_NAME = "match.json"
__all__ = ["MATCH_NAME", "format_number", "render_match_report", "write_match_report"]
Fairness = dict[str, record.AttributeFairness]  # per attribute
Limits = dict[str, record.LimitFigures]  # per fairness limit


class LimitRow(NamedTuple):
    """A fairness limit of the recommended model on validation and on test."""

    name: str
    groups: list[str]  # the judged groups, joined, on validation and test
    gaps: list[float | None]
    effective: float | None  # the limit less the margin tuned to on validation
    min_group_size: int
    too_small: list[str]


class DecisionRow(NamedTuple):
    """The decision thresholds and the value they gain over a plain 0.5 cut."""

    rule: DecisionRule | None
    value: float | None
    baseline: float | None
    gain: float | None


def write_match_report(run_dir: Path) -> Path:
    """Write ``run_dir/report.html`` from the folder's ``match.json``.

    Args:
        run_dir: The folder ``tailor match`` wrote, holding ``match.json``.

    Raises:
        TailorError: ``match.json`` is missing, is not valid JSON, or does not fit.
    """
    target = Path(run_dir) / REPORT_NAME
    atomic_write_text(target, render_match_report(Path(run_dir)))
    return target


def render_match_report(run_dir: Path) -> str:
    """Render the match report of a folder as an HTML string (see :func:`write_match_report`)."""
    run_dir = Path(run_dir)
    path = run_dir / MATCH_NAME
    if not path.is_file():
        raise TailorError(f"no {MATCH_NAME} in {run_dir}; run `tailor match` to write one")
    match = record.MatchResult.read(path)
    candidates = ranked(match.candidates)
    chosen, test = match.chosen, match.test
    # the recommended model's figures on validation and test; none without one
    fairness = chosen.metrics.fairness if chosen else {}
    test_fairness = (test.fairness or {}) if chosen and test else {}
    limits = chosen.metrics.limits if chosen else {}
    test_limits = test.metrics.limits if chosen and test else {}
    metric = next((c.metrics.quality.metric for c in candidates if c.metrics.quality), None)
    ylabel = f"{metric or 'quality'} (validation)"
    axes = match.pareto_axes  # "maximise quality; minimise latency_p95_ms, cost_per_1k"
    verbs = (("maximise", axes.maximise), ("minimise", axes.minimise)) if axes is not None else ()
    axes_text = "; ".join(f"{verb} {', '.join(names)}" for verb, names in verbs if names) or None
    front = pareto_chart(pareto_points(candidates), match.pareto, match.recommended, ylabel)
    context = {
        "match": match,
        "name": match.scenario.name or run_dir.resolve().name,
        "candidates": candidates,
        "chosen": chosen,
        "quality_metric": metric,
        "gap_lines": gap_lines,
        "rejections": rejections,
        "constraint_names": list(dict.fromkeys(n for c in candidates for n in c.constraints)),
        "pareto_chart": front,
        "pareto_axes": axes_text,
        "fairness_chart": selection_rate_chart({"validation": fairness, "test": test_fairness}),
        "fairness_rows": fairness_rows(fairness, test_fairness),
        "limit_rows": limit_rows(limits, test_limits),
        "test_checks": test.constraints if chosen and test else {},
        "test_metrics": test_metrics(test) if chosen and test else [],
        "decision": decision(chosen),
        "scenario_yaml": scenario_yaml(match.scenario),
    }
    return render("match.html.j2", context, {"fmt": format_number})


def ranked(candidates: list[record.CandidateResult]) -> list[record.CandidateResult]:
    """Feasible candidates first, then by value per 1,000 predictions, highest first."""

    def key(candidate: record.CandidateResult) -> tuple[bool, float]:
        value = candidate.value_per_1k
        return not candidate.feasible, -value if value is not None else math.inf

    return sorted(candidates, key=key)


def gap_lines(figures: record.Figures) -> list[str]:
    """One line per protected attribute, e.g. ``sex: DPD 0.04 · EOD 0.08``."""
    lines = []
    for attribute, report in figures.fairness.items():
        found = {short: getattr(report, key) for key, short in record.GAP_NAMES.items()}
        gaps = [f"{short} {format_number(gap)}" for short, gap in found.items() if gap is not None]
        if gaps:
            lines.append(f"{attribute}: {' · '.join(gaps)}")
    return lines


def rejections(candidate: record.CandidateResult) -> list[str]:
    """Why a candidate was rejected, its trial's failure first."""
    if candidate.status == "finished":
        return candidate.rejected_because
    error = f": {candidate.error}" if candidate.error else ""
    return [f"trial {candidate.status}{error}", *candidate.rejected_because]


def fairness_rows(
    validation: Fairness, on_test: Fairness
) -> list[tuple[str, str, list[float | None]]]:
    """(attribute, gap, its value on validation and on test) of the recommended model."""
    rows = []
    for attribute in dict.fromkeys([*validation, *on_test]):
        for key, short in record.GAP_NAMES.items():
            pair = [getattr(split[attribute], key) if attribute in split else None
                    for split in (validation, on_test)]  # fmt: skip
            if any(value is not None for value in pair):
                rows.append((attribute, short, pair))
    return rows


def limit_rows(validation: Limits, on_test: Limits) -> list[LimitRow]:
    """Per fairness limit of the recommended model: the judged groups, the gap between
    them on validation and test, the effective limit, and the groups too small to judge."""
    rows = []
    for name in dict.fromkeys([*validation, *on_test]):
        splits = {"validation": validation.get(name), "test": on_test.get(name)}
        small = [
            f"{g.group} on {split} ({g.n} rows, selection rate "
            f"{format_number(g.selection_rate.value)})"
            for split, figures in splits.items()
            for g in (figures.too_small if figures else [])
        ]
        groups = [", ".join(f.groups) if f and f.groups else "—" for f in splits.values()]
        gaps = [f.gap if f else None for f in splits.values()]
        first = next(f for f in splits.values() if f)
        effective = splits["validation"].effective_limit if splits["validation"] else None
        rows.append(LimitRow(name, groups, gaps, effective, first.scope.min_group_size, small))
    return rows


def test_metrics(test: record.TestCheck) -> list[tuple[str, object]]:
    """The recommended model's figures on test that are single values, metrics first."""
    values = {**test.metrics.figures, **test.metrics.dump()}
    return [(k, v) for k, v in values.items() if v is None or isinstance(v, int | float | str)]


def decision(chosen: record.CandidateResult | None) -> DecisionRow | None:
    """The recommended model's thresholds and the value they gain over 0.5."""
    if chosen is None:
        return None
    m = chosen.metrics
    value, baseline = m.value_per_1k, m.baseline_value_per_1k
    if m.decision is None and value is None and baseline is None:
        return None
    gain = value - baseline if value is not None and baseline is not None else None
    return DecisionRow(m.decision, value, baseline, gain)


def scenario_yaml(scenario: record.ScenarioFacts) -> str | None:
    written = scenario.dump()
    if not written:
        return None
    return yaml.safe_dump(written, sort_keys=False, allow_unicode=True, default_flow_style=False)


def pareto_points(candidates: list[record.CandidateResult]) -> list[ParetoPoint]:
    """The candidates with a measured quality and latency, as points of the plot."""
    points = []
    for candidate in candidates:
        quality, latency = candidate.metrics.quality, candidate.metrics.latency_p95_ms
        if quality is None or quality.value is None or latency is None:
            continue
        y, low, high = quality.value, quality.low, quality.high
        error = (y - low, high - y) if low is not None and high is not None else (0.0, 0.0)
        points.append(ParetoPoint(candidate.name, latency, y, error, candidate.feasible))
    return points
