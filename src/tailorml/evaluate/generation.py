"""Quality and speed of generated text: BLEU and chrF (sacrebleu), exact match,
token-level perplexity, latency per request and per token.

BLEU and chrF are corpus-level, sacrebleu's defaults (13a tokenisation, chrF
with character 6-grams and β = 2), so figures compare with published ones.
chrF's 95 % interval is a percentile bootstrap over rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import sacrebleu

from tailorml.evaluate.metrics import bootstrap_ci
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


def generation_scores(
    texts: list[str], references: list[str], *, tokens_per_s: float | None,
    perplexity: float | None, truncated_sources: int, seed: int = 0,
) -> Scores:  # fmt: skip
    """One split's figures: chrf (headline, with its 95 % interval), bleu,
    exact_match, perplexity (None: the model assigns no token probabilities),
    tokens_per_s (batched generation) and truncated_sources (inputs cut)."""
    low, high = chrf_interval(texts, references, seed)
    figures: dict[str, float | None] = dict(text_scores(texts, references))
    figures |= {"perplexity": perplexity, "tokens_per_s": tokens_per_s,
                "truncated_sources": truncated_sources}  # fmt: skip
    return Scores.model_validate(
        {"headline": "chrf", "ci95": Interval(metric="chrf", low=low, high=high),
         "n": len(texts), **figures}
    )  # fmt: skip


def generation_latency(
    generate: Callable[[str], int], sources: list[str], n: int = 30, warmup: int = 3
) -> dict[str, float]:
    """One request at a time: p50/p95 milliseconds per request and mean
    milliseconds per generated token, over ``n`` sources (cycled).
    ``generate(source)`` writes one text and returns its token count."""
    if not sources or n < 1:
        raise ValueError("latency needs at least one source and one timed call")
    for source in sources[:warmup]:
        generate(source)
    times, tokens = np.empty(n), 0
    for i in range(n):
        start = time.perf_counter_ns()
        tokens += generate(sources[i % len(sources)])
        times[i] = (time.perf_counter_ns() - start) / 1e6
    return {
        "p50_ms": float(np.percentile(times, 50)),
        "p95_ms": float(np.percentile(times, 95)),
        "ms_per_token": float(times.sum() / max(1, tokens)),
        "n": n,
    }
