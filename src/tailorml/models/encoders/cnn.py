"""Convolutional encoder for image features and audio spectrograms (1 × frames × bands).

The default reproduces Keras's ``Conv2D(32, (3, 3), activation='relu') →
MaxPooling2D((2, 2)) → Flatten()``: on a 1×28×28 image it gives 32×13×13 = 5408
values. Keras flattens channels-last ``(H, W, C)``; this flattens channels-first
``(C, H, W)``. The order is a fixed permutation that the next layer absorbs, so
it changes no accuracy, only the layout of imported weights.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

from tailorml.config import EncoderConfig
from tailorml.config.model import STRICT_TYPES
from tailorml.errors import ConfigError
from tailorml.features.meta import FeatureMeta
from tailorml.models.activations import ACTIVATIONS
from tailorml.models.registry import Encoder, register_encoder


class ConvLayer(BaseModel):
    """One conv → [batch or group norm] → activation → [max-pool] → [dropout] block."""

    model_config = ConfigDict(extra="forbid", **STRICT_TYPES)

    filters: int = Field(ge=1, description="Output channels.")
    kernel_size: int = Field(ge=1, description="Side of the square kernel.")
    stride: int = Field(default=1, ge=1)
    padding: Literal["valid", "same"] = Field(
        default="valid", description="'same' pads like Keras: output side = ceil(side / stride)."
    )
    activation: Literal["relu", "gelu", "tanh", "none"] = "relu"
    pool_size: int | None = Field(
        default=None, ge=1, description="Max-pool window (and stride); None: no pooling."
    )
    batch_norm: bool = Field(
        default=False, description="BatchNorm before the activation; the conv then has no bias."
    )
    group_norm: bool = Field(
        default=False,
        description="GroupNorm (min(32, filters) groups) before the activation: normalises "
        "each image on its own, so it trains under DP-SGD; the conv then has no bias.",
    )
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0, description="Dropout after the block.")

    @model_validator(mode="after")
    def _one_norm(self) -> ConvLayer:
        if self.batch_norm and self.group_norm:
            raise ValueError("batch_norm and group_norm exclude each other; pick one")
        return self


class CNNOptions(EncoderConfig):
    """Options of the ``cnn`` encoder."""

    model_config = ConfigDict(extra="forbid")

    name: Literal["cnn"] = "cnn"
    conv_layers: list[ConvLayer] = Field(
        default=[ConvLayer(filters=32, kernel_size=3, pool_size=2)],
        min_length=1,
        description="Conv blocks, input first.",
    )
    output: Literal["flatten", "global_avg"] = Field(
        default="flatten", description="Flatten (C, H, W), or average over H and W."
    )


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """Keras 'same' zeros (before, after) along one side; an odd extra goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv_block(
    layer: ConvLayer, index: int, shape: tuple[int, int, int]
) -> tuple[nn.Sequential, tuple[int, int, int]]:
    """Build one block for an input of ``shape`` (C, H, W) and return its output shape.

    Raises:
        ConfigError: the kernel or pool window is larger than its input.
    """
    channels, height, width = shape
    k, s = layer.kernel_size, layer.stride
    modules: list[nn.Module] = []
    if layer.padding == "same":
        # Computed from the known image size so odd pads match Keras exactly.
        top, bottom = same_padding(height, k, s)
        left, right = same_padding(width, k, s)
        modules.append(nn.ZeroPad2d((left, right, top, bottom)))
        height, width = height + top + bottom, width + left + right
    if min(height, width) < k:
        raise ConfigError(
            f"cnn conv_layers[{index}]: kernel_size {k} is larger than its {height}x{width} input."
        )
    normalised = layer.batch_norm or layer.group_norm  # a norm's shift replaces the bias
    modules.append(nn.Conv2d(channels, layer.filters, k, stride=s, bias=not normalised))
    height, width = (height - k) // s + 1, (width - k) // s + 1
    if layer.batch_norm:
        modules.append(nn.BatchNorm2d(layer.filters))
    if layer.group_norm:
        modules.append(nn.GroupNorm(min(32, layer.filters), layer.filters))
    modules.append(ACTIVATIONS[layer.activation]())
    if layer.pool_size is not None:
        if min(height, width) < layer.pool_size:
            raise ConfigError(
                f"cnn conv_layers[{index}]: pool_size {layer.pool_size} is larger than its "
                f"{height}x{width} input."
            )
        modules.append(nn.MaxPool2d(layer.pool_size))  # floor, like Keras 'valid' pooling
        height, width = height // layer.pool_size, width // layer.pool_size
    if layer.dropout > 0:
        modules.append(nn.Dropout(layer.dropout))
    return nn.Sequential(*modules), (layer.filters, height, width)


@register_encoder("cnn", CNNOptions, types={"image", "audio"})
class CNNEncoder(Encoder):
    """Stacked conv blocks, then flatten or global average pooling.

    Args:
        meta: the image feature, ``shape == (C, H, W)``, or the audio feature,
            ``shape == (1, T, F)``.
    """

    @classmethod
    def for_privacy(cls, options: Any) -> tuple[Any, list[str]]:
        """BatchNorm mixes the rows of a batch, so per-sample gradients do not
        exist for it: GroupNorm, which normalises each image on its own
        (Opacus's own fix), takes its place."""
        changes = []
        for i, layer in enumerate(options["conv_layers"]):
            if layer["batch_norm"]:
                layer["batch_norm"], layer["group_norm"] = False, True
                groups = min(32, layer["filters"])
                changes.append(f"cnn conv_layers[{i}] BatchNorm → GroupNorm({groups} groups)")
        return options, changes

    def __init__(self, meta: FeatureMeta, options: CNNOptions) -> None:
        super().__init__()
        channels, height, width = meta.shape
        shape = (channels, height, width)
        blocks = []
        for index, layer in enumerate(options.conv_layers):
            block, shape = conv_block(layer, index, shape)
            blocks.append(block)
        self.blocks = nn.Sequential(*blocks)
        self.global_avg = options.output == "global_avg"
        channels, height, width = shape
        self.output_size = channels if self.global_avg else channels * height * width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``(B, C, H, W)`` float32 in [0, 1] → ``(B, output_size)``."""
        h = self.blocks(x)  # (B, C', H', W')
        if self.global_avg:
            return h.mean(dim=(2, 3))  # (B, C')
        return h.flatten(1)  # (B, C' * H' * W'), channels-first order
