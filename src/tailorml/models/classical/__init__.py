"""Classical baselines: linear models, gradient-boosted trees, and
fairness-constrained mixtures of either (fairlearn reductions)."""

from tailorml.models.classical import lightgbm, linear, reductions  # noqa: F401  (registration)
from tailorml.models.classical.base import CLASSICAL, ClassicalModel

__all__ = ["CLASSICAL", "ClassicalModel"]
