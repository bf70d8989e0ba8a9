"""Transformer decoder for encoder–decoder tasks, written out: embeddings →
pre-norm blocks of (causal self-attention, cross-attention, MLP) → norm → LM head.

``forward`` trains by teacher forcing on whole target sequences; ``start`` and
``step`` decode one position at a time with a KV cache (see
``tailorml.models.decoding``). Both run the same blocks, so the cached logits
equal the full forward's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from torch import Tensor, nn

from tailorml.config.model import STRICT_TYPES

KeysValues = tuple[Tensor, Tensor]  # each (B, H, S, D / H)


class Seq2SeqOptions(BaseModel):
    """Options of the sequence decoder."""

    model_config = ConfigDict(extra="forbid", **STRICT_TYPES)

    d_model: int = Field(default=256, ge=1, description="Model width.")
    num_heads: int = Field(default=4, ge=1, description="Must divide d_model.")
    num_layers: int = Field(default=3, ge=1, le=24)
    mlp_ratio: int = Field(default=4, ge=1, description="MLP hidden size / d_model.")
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
    max_length: int = Field(default=128, ge=1, description="Longest target (position table).")
    tie_embeddings: bool = Field(default=True, description="LM head shares the token embedding.")

    @field_validator("num_heads")
    @classmethod
    def _heads_divide_width(cls, heads: int, info: ValidationInfo) -> int:
        width = info.data.get("d_model")
        if width is not None and width % heads:
            raise ValueError(f"d_model {width} is not divisible by num_heads {heads}")
        return heads


@dataclass
class DecoderCache:
    """What decoding keeps between steps, one row per sequence being decoded."""

    memory: Tensor | None  # (B, S, M), only without the KV cache: each step recomputes all
    memory_mask: Tensor  # (B, S) True at real source tokens
    prefix: Tensor  # (B, t) the tokens fed so far
    cross: list[KeysValues] = field(default_factory=list)  # per layer, the source's, once
    past: list[KeysValues] = field(default_factory=list)  # per layer, the t past positions'

    def select(self, index: Tensor) -> DecoderCache:
        """The cache of rows ``index`` ``(B',)``, in that order (beam search reorders)."""
        return DecoderCache(
            memory=None if self.memory is None else self.memory[index],
            memory_mask=self.memory_mask[index],
            prefix=self.prefix[index],
            cross=[(k[index], v[index]) for k, v in self.cross],
            past=[(k[index], v[index]) for k, v in self.past],
        )


class Attention(nn.Module):
    """Multi-head attention whose keys and values are projected separately, so
    they can be cached: the past positions' for self-attention, the source's
    for cross-attention."""

    def __init__(self, width: int, heads: int, kv_size: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.attn_dropout = dropout
        self.query = nn.Linear(width, width)
        self.key_value = nn.Linear(kv_size, 2 * width)
        self.proj = nn.Linear(width, width)
        self.dropout = nn.Dropout(dropout)

    def keys_values(self, x: Tensor) -> KeysValues:
        """``x`` ``(B, S, kv_size)`` → keys and values, each ``(B, H, S, D / H)``."""
        b, s, _ = x.shape
        k, v = self.key_value(x).view(b, s, 2, self.heads, -1).permute(2, 0, 3, 1, 4)
        return k, v

    def forward(self, x: Tensor, kv: KeysValues, mask: Tensor | None, causal: bool) -> Tensor:
        """Queries from ``x`` ``(B, T, D)`` attend to ``kv``; ``mask`` ``(B, S)``
        True where a key may be read → ``(B, T, D)``."""
        b, t, d = x.shape
        q = self.query(x).view(b, t, self.heads, -1).transpose(1, 2)  # (B, H, T, D / H)
        attn_mask = None if mask is None else mask[:, None, None, :]  # (B, 1, 1, S)
        p = self.attn_dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(
            q, *kv, attn_mask=attn_mask, dropout_p=p, is_causal=causal
        )  # (B, H, T, D / H)
        out = out.transpose(1, 2).reshape(b, t, d)  # (B, T, D)
        return self.dropout(self.proj(out))


class Block(nn.Module):
    """Pre-norm block: x + self-attention, x + cross-attention, x + MLP, each on norm(x)."""

    def __init__(self, options: Seq2SeqOptions, memory_size: int) -> None:
        super().__init__()
        width, heads, p = options.d_model, options.num_heads, options.dropout
        self.norm1 = nn.LayerNorm(width)
        self.self_attn = Attention(width, heads, width, p)
        self.norm2 = nn.LayerNorm(width)
        self.cross_attn = Attention(width, heads, memory_size, p)
        self.norm3 = nn.LayerNorm(width)
        hidden = options.mlp_ratio * width
        self.mlp = nn.Sequential(
            nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, width), nn.Dropout(p)
        )

    def forward(
        self, h: Tensor, cross: KeysValues, memory_mask: Tensor, past: KeysValues | None
    ) -> tuple[Tensor, KeysValues]:
        """``h`` ``(B, T, D)`` → ``(B, T, D)`` and the self-attention keys/values
        so far. Without ``past``, the T positions attend causally among themselves;
        with it, T is 1 and the new position reads every past one."""
        x = self.norm1(h)
        k, v = self.self_attn.keys_values(x)  # (B, H, T, D / H) each
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)  # (B, H, t+1, ·)
        h = h + self.self_attn(x, (k, v), None, causal=past is None)  # (B, T, D)
        h = h + self.cross_attn(self.norm2(h), cross, memory_mask, causal=False)  # (B, T, D)
        h = h + self.mlp(self.norm3(h))  # (B, T, D)
        return h, (k, v)


class Seq2SeqDecoder(nn.Module):
    """Token + learned position embeddings → N blocks → LayerNorm → LM head.

    Args:
        vocab_size: target tokens, padding, BOS and EOS included.
        options: width, depth, heads, dropout, position table, weight tying.
        memory_size: width of the encoder's per-token states (default ``d_model``).
    """

    def __init__(
        self, vocab_size: int, options: Seq2SeqOptions, memory_size: int | None = None
    ) -> None:
        super().__init__()
        width = options.d_model
        self.max_length = options.max_length
        self.tokens = nn.Embedding(vocab_size, width)
        self.positions = nn.Embedding(options.max_length, width)
        self.dropout = nn.Dropout(options.dropout)
        self.blocks = nn.ModuleList(
            Block(options, memory_size or width) for _ in range(options.num_layers)
        )
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab_size, bias=False)
        self.apply(_init_weights)
        if options.tie_embeddings:
            self.head.weight = self.tokens.weight

    def forward(self, tokens: Tensor, memory: Tensor, memory_mask: Tensor) -> Tensor:
        """Teacher forcing: ``tokens`` ``(B, T)`` (BOS first), ``memory`` ``(B, S, M)``,
        ``memory_mask`` ``(B, S)`` True at real source tokens → logits ``(B, T, V)``,
        position t's from tokens ≤ t only.

        Raises:
            ValueError: T exceeds ``max_length``, or a row has no real source token.
        """
        return self.head(self.hidden_states(tokens, memory, memory_mask))  # (B, T, V)

    def hidden_states(self, tokens: Tensor, memory: Tensor, memory_mask: Tensor) -> Tensor:
        """``forward`` before the LM head → ``(B, T, D)``, normalised."""
        _check_mask(memory_mask)
        h = self.embed(tokens, start=0)  # (B, T, D)
        for block, cross in zip(self.blocks, self.source_keys_values(memory), strict=True):
            h, _ = block(h, cross, memory_mask, past=None)  # (B, T, D)
        return self.norm(h)  # (B, T, D)

    def start(self, memory: Tensor, memory_mask: Tensor, use_cache: bool = True) -> DecoderCache:
        """The cache before the first step: the source's cross-attention keys and
        values, or, with ``use_cache=False``, the memory itself."""
        _check_mask(memory_mask)
        prefix = memory.new_zeros(memory.shape[0], 0, dtype=torch.long)  # (B, 0)
        if not use_cache:
            return DecoderCache(memory=memory, memory_mask=memory_mask, prefix=prefix)
        cross = self.source_keys_values(memory)
        return DecoderCache(memory=None, memory_mask=memory_mask, prefix=prefix, cross=cross)

    def step(self, last_tokens: Tensor, cache: DecoderCache) -> tuple[Tensor, DecoderCache]:
        """Feed ``last_tokens`` ``(B,)`` at the next position → logits ``(B, V)``
        for the position after it, and the cache grown by one position."""
        prefix = torch.cat([cache.prefix, last_tokens[:, None]], dim=1)  # (B, t+1)
        if cache.memory is not None:  # no KV cache: recompute the whole prefix
            h = self.hidden_states(prefix, cache.memory, cache.memory_mask)  # (B, t+1, D)
            return self.head(h[:, -1]), DecoderCache(cache.memory, cache.memory_mask, prefix)
        h = self.embed(last_tokens[:, None], start=cache.prefix.shape[1])  # (B, 1, D)
        past: list[KeysValues] = []
        for i, block in enumerate(self.blocks):
            layer_past = cache.past[i] if cache.past else None
            h, kv = block(h, cache.cross[i], cache.memory_mask, past=layer_past)  # (B, 1, D)
            past.append(kv)
        logits = self.head(self.norm(h))[:, 0]  # (B, V)
        return logits, DecoderCache(None, cache.memory_mask, prefix, cache.cross, past)

    def source_keys_values(self, memory: Tensor) -> list[KeysValues]:
        """Every layer's cross-attention keys and values of ``memory`` ``(B, S, M)``."""
        blocks = cast(list[Block], self.blocks)  # a ModuleList iterates as plain Modules
        return [block.cross_attn.keys_values(memory) for block in blocks]

    def embed(self, tokens: Tensor, start: int) -> Tensor:
        """``tokens`` ``(B, T)`` at positions ``start …`` → ``(B, T, D)``."""
        end = start + tokens.shape[1]
        if end > self.max_length:
            raise ValueError(f"target position {end - 1} is past max_length {self.max_length}")
        positions = torch.arange(start, end, device=tokens.device)  # (T,)
        return self.dropout(self.tokens(tokens) + self.positions(positions))  # (B, T, D)


def _init_weights(module: nn.Module) -> None:
    """GPT-2's: normal(0, 0.02) weights and zero biases, so tied logits start small."""
    if isinstance(module, nn.Linear | nn.Embedding):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


def _check_mask(memory_mask: Tensor) -> None:
    # a row with no key to read would make attention NaN, silently
    if not bool(memory_mask.any(dim=1).all()):
        raise ValueError("every source row needs at least one real token in memory_mask")
