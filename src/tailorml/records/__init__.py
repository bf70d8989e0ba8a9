"""Records: the typed, versioned files that stages pass to one another."""

from tailorml.records.audit import AuditRecord
from tailorml.records.base import Record
from tailorml.records.explanations import ExplanationsRecord
from tailorml.records.export import OnnxReport
from tailorml.records.match import MatchResult
from tailorml.records.metrics import Metrics

__all__ = ["AuditRecord", "ExplanationsRecord", "MatchResult", "Metrics", "OnnxReport", "Record"]
