"""The assembled model: per-input encoders → concat → MLP decoder → head."""

from __future__ import annotations

import torch
from torch import nn

from tailorml.config import ModelConfig
from tailorml.features.meta import FeatureMeta
from tailorml.models.decoders import MLPDecoder
from tailorml.models.init import keras_init
from tailorml.models.registry import build_encoder


def module_key(name: str) -> str:
    """Feature names may hold dots, which torch module names cannot."""
    return name.replace(".", "_")


def encoder_width(encoder: nn.Module) -> int:
    return int(encoder.output_size)  # type: ignore[arg-type]


class TailorModel(nn.Module):
    """Embedding → encoder per input feature, concatenated, then decoded.

    Args:
        config: the validated model config.
        metas: shape and vocabulary of each preprocessed input feature.
        n_outputs: width of the output (classes, or 1).
    """

    def __init__(self, config: ModelConfig, metas: dict[str, FeatureMeta], n_outputs: int):
        super().__init__()
        self.names = [f.name for f in config.input_features]
        self.encoders = nn.ModuleDict(
            {
                module_key(f.name): build_encoder(metas[f.name], f.encoder)  # type: ignore[arg-type]
                for f in config.input_features
            }
        )
        width = sum(encoder_width(e) for e in self.encoders.values())
        self.decoder = MLPDecoder(width, n_outputs, config.decoder)
        if config.init == "keras":
            keras_init(self)

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        encoded = [self.encoders[module_key(n)](inputs[n]) for n in self.names]  # each (B, D_i)
        x = encoded[0] if len(encoded) == 1 else torch.cat(encoded, dim=1)  # (B, ΣD_i)
        return self.decoder(x)  # (B, K)
