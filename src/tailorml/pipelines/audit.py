"""Audit a run for bias, optionally mitigate it, then write the audit page and card."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tailorml.audit.fairness import audit as audit_rows
from tailorml.audit.fairness import mitigate as mitigate_run
from tailorml.errors import TailorError
from tailorml.evaluate.groups import DEFAULT_MIN_GROUP_SIZE
from tailorml.evaluate.thresholds import Metric
from tailorml.features.splits import read_splits
from tailorml.records.audit import AuditRecord, Baseline
from tailorml.report.audit import write_audit
from tailorml.report.card import write_model_card
from tailorml.runs.bundle import save_bundle
from tailorml.runs.run import Run, load, read_rows

MITIGATIONS: dict[str, Metric] = {  # --mitigate NAME: the gap it narrows
    "demographic_parity": "demographic_parity_difference",
    "equalized_odds": "equalized_odds_difference",
}


def audit(
    run_dir: Path,
    data: str,
    sensitive: list[str],
    *,
    mitigate: str | None = None,
    max_gap: float = 0.05,
    tune_data: str | None = None,
    baseline: Path | None = None,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
) -> AuditRecord:
    """Bias audit of a run on labelled rows; write ``audit.json``, ``audit.html``
    and the model card into ``run_dir``.

    Args:
        data: labelled rows to audit: a file or ``builtin:NAME``.
        mitigate: ``demographic_parity`` or ``equalized_odds``: tune per-group
            thresholds on ``sensitive[0]`` and save them to ``run_dir/mitigated``.
        max_gap: the largest gap allowed after mitigation.
        tune_data: rows to tune thresholds on (default: the run's validation split).
        baseline: an unmitigated run of the same task, audited as 'before'.
        min_group_size: groups with fewer rows are reported, not judged in the gaps.

    Returns:
        What ``audit.json`` now holds.

    Raises:
        TailorError: a bad option, or a run or data that cannot be read.
    """
    if min_group_size < 1:
        raise TailorError(f"--min-group-size takes a number of rows ≥ 1, not {min_group_size}.")
    if not 0 <= max_gap <= 1:
        raise TailorError(f"--max-gap is a gap between two rates: from 0 to 1, not {max_gap}.")
    if mitigate is not None and mitigate not in MITIGATIONS:
        raise TailorError(
            f"--mitigate takes demographic_parity or equalized_odds, not {mitigate!r}."
        )
    trained = load(run_dir)
    rows, _ = read_rows(data, trained.config.data)
    reference = load(baseline) if baseline is not None else trained
    before = audit_rows(reference, rows, sensitive, min_group_size=min_group_size)
    record = AuditRecord(run=str(run_dir), data=data, before=before)
    if baseline is not None:
        record.baseline = Baseline(run=str(baseline), training=trained.metrics.fairness)
    if mitigate is not None:
        tune, metric = tuning_rows(trained, tune_data), MITIGATIONS[mitigate]
        record.mitigation = mitigate_run(trained, tune, sensitive[0], metric, max_gap)
        save_bundle(trained.bundle, run_dir / "mitigated")
    if baseline is not None or mitigate is not None:
        record.after = audit_rows(trained, rows, sensitive, min_group_size=min_group_size)
    write_audit(run_dir, record)
    write_model_card(run_dir)
    return record


def tuning_rows(run: Run, source: str | None) -> pd.DataFrame:
    """Rows to tune thresholds on: a given source, or the run's own
    validation split (recomputed from its config and seed)."""
    if source is not None:
        return read_rows(source, run.config.data)[0]
    frames, _ = read_splits(run.config)
    if "validation" not in frames or run.config.data.split.validation_data == "test":
        raise TailorError(
            "this run has no validation split of its own to tune thresholds on; pass --tune-data."
        )
    return frames["validation"]
