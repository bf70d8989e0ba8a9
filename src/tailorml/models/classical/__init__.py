"""Classical baselines: linear models, gradient-boosted trees, and
fairness-constrained mixtures of either (fairlearn reductions)."""

# registration order is the portfolio's order, the cheapest family first
from tailorml.models.classical import linear  # noqa: I001, F401  (registration)
from tailorml.models.classical import lightgbm, reductions  # noqa: F401  (registration)
from tailorml.models.classical.base import CLASSICAL, ClassicalModel

__all__ = ["CLASSICAL", "ClassicalModel"]
