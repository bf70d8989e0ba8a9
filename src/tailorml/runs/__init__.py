"""Runs: train a config into a folder, reopen it, evaluate and predict."""

from tailorml.runs.pipeline import train
from tailorml.runs.run import Run, load

__all__ = ["Run", "load", "train"]
