"""Transformer encoder for text, written out: embeddings → pre-norm blocks → pooling.

Padding is masked out of attention and pooling, so a row encodes the same
alone as inside any padded batch.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import ConfigDict, Field, ValidationInfo, field_validator
from torch import nn

from tailorml.config import EncoderConfig
from tailorml.errors import ConfigError
from tailorml.features.meta import FeatureMeta
from tailorml.models.registry import Encoder, masked_pool, register_encoder


class TransformerOptions(EncoderConfig):
    """Options of the ``transformer`` encoder."""

    model_config = ConfigDict(extra="forbid")

    name: Literal["transformer"] = "transformer"
    embedding_size: int = Field(default=64, ge=1, description="Model width (d_model).")
    num_heads: int = Field(default=4, ge=1, description="Must divide embedding_size.")
    num_layers: int = Field(default=2, ge=1, le=24)
    ffn_size: int = Field(default=128, ge=1, description="Hidden size of each block's MLP.")
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
    max_length: int = Field(default=512, ge=1, description="Longest sequence (position table).")
    pooling: Literal["mean", "cls", "max"] = Field(
        default="mean", description="mean/max over real tokens, or a learned CLS token."
    )

    @field_validator("num_heads")
    @classmethod
    def _heads_divide_width(cls, heads: int, info: ValidationInfo) -> int:
        width = info.data.get("embedding_size")
        if width is not None and width % heads:
            raise ValueError(f"embedding_size {width} is not divisible by num_heads {heads}")
        return heads


class Block(nn.Module):
    """Pre-norm block: x + attention(norm(x)), then x + MLP(norm(x))."""

    def __init__(self, width: int, heads: int, ffn_size: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.attn_dropout = dropout
        self.norm1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, ffn_size), nn.GELU(), nn.Linear(ffn_size, width), nn.Dropout(dropout)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``h`` ``(B, T, D)``, ``mask`` ``(B, T)`` True at real tokens → ``(B, T, D)``."""
        h = h + self.attend(self.norm1(h), mask)  # (B, T, D)
        return h + self.mlp(self.norm2(h))  # (B, T, D)

    def attend(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Multi-head self-attention where no position attends to padding."""
        b, t, d = h.shape
        q, k, v = self.qkv(h).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        # q, k, v: (B, heads, T, D / heads); the mask broadcasts over heads and queries.
        p = self.attn_dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :], dropout_p=p)
        out = out.transpose(1, 2).reshape(b, t, d)  # (B, T, D)
        return self.dropout(self.proj(out))


@register_encoder("transformer", TransformerOptions, types={"text"})
class TransformerEncoder(Encoder):
    """Token + learned position embeddings → N pre-norm blocks → LayerNorm → pooling.

    Args:
        meta: the text feature, ``shape == (T,)``; ``vocab_size`` counts padding.

    Raises:
        ConfigError: the text is longer than ``max_length``.
    """

    def __init__(self, meta: FeatureMeta, options: TransformerOptions) -> None:
        super().__init__()
        if meta.vocab_size is None:
            raise ValueError(f"text feature '{meta.name}' has no vocab_size")
        if meta.shape[0] > options.max_length:
            raise ConfigError(
                f"text feature '{meta.name}' has {meta.shape[0]} tokens, more than the "
                f"transformer's max_length {options.max_length}."
            )
        width = options.embedding_size
        self.tokens = nn.Embedding(meta.vocab_size, width, padding_idx=0)
        self.positions = nn.Embedding(options.max_length, width)
        self.cls = nn.Parameter(torch.randn(width)) if options.pooling == "cls" else None
        self.dropout = nn.Dropout(options.dropout)
        self.blocks = nn.ModuleList(
            Block(width, options.num_heads, options.ffn_size, options.dropout)
            for _ in range(options.num_layers)
        )
        self.norm = nn.LayerNorm(width)
        self.pooling = options.pooling
        self.output_size = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Token ids ``(B, T)`` int64, right-padded with 0 → ``(B, output_size)``."""
        h, mask = self.states(x)  # (B, T', D), (B, T')
        if self.pooling == "cls":
            return h[:, 0]  # (B, D)
        return masked_pool(h, mask, self.pooling)  # (B, D)

    def states(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-token states before pooling, for a decoder that attends to them:
        ``(B, T', D)`` normalised and the mask ``(B, T')``, True at real tokens
        (T' = T + 1 with a CLS token)."""
        mask = x != 0  # (B, T)
        mask[:, 0] = True  # an empty row reads one pad token rather than nothing
        # one row of positions per example: DP-SGD's per-sample gradients need a batch axis
        positions = torch.arange(x.shape[1], device=x.device).expand_as(x).contiguous()  # (B, T)
        h = self.tokens(x) + self.positions(positions)  # (B, T, D)
        if self.cls is not None:
            h = torch.cat([self.cls.expand(x.shape[0], 1, -1), h], dim=1)  # (B, 1 + T, D)
            mask = F.pad(mask, (1, 0), value=True)  # (B, 1 + T)
        h = self.dropout(h)
        for block in self.blocks:
            h = block(h, mask)  # (B, T', D)
        return self.norm(h), mask  # (B, T', D), (B, T')
