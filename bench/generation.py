"""Generation: the candidates' quality and speed on builtin:django_fr, and greedy
decoding with vs without the KV cache.

``--quality`` trains, in one run, the baselines (copy, retrieval) and the
shipped generator configs (``examples/django_fr_*.yaml``: the from-scratch
seq2seq and the LoRA-tuned SmolLM2) on the same split, and reports per
candidate test chrF (95 % interval), BLEU, exact match, training seconds,
batched tokens/s and one-request latency, plus each candidate's chrF minus the
best baseline's.

Then the cache comparison:

A ``Seq2SeqDecoder`` of a realistic small size (d_model 256, 4 layers, 4 heads,
vocabulary 8,000) reads a random source of 32 states and writes 64 new tokens
(no EOS, so every row writes all 64), at batch 1 and 16. Without the cache,
each step recomputes the whole prefix (LM head on the last position only).
The tokens must be identical; tokens/s is new tokens × batch / seconds, the
median of REPEATS runs after one warm-up. The last line printed is one JSON
object.

    python bench/generation.py [--threads 1] [--repeats 3] [--device cpu] [--quality]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
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


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
QUALITY = {
    "copy": {"name": "copy"},
    "retrieval": {"name": "retrieval"},
    "seq2seq": EXAMPLES / "django_fr_seq2seq.yaml",
    "smollm2_lora": EXAMPLES / "django_fr_smollm2_lora.yaml",
}
BASELINES = ("copy", "retrieval")


def quality() -> dict[str, Any]:
    """Every candidate trained and scored on builtin:django_fr's test split."""
    from tailorml.config import ModelConfig, load_config
    from tailorml.pipelines import train_generator

    base = load_config(EXAMPLES / "django_fr_seq2seq.yaml").model_dump(mode="json")
    found: dict[str, Any] = {}
    for name, spec in QUALITY.items():
        if isinstance(spec, Path):
            config = load_config(spec)
        else:  # a baseline on the same data, split and limits
            config = ModelConfig.model_validate(base | {"generator": spec})
        run = train_generator(config, quiet=True)
        test, facts = run.metrics.test, run.metrics.generation
        assert test is not None and facts is not None and run.metrics.train is not None
        found[name] = {
            "chrf": round(test["chrf"], 2),
            "chrf_ci95": [round(test.ci95.low or 0, 2), round(test.ci95.high or 0, 2)]
            if test.ci95 else None,
            "bleu": round(test["bleu"], 2),
            "exact_match": round(test["exact_match"], 3),
            "perplexity": test.figures.get("perplexity"),
            "train_s": round(run.metrics.train.wall_seconds or 0.0, 1),
            "tokens_per_s": round(test["tokens_per_s"], 1),
            "latency_p95_ms": round((facts.latency or {}).get("p95_ms", 0.0), 2),
            "ms_per_token": round((facts.latency or {}).get("ms_per_token", 0.0), 3),
            "parameters": facts.parameters,
        }  # fmt: skip
        print(f"{name}: {found[name]}", flush=True)
    best = max(found[b]["chrf"] for b in BASELINES)
    for name in found:
        found[name]["chrf_over_best_baseline"] = round(found[name]["chrf"] - best, 2)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quality", action="store_true", help="also train every candidate")
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
    if args.quality:
        torch.set_num_threads(max(1, os.cpu_count() or 1))  # training uses every core
        result["quality"] = quality()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
