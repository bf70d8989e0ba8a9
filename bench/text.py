"""Text models on builtin:sentiment in one run: TF-IDF, RNN, Transformer, MiniLM.

One 80/20 stratified split (seed 0) of the 38,158 texts; every contender is
scored on the same 20 %. The deep models hold 10 % of their 80 % out for
early stopping (TF-IDF + logistic regression trains on all of it).

- ``tfidf_logreg``: scikit-learn TF-IDF (words, 1–2 grams) + logistic regression.
- ``rnn``, ``transformer``: examples/sentiment_rnn.yaml, sentiment_transformer.yaml.
- ``minilm_frozen``: examples/sentiment_minilm_frozen.yaml, first with an empty
  embedding cache, then again on the warm cache (``cached_train_seconds``).
- ``minilm_finetuned``: examples/sentiment_minilm.yaml.

Training seconds are the wall time of ``tailorml.train`` (reading, tokenizing,
embedding, training, scoring), or of ``fit`` for scikit-learn. Inference
sentences/s is ``Run.predict`` on the test texts (tokenizing included).

``naive_inference`` runs the fine-tuned network the way a first script does:
the checkpoint's tokenizer through transformers, batches of 128 texts in
random order padded to the longest, fp32, ``torch.no_grad``; ``bf16`` scores
tailorml's inference path in fp32 and bf16. The last line printed is one
JSON object.

    python bench/text.py [--only tfidf_logreg,minilm_frozen] [--rows N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import yaml
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CONTENDERS = ["tfidf_logreg", "rnn", "transformer", "minilm_frozen", "minilm_finetuned"]
CONFIGS = {
    "rnn": "sentiment_rnn.yaml",
    "transformer": "sentiment_transformer.yaml",
    "minilm_frozen": "sentiment_minilm_frozen.yaml",
    "minilm_finetuned": "sentiment_minilm.yaml",
}
NAIVE_BATCH = 128


def split(rows: int | None, folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    from tailorml.data import load_builtin

    frame = load_builtin("sentiment").frames["all"][["text", "sentiment"]]
    if rows is not None:
        frame = frame.sample(rows, random_state=0)
    train, test = train_test_split(
        frame, test_size=0.2, stratify=frame["sentiment"], random_state=0
    )
    train, test = train.reset_index(drop=True), test.reset_index(drop=True)
    train.to_parquet(folder / "train.parquet")
    test.to_parquet(folder / "test.parquet")
    return train, test


def scores(truth: pd.Series, predicted: Any) -> dict[str, float]:
    return {
        "accuracy": float(accuracy_score(truth, predicted)),
        "macro_f1": float(f1_score(truth, predicted, average="macro")),
    }


def run_tfidf(train: pd.DataFrame, test: pd.DataFrame) -> dict[str, float]:
    started = time.perf_counter()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    features = vectorizer.fit_transform(train["text"])
    model = LogisticRegression(max_iter=2000, C=4.0).fit(features, train["sentiment"])
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    predicted = model.predict(vectorizer.transform(test["text"]))
    rate = len(test) / (time.perf_counter() - started)
    return scores(test["sentiment"], predicted) | {
        "train_seconds": seconds,
        "inference_sentences_per_s": rate,
    }


def bench_config(name: str, folder: Path) -> dict[str, Any]:
    """The example's config on the bench's split (validation: 10 % of train)."""
    config = yaml.safe_load((EXAMPLES / CONFIGS[name]).read_text())
    config["data"]["source"] = str(folder / "train.parquet")
    config["data"]["split"] = {
        "method": "fixed",
        "test_file": str(folder / "test.parquet"),
        "validation_fraction": 0.1,
        "seed": 0,
    }
    return config


def run_tailorml(name: str, folder: Path, test: pd.DataFrame) -> tuple[dict[str, float], Any]:
    import tailorml

    config = bench_config(name, folder)
    started = time.perf_counter()
    run = tailorml.train(config, None, quiet=True)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    predicted = run.predict(test)["prediction"]
    rate = len(test) / (time.perf_counter() - started)
    result = scores(test["sentiment"], predicted) | {
        "train_seconds": seconds,
        "inference_sentences_per_s": rate,
        "epochs": len(run.history),
    }
    return result, run


def run_frozen(folder: Path, test: pd.DataFrame) -> dict[str, float]:
    """Twice: on an empty embedding cache, then on the one the first run filled."""
    import tailorml

    result, first = run_tailorml("minilm_frozen", folder, test)
    started = time.perf_counter()
    again = tailorml.train(bench_config("minilm_frozen", folder), None, quiet=True)
    cached = time.perf_counter() - started
    return result | {
        "cached_train_seconds": cached,
        "cache_speedup": result["train_seconds"] / cached,
        "cached_run_same_test_metrics": again.metrics["test"] == first.metrics["test"],
    }


def naive_inference(run: Any, test: pd.DataFrame) -> dict[str, float]:
    """The fine-tuned network as a first script runs it (see the module doc)."""
    from transformers import AutoTokenizer

    from tailorml.features.checkpoint import checkpoint_folder

    model = run.bundle.model.eval()
    encoder = model.encoder("text")
    feature = run.config.input_features[0]
    tokenizer = AutoTokenizer.from_pretrained(str(checkpoint_folder(encoder.options.checkpoint)))
    order = np.random.default_rng(0).permutation(len(test))
    texts = test["text"].astype(str).tolist()
    logits = torch.empty(len(test), len(run.bundle.features.target.labels))
    started = time.perf_counter()
    with torch.no_grad():
        for begin in range(0, len(order), NAIVE_BATCH):
            index = order[begin : begin + NAIVE_BATCH]
            batch = tokenizer(
                [texts[i] for i in index],
                padding="longest",
                truncation=True,
                max_length=feature.preprocessing.max_length,
                return_tensors="pt",
            )
            hidden = encoder.network(**batch).last_hidden_state  # (B, T, D)
            mask = batch["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1)
            logits[torch.from_numpy(index)] = model.decoder(pooled)
    rate = len(test) / (time.perf_counter() - started)
    labels = np.asarray(run.bundle.features.target.labels, dtype=object)
    predicted = labels[logits.argmax(1).numpy()]
    return scores(test["sentiment"], predicted) | {"inference_sentences_per_s": rate}


def precision_change(run: Any, test: pd.DataFrame) -> dict[str, float]:
    """tailorml's inference path in fp32 and in bf16 autocast."""
    out = {}
    for precision in ("fp32", "bf16"):
        run.bundle.config.training.precision = precision
        started = time.perf_counter()
        predicted = run.predict(test)["prediction"]
        rate = len(test) / (time.perf_counter() - started)
        out[precision] = scores(test["sentiment"], predicted)["accuracy"]
        out[f"{precision}_sentences_per_s"] = rate
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(CONTENDERS))
    parser.add_argument("--rows", type=int, default=None, help="a sample, for a quick check")
    args = parser.parse_args()
    chosen = args.only.split(",")
    torch.set_num_threads(os.cpu_count() or 1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["TAILORML_CACHE"] = str(folder / "cache")  # a cold embedding cache
        train, test = split(args.rows, folder)
        results: dict[str, Any] = {"rows": {"train": len(train), "test": len(test)}}
        for name in chosen:
            print(f"[bench] {name} ...", file=sys.stderr, flush=True)
            if name == "tfidf_logreg":
                results[name] = run_tfidf(train, test)
            elif name == "minilm_frozen":
                results[name] = run_frozen(folder, test)
            elif name == "minilm_finetuned":
                results[name], run = run_tailorml(name, folder, test)
                results["naive_inference"] = naive_inference(run, test)
                results["precision"] = precision_change(run, test)
            else:
                results[name] = run_tailorml(name, folder, test)[0]
            print(json.dumps({name: results[name]}), file=sys.stderr, flush=True)
    summarise(results)
    print(json.dumps(results))


def summarise(results: dict[str, Any]) -> None:
    """The ratios the README quotes."""
    tuned, tfidf = results.get("minilm_finetuned"), results.get("tfidf_logreg")
    if tuned and tfidf:
        results["finetuned_minus_tfidf_accuracy"] = tuned["accuracy"] - tfidf["accuracy"]
    naive = results.get("naive_inference")
    if tuned and naive:
        results["inference_speedup_vs_naive"] = (
            tuned["inference_sentences_per_s"] / naive["inference_sentences_per_s"]
        )
        results["inference_accuracy_change_vs_naive"] = tuned["accuracy"] - naive["accuracy"]


if __name__ == "__main__":
    main()
