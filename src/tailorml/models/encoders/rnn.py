"""Recurrent encoder for text: token embedding → LSTM/GRU → padding-aware pooling;
for audio, each spectrogram frame projected to the embedding size takes a token's place.

Sequences are packed by their true lengths, so padding never enters the
recurrence: a row encodes the same alone as inside any padded batch. Export
(``torch.export``, hence ONNX) cannot trace packing, so there the encoder takes
:meth:`RNNEncoder.forward_padded`, which computes the same without it.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import ConfigDict, Field
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from tailorml.config import EncoderConfig
from tailorml.features.meta import FeatureMeta
from tailorml.models.registry import Encoder, masked_pool, register_encoder


class RNNOptions(EncoderConfig):
    """Options of the ``rnn`` encoder."""

    model_config = ConfigDict(extra="forbid")

    name: Literal["rnn"] = "rnn"
    embedding_size: int = Field(default=64, ge=1, description="Token vector size.")
    cell: Literal["lstm", "gru"] = "lstm"
    hidden_size: int = Field(default=64, ge=1, description="Units per direction.")
    num_layers: int = Field(default=1, ge=1, le=8)
    bidirectional: bool = False
    dropout: float = Field(
        default=0.0,
        ge=0.0,
        lt=1.0,
        description="On the token vectors (like Keras LSTM dropout) and between stacked layers.",
    )
    pooling: Literal["last", "mean", "max"] = Field(
        default="last",
        description="last: final state (bidirectional: forward last + backward first); "
        "mean/max over real tokens.",
    )


@register_encoder("rnn", RNNOptions, types={"text", "audio"})
class RNNEncoder(Encoder):
    """Embedding (id 0 = padding) → LSTM or GRU over packed sequences → pooling.

    Args:
        meta: the text feature, whose ``vocab_size`` counts padding and unknown
            ids; or the audio feature, ``shape == (1, T, F)``.
    """

    def __init__(self, meta: FeatureMeta, options: RNNOptions) -> None:
        super().__init__()
        self.embed: nn.Module
        if meta.type == "audio":
            self.embed = nn.Linear(meta.shape[-1], options.embedding_size)
        elif meta.vocab_size is None:
            raise ValueError(f"text feature '{meta.name}' has no vocab_size")
        else:
            self.embed = nn.Embedding(meta.vocab_size, options.embedding_size, padding_idx=0)
        self.dropout = nn.Dropout(options.dropout)
        cell = nn.LSTM if options.cell == "lstm" else nn.GRU
        self.rnn: nn.RNNBase = cell(
            options.embedding_size,
            options.hidden_size,
            num_layers=options.num_layers,
            batch_first=True,
            dropout=options.dropout if options.num_layers > 1 else 0.0,
            bidirectional=options.bidirectional,
        )
        self.pooling = options.pooling
        self.output_size = options.hidden_size * (2 if options.bidirectional else 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Token ids ``(B, T)`` int64, right-padded with 0, or audio frames
        ``(B, 1, T, F)`` float32 → ``(B, output_size)``."""
        if x.is_floating_point():
            return self.forward_frames(x)
        if torch.compiler.is_exporting():
            return self.forward_padded(x)
        lengths = (x != 0).sum(1).clamp(min=1)  # (B,); an empty row reads one pad token
        h = self.dropout(self.embed(x))  # (B, T, E)
        packed = pack_padded_sequence(h, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, state = self.rnn(packed)
        if self.pooling == "last":
            h_n = state[0] if isinstance(state, tuple) else state  # (L * dirs, B, H); LSTM: (h, c)
            if not self.rnn.bidirectional:
                return h_n[-1]  # (B, H)
            # the top layer's forward ends at the last real token, backward at the first
            return torch.cat([h_n[-2], h_n[-1]], dim=1)  # (B, 2 * H)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])  # (B, T, D)
        mask = torch.arange(x.shape[1], device=x.device) < lengths.unsqueeze(1)  # (B, T)
        return masked_pool(out, mask, self.pooling)  # (B, output_size)

    def forward_frames(self, x: torch.Tensor) -> torch.Tensor:
        """Audio frames ``(B, 1, T, F)``, every frame real → ``(B, output_size)``."""
        out, state = self.rnn(self.dropout(self.embed(x.squeeze(1))))  # (B, T, D)
        if self.pooling != "last":
            return masked_pool(out, torch.ones_like(out[..., 0], dtype=torch.bool), self.pooling)
        h_n = state[0] if isinstance(state, tuple) else state  # (L * dirs, B, H)
        return torch.cat([h_n[-2], h_n[-1]], dim=1) if self.rnn.bidirectional else h_n[-1]

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` without packed sequences, for export: from the same
        ids, the same ``(B, output_size)`` up to float rounding.

        Each layer runs each direction over the whole padded batch. Padding
        sits after a row's real tokens, so the forward direction reads it only
        after them; the backward direction runs on each row reversed within its
        length, so it too starts at a real token. Outputs at padding positions
        are never read.
        """
        lengths = (x != 0).sum(1, keepdim=True).clamp(min=1)  # (B, 1)
        steps = torch.arange(x.shape[1], device=x.device)  # (T,)
        mask = steps < lengths  # (B, T)
        flip = torch.where(mask, lengths - 1 - steps, steps)  # (B, T); its own inverse
        h = self.dropout(self.embed(x))  # (B, T, E)
        for layer in range(self.rnn.num_layers):
            if layer > 0:
                h = F.dropout(h, self.rnn.dropout, self.training)
            out = [self.run_direction(h, layer, "")]  # (B, T, H)
            if self.rnn.bidirectional:
                out.append(reverse(self.run_direction(reverse(h, flip), layer, "_reverse"), flip))
            h = torch.cat(out, dim=2)  # (B, T, dirs * H)
        if self.pooling != "last":
            return masked_pool(h, mask, self.pooling)  # (B, output_size)
        last = h.gather(1, (lengths - 1).unsqueeze(2).expand(-1, 1, h.shape[2])).squeeze(1)
        if not self.rnn.bidirectional:
            return last  # (B, H)
        size = self.rnn.hidden_size  # forward ends at the last real token, backward at the first
        return torch.cat([last[:, :size], h[:, 0, size:]], dim=1)  # (B, 2 * H)

    def run_direction(self, h: torch.Tensor, layer: int, suffix: str) -> torch.Tensor:
        """One direction of one layer over ``h`` ``(B, T, D)``; returns ``(B, T, H)``."""
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        weights = [getattr(self.rnn, f"{name}_l{layer}{suffix}") for name in names]
        zeros = h.new_zeros(1, h.shape[0], self.rnn.hidden_size)  # (1, B, H)
        if isinstance(self.rnn, nn.LSTM):
            return torch.lstm(h, (zeros, zeros), weights, True, 1, 0.0, False, False, True)[0]
        return torch.gru(h, zeros, weights, True, 1, 0.0, False, False, True)[0]


def reverse(h: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """Reorder the time steps of ``h`` ``(B, T, D)`` by ``flip`` ``(B, T)``."""
    return h.gather(1, flip.unsqueeze(2).expand(-1, -1, h.shape[2]))
