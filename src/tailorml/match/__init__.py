"""Matching: recommend the model that fits a scenario's constraints and value."""

from tailorml.match.engine import load_scenario, match

__all__ = ["load_scenario", "match"]
