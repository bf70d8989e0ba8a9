"""Pipelines: the workflows (train, match, audit, explain, export) that run the stages in order."""

from tailorml.pipelines.match import match
from tailorml.pipelines.train import train

__all__ = ["match", "train"]
