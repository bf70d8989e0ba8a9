"""The assembled network: per-input encoders → combiner → decoder → head,
each registered by name (see ``models/registry.py``)."""

from __future__ import annotations

from typing import Protocol, cast, runtime_checkable

import torch
from torch import nn

from tailorml.config import ModelConfig
from tailorml.config.model import SpecAugmentOptions
from tailorml.features.meta import FeatureMeta
from tailorml.models.augment import SpecAugment
from tailorml.models.init import keras_init
from tailorml.models.registry import COMBINERS, DECODERS, Encoder, ParamGroup, build_encoder


@runtime_checkable
class Network(Protocol):
    """What training and inference ask of a network besides ``forward``:
    ``TailorModel`` has it all; any other module is trained as it is."""

    names: list[str]

    def encoder(self, name: str) -> Encoder: ...

    def lengths(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor | None: ...

    def parameter_groups(self, learning_rate: float) -> list[ParamGroup]: ...


def module_key(name: str) -> str:
    """Feature names may hold dots, which torch module names cannot."""
    return name.replace(".", "_")


class TailorModel(nn.Module):
    """Embedding → encoder per input feature, combined, then decoded.

    Args:
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
        # training-only augmentation a feature asks for (audio: SpecAugment)
        self.augments = nn.ModuleDict(
            {
                module_key(n): SpecAugment(SpecAugmentOptions.model_validate(augment))
                for n in self.names
                if (augment := metas[n].augment)
            }
        )
        self.combiner = COMBINERS[config.combiner.type](
            [self.encoder(n).output_size for n in self.names]
        )
        width = int(self.combiner.output_size)  # type: ignore[arg-type]
        self.decoder = DECODERS[config.decoder.name](width, n_outputs, config.decoder)
        if config.init == "keras":
            keras_init(self)  # pretrained encoders get their checkpoint weights next
        if pretrained:
            for name in self.names:
                self.encoder(name).load_pretrained()

    def encoder(self, name: str) -> Encoder:
        """The encoder of one input feature."""
        return cast(Encoder, self.encoders[module_key(name)])

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        encoded = [self.encoder(n)(self.augmented(n, inputs[n])) for n in self.names]  # (B, D_i)
        return self.decoder(self.combiner(encoded))  # (B, K)

    def augmented(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """The input as the encoder sees it: augmented in training where asked."""
        key = module_key(name)
        return self.augments[key](x) if key in self.augments else x

    def lengths(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """Tokens per row ``(N,)`` over the encoders whose cost grows with them,
        or None when no encoder's does; batches of similar length pad least."""
        counts = [self.encoder(n).lengths(inputs[n]) for n in self.names]
        known = [c for c in counts if c is not None]
        return torch.stack(known).sum(0) if known else None

    def parameter_groups(self, learning_rate: float) -> list[ParamGroup]:
        """Trainable parameters with their learning rates: an encoder's own
        rates where it sets them (layer-wise decay), ``learning_rate`` else."""
        groups = [group for n in self.names for group in self.encoder(n).parameter_groups()]
        own = {id(p) for params, _ in groups for p in params}
        rest = [p for p in self.parameters() if p.requires_grad and id(p) not in own]
        return [(rest, learning_rate), *groups] if rest else groups
