"""Frame encoder for audio: 1-D convolutions over time, the mel bands (or
MFCCs) of a frame as its channels, then mean and max over time.

A 2-D CNN treats a spectrogram as a picture and spends most of its work on
the first layers' full-resolution maps; speech models since the TDNN
(Waibel et al., 1989) convolve over time only, which costs a fraction of it
and is insensitive to where in the clip the word is said.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import ConfigDict, Field
from torch import nn

from tailorml.config import EncoderConfig
from tailorml.features.meta import FeatureMeta
from tailorml.models.registry import Encoder, register_encoder


class FramesOptions(EncoderConfig):
    """Options of the ``frames`` encoder."""

    model_config = ConfigDict(extra="forbid")

    name: Literal["frames"] = "frames"
    channels: list[int] = Field(
        default=[64, 96, 128], min_length=1, description="Output channels of each conv block."
    )
    kernel_size: int = Field(default=5, ge=1, description="Frames each convolution spans.")
    pool_size: int = Field(
        default=2, ge=1, description="Max-pool over time after each block but the last."
    )
    norm: Literal["batch", "group", "none"] = Field(
        default="batch", description="group: normalises each clip on its own (DP-SGD)."
    )
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0, description="Dropout after each block.")


def norm_layer(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm1d(channels)
    if kind == "group":
        return nn.GroupNorm(min(32, channels), channels)
    return nn.Identity()


@register_encoder("frames", FramesOptions, types={"audio"})
class FramesEncoder(Encoder):
    """Conv1d → norm → ReLU → [max-pool] → dropout blocks, then mean ‖ max over time.

    Args:
        meta: the audio feature, ``shape == (1, T, F)``.
    """

    @classmethod
    def for_privacy(cls, options: Any) -> tuple[Any, list[str]]:
        """BatchNorm mixes the rows of a batch; GroupNorm does not (Opacus's fix)."""
        if options["norm"] != "batch":
            return options, []
        return {**options, "norm": "group"}, ["frames BatchNorm → GroupNorm"]

    def __init__(self, meta: FeatureMeta, options: FramesOptions) -> None:
        super().__init__()
        _, steps, width = meta.shape
        blocks: list[nn.Module] = []
        for i, channels in enumerate(options.channels):
            last = i == len(options.channels) - 1
            pool = 1 if last or steps < 2 * options.pool_size else options.pool_size
            blocks += [
                nn.Conv1d(
                    width,
                    channels,
                    options.kernel_size,
                    padding="same",
                    bias=options.norm == "none",
                ),  # fmt: skip
                norm_layer(options.norm, channels),
                nn.ReLU(),
                nn.MaxPool1d(pool) if pool > 1 else nn.Identity(),
                nn.Dropout(options.dropout),
            ]
            width, steps = channels, steps // pool
        self.blocks = nn.Sequential(*blocks)
        self.output_size = 2 * width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Frames ``(B, 1, T, F)`` float32 → ``(B, 2 * channels[-1])``."""
        h = self.blocks(x.squeeze(1).transpose(1, 2))  # (B, C, T')
        return torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)  # (B, 2C)
