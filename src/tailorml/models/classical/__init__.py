"""Classical baselines: linear models and gradient-boosted trees."""

from tailorml.models.classical import lightgbm, linear  # noqa: F401  (registration)
from tailorml.models.classical.base import CLASSICAL, ClassicalModel

__all__ = ["CLASSICAL", "ClassicalModel"]
