"""Greedy decoding with vs without the KV cache on a randomly initialised decoder.

A ``Seq2SeqDecoder`` of a realistic small size (d_model 256, 4 layers, 4 heads,
vocabulary 8,000) reads a random source of 32 states and writes 64 new tokens
(no EOS, so every row writes all 64), at batch 1 and 16. Without the cache,
each step recomputes the whole prefix (LM head on the last position only).
The tokens must be identical; tokens/s is new tokens × batch / seconds, the
median of REPEATS runs after one warm-up. The last line printed is one JSON
object.

    python bench/generation.py [--threads 1] [--repeats 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import torch

from tailorml.models.decoders.seq2seq import Seq2SeqDecoder, Seq2SeqOptions
from tailorml.models.decoding import Generation, SpecialTokens, greedy

VOCAB, SOURCE, NEW_TOKENS = 8000, 32, 64
OPTIONS = Seq2SeqOptions(
    d_model=256, num_heads=4, num_layers=4, mlp_ratio=4, dropout=0.0, max_length=128
)
IDS = SpecialTokens(bos=1, eos=None, pad=0)


def timed(call: Any, repeats: int, device: torch.device) -> tuple[float, Generation]:
    """Median seconds of ``call()`` over ``repeats`` runs after a warm-up, and its output."""
    out = call()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        out = call()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    return statistics.median(times), out


@torch.no_grad()
def compare(model: Seq2SeqDecoder, batch: int, repeats: int) -> dict[str, float]:
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(batch)
    memory = torch.randn(batch, SOURCE, OPTIONS.d_model, generator=generator).to(device)
    mask = torch.ones(batch, SOURCE, dtype=torch.bool, device=device)
    seconds: dict[bool, float] = {}
    tokens: dict[bool, torch.Tensor] = {}
    for use_cache in (True, False):
        seconds[use_cache], out = timed(
            lambda c=use_cache: greedy(model, memory, mask, IDS, NEW_TOKENS, use_cache=c),
            repeats,
            device,
        )
        tokens[use_cache] = out.tokens
    assert tokens[True].shape == (batch, NEW_TOKENS)
    assert torch.equal(tokens[True], tokens[False]), "cached and uncached tokens differ"
    cached = batch * NEW_TOKENS / seconds[True]
    uncached = batch * NEW_TOKENS / seconds[False]
    return {
        "cached_tokens_per_s": round(cached, 1),
        "uncached_tokens_per_s": round(uncached, 1),
        "speedup": round(cached / uncached, 2),
        "cached_s": round(seconds[True], 4),
        "uncached_s": round(seconds[False], 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = Seq2SeqDecoder(VOCAB, OPTIONS).to(args.device).eval()
    result: dict[str, Any] = {
        "device": args.device,
        "threads": args.threads,
        "repeats": args.repeats,
        "parameters": sum(p.numel() for p in model.parameters()),
        "new_tokens": NEW_TOKENS,
        "source_length": SOURCE,
    }
    for batch in (1, 16):
        result[f"batch_{batch}"] = compare(model, batch, args.repeats)
        print(f"batch {batch}: {result[f'batch_{batch}']}", flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
