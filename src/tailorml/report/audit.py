"""The bias audit page: per-group rates with intervals, gaps, before/after."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from tailorml.io import atomic_write_json, atomic_write_text
from tailorml.report.html import format_value
from tailorml.report.match import selection_rate_chart

COLUMNS = ("n", "selection_rate", "accuracy", "tpr", "fpr", "mean_probability", "observed_rate")
GAPS = ("demographic_parity_difference", "demographic_parity_ratio",
        "equalized_odds_difference", "equalized_odds_ratio")  # fmt: skip


def write_audit(run_dir: Path, result: dict[str, Any]) -> Path:
    """Write ``audit.json`` and the self-contained ``audit.html``; return the page."""
    atomic_write_json(run_dir / "audit.json", result)
    page = run_dir / "audit.html"
    atomic_write_text(page, render_audit(result))
    return page


def render_audit(result: dict[str, Any]) -> str:
    before = result["before"]["attributes"]
    after = (result.get("after") or {}).get("attributes")
    chart = selection_rate_chart({"before": before, **({"after": after} if after else {})})
    parts = [f"<h1>Bias audit · {html.escape(str(result.get('run', '')))}</h1>",
             f"<p>{result['before']['rows']:,} rows of {html.escape(str(result.get('data')))}.</p>",
             _comparison(result), chart or ""]  # fmt: skip
    for attribute, report in before.items():
        parts.append(f"<h2>{html.escape(attribute)}</h2>")
        parts.append(_table(report, (after or {}).get(attribute)))
    body = "\n".join(parts)
    style = ("body{font-family:sans-serif;max-width:70rem;margin:2rem auto;color:#222}"
             "table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;"
             "padding:.25rem .5rem;text-align:right}th{background:#f3f3f3}")  # fmt: skip
    head = f"<meta charset='utf-8'><title>audit</title><style>{style}</style>"
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>\n"


def _comparison(result: dict[str, Any]) -> str:
    after = result.get("after")
    if not after:
        return ""
    rows = ["<tr><th>attribute</th><th>metric</th><th>before</th><th>after</th></tr>"]
    accuracy = (format_value(result["before"]["accuracy"]), format_value(after["accuracy"]))
    rows.append(f"<tr><td colspan=2>accuracy</td><td>{accuracy[0]}</td><td>{accuracy[1]}</td></tr>")
    for attribute, report in result["before"]["attributes"].items():
        for gap in GAPS:
            new = after["attributes"][attribute].get(gap)
            cells = (html.escape(attribute), gap, format_value(report.get(gap)), format_value(new))
            rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    heading = f"<h2>Before and after mitigation</h2><p>{html.escape(describe(result))}</p>"
    return heading + "<table>" + "".join(rows) + "</table>"


def describe(result: dict[str, Any]) -> str:
    """What 'before' and 'after' are, in one sentence."""
    steps = []
    baseline = result.get("baseline")
    training = (baseline or {}).get("training")
    if training:
        steps.append(f"trained with {training['method']} by {', '.join(training['sensitive'])}")
    mitigation = result.get("mitigation")
    if mitigation:
        decision = mitigation["decision"]
        steps.append(f"decided with per-group thresholds on '{decision.get('group_attribute')}'")
    before = f"run {baseline['run']}" if baseline else "the run's own decisions"
    return f"Before: {before}. After: {result.get('run')}, {' and '.join(steps) or 'as saved'}."


def _table(report: dict[str, Any], after: dict[str, Any] | None) -> str:
    head = "".join(f"<th>{c}</th>" for c in ("group", *COLUMNS))
    rows = [f"<tr>{head}</tr>"]
    small = {g["group"] for g in report.get("too_small") or []}
    for group, stats in report["groups"].items():
        name = html.escape(group) + (" (too few rows to judge)" if group in small else "")
        cells = [name] + [_cell(stats, c) for c in COLUMNS]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    gaps = " · ".join(f"{g}: {format_value(report.get(g))}" for g in GAPS)
    return f"<p>{gaps}</p>{_judged(report)}<table>{''.join(rows)}</table>"


def _judged(report: dict[str, Any]) -> str:
    """The gaps between the groups large enough to judge, when some are not."""
    if not report.get("too_small"):
        return ""
    judged = " · ".join(f"{g}: {format_value(v)}" for g, v in report["judged"].items())
    small = ", ".join(f"{g['group']} ({g['n']} rows)" for g in report["too_small"])
    return (f"<p>Too few rows to judge (under {report['min_group_size']}): "
            f"{html.escape(small)}. Between the other groups: {judged}.</p>")  # fmt: skip


def _cell(stats: dict[str, Any], column: str) -> str:
    value = format_value(stats.get(column))
    interval = (stats.get("ci95") or {}).get(column)
    return f"{value} [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else value
