"""Decoding: greedy, beam search and sampling, over any model that writes one
position at a time.

A model plugs in with two methods (``Seq2SeqDecoder`` has them)::

    start(memory, memory_mask, use_cache=True) -> cache
    step(last_tokens (B,), cache) -> (logits (B, V), cache)

and beam search also needs ``cache.select(index)``, the cache of rows ``index``.
With ``use_cache=False`` the model recomputes the whole prefix at each step;
the tokens are the same, only slower (``bench/generation.py``).

Every algorithm returns the generated ids after BOS, EOS included, then padding,
and the sum of the model's log-probabilities of those tokens (temperature and
top-k/top-p shape what sampling draws, not the reported log-probability). The
model never writes padding or BOS (unless it is also EOS).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import torch

NEG_INF = float("-inf")
Pick = Callable[[torch.Tensor], torch.Tensor]  # log-probs (B, V) -> chosen tokens (B,)


class StepModel(Protocol):
    """A model decoded one position at a time."""

    def start(self, memory: torch.Tensor, memory_mask: torch.Tensor, use_cache: bool = ...) -> Any:
        """``memory`` ``(B, S, M)``, ``memory_mask`` ``(B, S)`` → the first cache."""

    def step(self, last_tokens: torch.Tensor, cache: Any) -> tuple[torch.Tensor, Any]:
        """``last_tokens`` ``(B,)`` → next-token logits ``(B, V)`` and the new cache."""


@dataclass(frozen=True)
class SpecialTokens:
    """Ids of the special tokens; ``eos=None`` never stops early (benchmarks)."""

    bos: int
    eos: int | None
    pad: int


@dataclass
class Generation:
    """What decoding returns.

    Attributes:
        tokens: ``(B, L)`` int64 generated ids, EOS included, then ``pad``; L is at
            most ``max_new_tokens``.
        log_probs: ``(B,)`` float32 summed log-probabilities of those tokens.
    """

    tokens: torch.Tensor
    log_probs: torch.Tensor


def greedy(
    model: StepModel,
    memory: torch.Tensor,
    memory_mask: torch.Tensor,
    ids: SpecialTokens,
    max_new_tokens: int,
    use_cache: bool = True,
) -> Generation:
    """The most likely token at each step."""
    return _decode(model, memory, memory_mask, ids, max_new_tokens, _argmax, use_cache)


def sample(
    model: StepModel,
    memory: torch.Tensor,
    memory_mask: torch.Tensor,
    ids: SpecialTokens,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
    use_cache: bool = True,
) -> Generation:
    """Draw each token from the model's distribution, sharpened by ``temperature``
    and cut to the ``top_k`` most likely tokens and then to the nucleus ``top_p``.

    Raises:
        ValueError: ``temperature`` ≤ 0, ``top_k`` < 1 or ``top_p`` outside (0, 1].
    """
    draw = sampler(temperature, top_k, top_p, generator)
    return _decode(model, memory, memory_mask, ids, max_new_tokens, draw, use_cache)


def sampler(
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Pick:
    """The draw ``sample`` makes from log-probs ``(B, V)``: one token per row ``(B,)``.

    Raises:
        ValueError: ``temperature`` ≤ 0, ``top_k`` < 1 or ``top_p`` outside (0, 1].
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be ≥ 1, got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")

    def draw(log_probs: torch.Tensor) -> torch.Tensor:
        logits = log_probs / temperature  # (B, V)
        if top_k is not None:
            logits = top_k_filter(logits, top_k)
        if top_p is not None:
            logits = top_p_filter(logits, top_p)
        return torch.multinomial(logits.softmax(-1), 1, generator=generator)[:, 0]  # (B,)

    return draw


def stream(
    model: StepModel,
    memory: torch.Tensor,
    memory_mask: torch.Tensor,
    ids: SpecialTokens,
    max_new_tokens: int,
    pick: Pick | None = None,
) -> Iterator[torch.Tensor]:
    """The tokens ``(B,)`` of each step as they are chosen (greedy unless ``pick``
    is a ``sampler``), with the KV cache; the same tokens ``greedy``/``sample``
    return, for a server that sends text as it is written."""
    for token, _ in _steps(model, memory, memory_mask, ids, max_new_tokens, pick or _argmax, True):
        yield token


def beam_search(
    model: StepModel,
    memory: torch.Tensor,
    memory_mask: torch.Tensor,
    ids: SpecialTokens,
    max_new_tokens: int,
    beam_size: int = 4,
    alpha: float = 0.0,
    use_cache: bool = True,
) -> Generation:
    """Keep the ``beam_size`` best prefixes per row, ranked by log-probability over
    GNMT's length penalty ``((5 + length) / 6) ** alpha``; a beam that wrote EOS
    stays, frozen, and the search stops once every beam has. Returns the best beam.
    """
    b, k = memory.shape[0], beam_size
    device = memory.device
    rows = torch.arange(b, device=device).repeat_interleave(k)  # (B*K,) source row of each beam
    cache = model.start(memory[rows], memory_mask[rows], use_cache=use_cache)
    scores = torch.full((b, k), NEG_INF, device=device)  # (B, K) summed log-probs
    scores[:, 0] = 0.0  # one live beam at first, so the K beams start out different
    lengths = torch.zeros(b, k, dtype=torch.long, device=device)  # (B, K)
    done = torch.zeros(b, k, dtype=torch.bool, device=device)  # (B, K)
    tokens = torch.zeros(b * k, 0, dtype=torch.long, device=device)  # (B*K, t)
    last = torch.full((b * k,), ids.bos, dtype=torch.long, device=device)  # (B*K,)
    offsets = torch.arange(b, device=device)[:, None] * k  # (B, 1)
    for _ in range(_check_length(max_new_tokens)):
        logits, cache = model.step(last, cache)  # (B*K, V)
        log_probs = _log_probs(logits, ids).view(b, k, -1)  # (B, K, V)
        vocab = log_probs.shape[-1]
        ended = torch.full((vocab,), NEG_INF, device=device)
        ended[ids.pad] = 0.0  # an ended beam's one continuation: padding, at no cost
        log_probs = torch.where(done[..., None], ended, log_probs)  # (B, K, V)
        total = scores[..., None] + log_probs  # (B, K, V)
        grown = lengths + (~done).long()  # (B, K)
        ranked = total / _length_penalty(grown, alpha)[..., None]  # (B, K, V)
        best = ranked.view(b, -1).topk(k, dim=1).indices  # (B, K) into K*V, best first
        beam, token = best // vocab, best % vocab  # (B, K) each
        scores = total.view(b, -1).gather(1, best)  # (B, K)
        lengths = grown.gather(1, beam)  # (B, K)
        done = done.gather(1, beam)  # (B, K)
        if ids.eos is not None:
            done = done | (token == ids.eos)
        parent = (beam + offsets).view(-1)  # (B*K,) row of each new beam's parent
        tokens = torch.cat([tokens[parent], token.view(-1, 1)], dim=1)  # (B*K, t+1)
        if bool(done.all()):
            break
        cache = cache.select(parent)
        last = token.view(-1)  # (B*K,)
    return Generation(tokens.view(b, k, -1)[:, 0], scores[:, 0])


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """``logits`` ``(B, V)`` with all but the ``k`` largest per row set to -inf."""
    kth = logits.topk(min(k, logits.shape[-1]), dim=-1).values[:, -1:]  # (B, 1)
    return logits.masked_fill(logits < kth, NEG_INF)


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """``logits`` ``(B, V)`` with -inf outside the nucleus: the smallest set of most
    likely tokens whose probability reaches ``p`` (Holtzman et al., 2020)."""
    ordered, order = logits.sort(dim=-1, descending=True)  # (B, V) each
    probs = ordered.softmax(-1)  # (B, V)
    above = probs.cumsum(-1) - probs  # (B, V) probability of the tokens ranked higher
    drop = above >= p  # the most likely token always stays: nothing ranks above it
    drop = drop.scatter(-1, order, drop)  # back to vocabulary order
    return logits.masked_fill(drop, NEG_INF)


def _decode(
    model: StepModel,
    memory: torch.Tensor,
    memory_mask: torch.Tensor,
    ids: SpecialTokens,
    max_new_tokens: int,
    pick: Pick,
    use_cache: bool,
) -> Generation:
    """One token per row and step, chosen by ``pick`` from log-probs ``(B, V)``,
    until every row has written EOS or ``max_new_tokens`` are written."""
    total = torch.zeros(memory.shape[0], device=memory.device)  # (B,)
    written: list[torch.Tensor] = []
    for token, gained in _steps(model, memory, memory_mask, ids, max_new_tokens, pick, use_cache):
        written.append(token)
        total = total + gained
    return Generation(torch.stack(written, dim=1), total)  # (B, L), (B,)


def _steps(
    model: StepModel,
    memory: torch.Tensor,
    memory_mask: torch.Tensor,
    ids: SpecialTokens,
    max_new_tokens: int,
    pick: Pick,
    use_cache: bool,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Per step: the tokens ``(B,)`` (``pad`` for rows already ended) and their
    log-probabilities ``(B,)`` (0 for ended rows)."""
    b, device = memory.shape[0], memory.device
    cache = model.start(memory, memory_mask, use_cache=use_cache)
    last = torch.full((b,), ids.bos, dtype=torch.long, device=device)  # (B,)
    done = torch.zeros(b, dtype=torch.bool, device=device)  # (B,)
    for _ in range(_check_length(max_new_tokens)):
        logits, cache = model.step(last, cache)  # (B, V)
        log_probs = _log_probs(logits, ids)  # (B, V)
        token = pick(log_probs).masked_fill(done, ids.pad)  # (B,)
        gained = log_probs.gather(1, token[:, None])[:, 0]  # (B,)
        yield token, gained.masked_fill(done, 0.0)
        if ids.eos is not None:
            done = done | (token == ids.eos)
            if bool(done.all()):
                return
        last = token


def _argmax(log_probs: torch.Tensor) -> torch.Tensor:
    return log_probs.argmax(dim=-1)  # (B,)


def _log_probs(logits: torch.Tensor, ids: SpecialTokens) -> torch.Tensor:
    """Log-softmax in float32 over the tokens the model may write (not pad nor BOS)."""
    logits = logits.float()
    banned = [t for t in (ids.pad, ids.bos) if t != ids.eos]
    if banned:
        index = torch.tensor(banned, device=logits.device)
        logits = logits.index_fill(-1, index, NEG_INF)  # (B, V), a copy
    return logits.log_softmax(dim=-1)


def _length_penalty(lengths: torch.Tensor, alpha: float) -> torch.Tensor:
    """GNMT's ``((5 + length) / 6) ** alpha`` (Wu et al., 2016)."""
    return ((5.0 + lengths.float()) / 6.0) ** alpha


def _check_length(max_new_tokens: int) -> int:
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be ≥ 1, got {max_new_tokens}")
    return max_new_tokens
