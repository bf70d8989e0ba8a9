"""Registered encoders; importing this package registers them all.

Each encoder is one file with ``@register_encoder(name, Options, types=...)``.
"""

from tailorml.models.encoders.cnn import CNNEncoder, CNNOptions, ConvLayer
from tailorml.models.encoders.embed_mlp import EmbedMLPEncoder, EmbedMLPOptions
from tailorml.models.encoders.frames import FramesEncoder, FramesOptions
from tailorml.models.encoders.pretrained import PretrainedEncoder, PretrainedOptions
from tailorml.models.encoders.rnn import RNNEncoder, RNNOptions
from tailorml.models.encoders.transformer import TransformerEncoder, TransformerOptions

__all__ = [
    "CNNEncoder", "CNNOptions", "ConvLayer", "EmbedMLPEncoder", "EmbedMLPOptions",
    "FramesEncoder", "FramesOptions", "PretrainedEncoder", "PretrainedOptions", "RNNEncoder",
    "RNNOptions", "TransformerEncoder", "TransformerOptions",
]  # fmt: skip
