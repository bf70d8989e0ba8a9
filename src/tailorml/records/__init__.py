"""Records: the typed, versioned files that stages pass to one another."""

from tailorml.records.audit import AuditRecord
from tailorml.records.base import Part, Record
from tailorml.records.explanations import ExplanationsRecord
from tailorml.records.export import OnnxReport
from tailorml.records.match import MatchResult
from tailorml.records.metrics import Metrics, Scores

__all__ = [
    "AuditRecord", "ExplanationsRecord", "MatchResult", "Metrics", "OnnxReport", "Part", "Record",
    "Scores",
]  # fmt: skip
