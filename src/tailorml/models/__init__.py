"""Models: registered encoders and decoders assembled into one network."""

from tailorml.models import encoders  # noqa: F401  (registers the encoders)
from tailorml.models.model import TailorModel
from tailorml.models.registry import ENCODERS, Encoder, build_encoder, register_encoder

__all__ = ["ENCODERS", "Encoder", "TailorModel", "build_encoder", "register_encoder"]
