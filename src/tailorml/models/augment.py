"""SpecAugment (Park et al., 2019): masks of frequency bands and time spans,
drawn per clip, in training only; in evaluation the input passes unchanged."""

from __future__ import annotations

import torch
from torch import nn

from tailorml.config.model import SpecAugmentOptions


class SpecAugment(nn.Module):
    """Zeroes random bands of bins and spans of frames of ``(B, 1, T, F)`` frames.

    After per-feature normalisation zero is the training mean, so a mask reads
    as "nothing unusual here" rather than as silence.
    """

    def __init__(self, options: SpecAugmentOptions):
        super().__init__()
        self.freq_masks, self.freq_width = options.freq_masks, options.freq_width
        self.time_masks, self.time_width = options.time_masks, options.time_width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        keep = torch.ones_like(x[:, 0], dtype=torch.bool)  # (B, T, F)
        for axis, count, width in ((2, self.freq_masks, self.freq_width),
                                   (1, self.time_masks, self.time_width)):  # fmt: skip
            keep &= self.keep_mask(x.shape[0], x.shape[axis + 1], count, width, axis, x.device)
        return x * keep.unsqueeze(1).to(x.dtype)  # (B, 1, T, F)

    @staticmethod
    def keep_mask(
        rows: int, size: int, count: int, width: int, axis: int, device: torch.device
    ) -> torch.Tensor:
        """False inside ``count`` spans of up to ``width`` positions along ``axis``
        (1: time, 2: frequency) of each row; shaped to broadcast over ``(B, T, F)``."""
        positions = torch.arange(size, device=device)  # (S,)
        keep = torch.ones(rows, size, dtype=torch.bool, device=device)  # (B, S)
        for _ in range(count):
            span = torch.randint(0, min(width, size) + 1, (rows, 1), device=device)  # (B, 1)
            start = (torch.rand(rows, 1, device=device) * (size - span + 1)).long()  # (B, 1)
            keep &= (positions < start) | (positions >= start + span)
        return keep.unsqueeze(2 if axis == 1 else 1)  # (B, S, 1) or (B, 1, S)
