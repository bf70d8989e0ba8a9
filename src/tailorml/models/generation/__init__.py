"""Text generators: a source text in, a target text out (see ``base.py``)."""

from tailorml.models.generation import baselines, causal_lm, seq2seq  # noqa: F401  (registration)
from tailorml.models.generation.base import (
    GENERATORS,
    FitFigures,
    Generated,
    Generator,
    Pairs,
    build_generator,
    register_generator,
)

__all__ = [
    "GENERATORS", "FitFigures", "Generated", "Generator", "Pairs", "build_generator",
    "register_generator",
]  # fmt: skip
