"""Models: model families, and the registered encoders, combiners and decoders
that the deep family assembles into one network."""

from tailorml.models import classical, combiners, decoders, encoders, generation  # noqa: F401
from tailorml.models.family import FAMILIES, ModelFamily, family_named, register_family
from tailorml.models.model import TailorModel
from tailorml.models.registry import ENCODERS, Encoder, build_encoder, register_encoder

__all__ = [
    "ENCODERS", "FAMILIES", "Encoder", "ModelFamily", "TailorModel", "build_encoder",
    "family_named", "register_encoder", "register_family",
]  # fmt: skip
