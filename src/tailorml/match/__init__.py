"""Match: search the portfolio of candidates for the one that fits a scenario."""

from tailorml.match.engine import load_scenario, run_match

__all__ = ["load_scenario", "run_match"]
