"""Pipelines: the workflows (train, match, audit, explain, export) that run the stages in order."""

from tailorml.pipelines.audit import audit
from tailorml.pipelines.explain import explain
from tailorml.pipelines.generate import train_generator
from tailorml.pipelines.match import match
from tailorml.pipelines.train import train

__all__ = ["audit", "explain", "match", "train", "train_generator"]
