"""Quality and speed of generated text: BLEU and chrF (sacrebleu), exact match,
token-level perplexity, latency per request and per token.

BLEU and chrF are corpus-level, sacrebleu's defaults (13a tokenisation, chrF
with character 6-grams and β = 2), so figures compare with published ones.
chrF's 95 % interval is a percentile bootstrap over rows.
"""

from __future__ import annotations

import math
import time

import numpy as np
import sacrebleu

from tailorml.evaluate.metrics import bootstrap_ci
from tailorml.models.generation import Generator, Pairs
from tailorml.records.metrics import Interval, Scores


def text_scores(hypotheses: list[str], references: list[str], seed: int = 0) -> dict[str, float]:
    """chrF, BLEU (0–100) and exact match (0–1, after stripping outer spaces)."""
    return {
        "chrf": float(sacrebleu.corpus_chrf(hypotheses, [references]).score),
        "bleu": float(sacrebleu.corpus_bleu(hypotheses, [references]).score),
        "exact_match": float(
            np.mean([h.strip() == r.strip() for h, r in zip(hypotheses, references, strict=True)])
        ),  # fmt: skip
    }


def chrf_interval(
    hypotheses: list[str], references: list[str], seed: int = 0, resamples: int = 200
) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of corpus chrF over rows."""

    def chrf(rows: np.ndarray) -> float:
        picked = [hypotheses[i] for i in rows], [references[i] for i in rows]
        return float(sacrebleu.corpus_chrf(picked[0], [picked[1]]).score)

    return bootstrap_ci(chrf, len(hypotheses), n_resamples=resamples, seed=seed)


def score_generator(generator: Generator, pairs: Pairs, seed: int = 0) -> tuple[Scores, list[str]]:
    """Scores of ``generator`` on labelled pairs, and the texts it wrote.

    Figures: chrf (headline, with a 95 % interval), bleu, exact_match,
    perplexity (generators with token probabilities), tokens_per_s (batched
    generation), truncated_sources (inputs cut to ``max_source_tokens``).
    """
    started = time.perf_counter()
    written = generator.generate(pairs.sources)
    seconds = time.perf_counter() - started
    texts = [w.text for w in written]
    low, high = chrf_interval(texts, pairs.targets, seed)
    figures: dict[str, float | None] = dict(text_scores(texts, pairs.targets))
    figures["perplexity"] = None
    if generator.scores_tokens:
        total, count = generator.log_likelihood(pairs)
        figures["perplexity"] = math.exp(-total / count)
    figures["tokens_per_s"] = sum(w.tokens for w in written) / seconds if seconds else None
    figures["truncated_sources"] = sum(w.source_truncated for w in written)
    scores = Scores.model_validate(
        {"headline": "chrf", "ci95": Interval(metric="chrf", low=low, high=high),
         "n": len(pairs), **figures}
    )  # fmt: skip
    return scores, texts


def generation_latency(
    generator: Generator, sources: list[str], n: int = 30, warmup: int = 3
) -> dict[str, float]:
    """One request at a time: p50/p95 milliseconds per request and mean
    milliseconds per generated token, over ``n`` sources (cycled)."""
    if not sources or n < 1:
        raise ValueError("latency needs at least one source and one timed call")
    for source in sources[:warmup]:
        generator.generate([source])
    times, tokens = np.empty(n), 0
    for i in range(n):
        start = time.perf_counter_ns()
        out = generator.generate([sources[i % len(sources)]])
        times[i] = (time.perf_counter_ns() - start) / 1e6
        tokens += out[0].tokens
    return {
        "p50_ms": float(np.percentile(times, 50)),
        "p95_ms": float(np.percentile(times, 95)),
        "ms_per_token": float(times.sum() / max(1, tokens)),
        "n": n,
    }
