"""The bias audit page: per-group rates with intervals, gaps, before/after."""

from __future__ import annotations

from pathlib import Path

from tailorml.io import atomic_write_text
from tailorml.records.audit import AuditRecord
from tailorml.report.charts import selection_rate_chart
from tailorml.report.render import render

COLUMNS = ("n", "selection_rate", "accuracy", "tpr", "fpr", "mean_probability", "observed_rate")
GAPS = ("demographic_parity_difference", "demographic_parity_ratio",
        "equalized_odds_difference", "equalized_odds_ratio")  # fmt: skip


def write_audit(run_dir: Path, record: AuditRecord) -> Path:
    """Write ``audit.json`` and the self-contained ``audit.html``; return the page."""
    record.write(run_dir / "audit.json")
    sides = {"before": record.before, "after": record.after}
    reports = {name: side.attributes for name, side in sides.items() if side}
    context = {
        "record": record,
        "description": describe(record),
        "chart": selection_rate_chart(reports),
        "columns": COLUMNS,
        "gaps": GAPS,
    }
    page = run_dir / "audit.html"
    atomic_write_text(page, render("audit.html.j2", context))
    return page


def describe(record: AuditRecord) -> str:
    """What 'before' and 'after' are, in one sentence."""
    steps = []
    baseline, mitigation = record.baseline, record.mitigation
    if baseline is not None and baseline.training is not None:
        training = baseline.training
        steps.append(f"trained with {training.method} by {', '.join(training.sensitive)}")
    if mitigation is not None:
        attribute = mitigation.decision.group_attribute
        steps.append(f"decided with per-group thresholds on '{attribute}'")
    before = f"run {baseline.run}" if baseline else "the run's own decisions"
    return f"Before: {before}. After: {record.run}, {' and '.join(steps) or 'as saved'}."
