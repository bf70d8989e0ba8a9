"""Features: one preprocessor per input column type, plus the target."""

from tailorml.features import (  # noqa: F401  (registration)
    audio,
    image,
    pretrained_text,
    tabular,
    text,
)
from tailorml.features.base import PREPROCESSORS, Preprocessor
from tailorml.features.featureset import Encoded, FeatureSet
from tailorml.features.meta import FeatureMeta
from tailorml.features.target import Target

__all__ = ["PREPROCESSORS", "Encoded", "FeatureMeta", "FeatureSet", "Preprocessor", "Target"]
