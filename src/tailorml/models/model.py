"""The assembled model: per-input encoders → concat → MLP decoder → head."""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

from tailorml.config import ModelConfig
from tailorml.features.meta import FeatureMeta
from tailorml.models.decoders import MLPDecoder
from tailorml.models.init import keras_init
from tailorml.models.registry import Encoder, build_encoder

ParamGroup = tuple[list[nn.Parameter], float]


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
        pretrained: start pretrained encoders from their checkpoints' weights;
            False when the weights come from a saved bundle anyway.
    """

    def __init__(
        self,
        config: ModelConfig,
        metas: dict[str, FeatureMeta],
        n_outputs: int,
        pretrained: bool = True,
    ):
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
            keras_init(self)  # pretrained encoders get their checkpoint weights next
        if pretrained:
            for name in self.names:
                self.encoder(name).load_pretrained()

    def encoder(self, name: str) -> Encoder:
        """The encoder of one input feature."""
        return cast(Encoder, self.encoders[module_key(name)])

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        encoded = [self.encoder(n)(inputs[n]) for n in self.names]  # each (B, D_i)
        x = encoded[0] if len(encoded) == 1 else torch.cat(encoded, dim=1)  # (B, ΣD_i)
        return self.decoder(x)  # (B, K)

    def lengths(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """Tokens per row ``(N,)`` over the encoders whose cost grows with them,
        or None when no encoder's does; batches of similar length pad least."""
        counts = [self.encoder(n).lengths(inputs[n]) for n in self.names]
        known = [c for c in counts if c is not None]
        return torch.stack(known).sum(0) if known else None

    def parameter_groups(self, learning_rate: float) -> list[ParamGroup]:
        """Trainable parameters with their learning rates: an encoder's own
        rates where it sets them (layer-wise decay), ``learning_rate`` else."""
        groups: list[ParamGroup] = []
        own: set[int] = set()
        for name in self.names:
            for params, rate in self.encoder(name).parameter_groups():
                groups.append((params, rate))
                own.update(id(p) for p in params)
        rest = [p for p in self.parameters() if p.requires_grad and id(p) not in own]
        return [(rest, learning_rate), *groups] if rest else groups
