"""Explain a run's decisions on some rows, then write the explanations page and card."""

from __future__ import annotations

from pathlib import Path

from tailorml.errors import TailorError
from tailorml.records.explanations import ExplanationsRecord
from tailorml.report.card import write_model_card
from tailorml.report.explain import write_explanations
from tailorml.runs.run import load, read_rows

IMPORTANCE_ROWS = 2000  # rows shuffled for permutation importance


def explain(
    run_dir: Path, data: str, rows: str | None = None, *, importance: bool = True
) -> ExplanationsRecord:
    """Per-row attributions and permutation importance; write ``explanations.json``,
    ``explanations.html`` and the model card into ``run_dir``.

    Args:
        data: rows to explain: a file or ``builtin:NAME``.
        rows: the range ``START:STOP`` (0-based, stop excluded); None: the first 10.
        importance: also permutation importance, when the data holds the target.

    Returns:
        What ``explanations.json`` now holds.

    Raises:
        TailorError: a bad row range, or a run or data that cannot be read.
    """
    # captum takes seconds to import: only when explaining, not with `import tailorml`
    from tailorml.audit.explain import explain_rows, permutation_importance

    trained = load(run_dir)
    frame, _ = read_rows(data, trained.config.data)
    start, stop = row_range(rows or f"0:{min(10, len(frame))}", len(frame))
    explained = explain_rows(trained, frame.iloc[start:stop])
    record = ExplanationsRecord(rows=explained, permutation_importance=None)
    if importance and trained.bundle.features.target.name in frame.columns:
        sample = frame.iloc[:IMPORTANCE_ROWS]
        record.permutation_importance = permutation_importance(trained, sample)
    write_explanations(run_dir, record)
    write_model_card(run_dir)
    return record


def row_range(text: str, length: int) -> tuple[int, int]:
    """``START:STOP`` within ``length`` rows, or a clear error."""
    try:
        start_text, stop_text = text.split(":")
        start, stop = int(start_text or 0), int(stop_text or length)
    except ValueError:
        raise TailorError(f"--rows takes START:STOP such as 0:10, not {text!r}.") from None
    if start >= stop:
        raise TailorError(f"--rows {text} is empty: STOP must be greater than START (e.g. 0:10).")
    if not 0 <= start < stop <= length:
        raise TailorError(f"--rows {text} is outside the {length} rows of the data.")
    return start, stop
