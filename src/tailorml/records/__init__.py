"""Records: the typed, versioned files that stages pass to one another."""

from tailorml.records.base import Part, Record

__all__ = ["Part", "Record"]
