"""Runs: the saved artifact of a training — reopen it, evaluate and predict."""

from tailorml.runs.run import Run, load

__all__ = ["Run", "load"]
