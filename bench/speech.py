"""Spoken digits (builtin:fsdd) in one run: MFCC statistics + logistic regression
against tailorml's network (examples/fsdd_cnn.yaml), on the data set's own split
(recordings 0-4 of each speaker and digit are the 300 test clips).

- ``mfcc_logreg`` (baseline): each clip decoded with soundfile, 20 MFCCs per
  25 ms window every 10 ms (the same front end as tailorml's ``features:
  mfcc``), each coefficient's mean and standard deviation over the clip, then
  scikit-learn's StandardScaler + LogisticRegression on all 2,100 training clips.
- ``tailorml``: ``tailorml.train`` on examples/fsdd_cnn.yaml (a 1-D CNN over 40
  log-mel bands with SpecAugment; 10 % of the training clips held out).

Training seconds are wall time from the clips' bytes to a fitted model
(decoding and features included). Latency is one clip's bytes to its label
(decode, features, model), the median of ``--repeats`` calls after 20 warm-up calls.
The last line printed is one JSON object.

    python bench/speech.py [--repeats 50]
"""

from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import soundfile
import torch
from onnx_latency import median_ms  # bench/ is the script's folder
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

ROOT = Path(__file__).resolve().parents[1]
MFCC = {"features": "mfcc", "n_mels": 40, "n_mfcc": 20, "window_ms": 25.0, "hop_ms": 10.0}


def mfcc_statistics(clips: pd.Series) -> np.ndarray:
    """Each clip's 20 MFCCs' mean and standard deviation over its own frames: (N, 40)."""
    from tailorml.features.audio import frames

    rows = []
    for clip in clips:
        samples, rate = soundfile.read(io.BytesIO(clip), dtype="float32")
        mfcc = frames(torch.from_numpy(samples)[None], MFCC, rate)[0].numpy()  # (T, 20)
        rows.append(np.concatenate([mfcc.mean(0), mfcc.std(0)]))
    return np.stack(rows)


def scores(truth: pd.Series, predicted: Any) -> dict[str, float]:
    return {
        "accuracy": float(accuracy_score(truth, predicted)),
        "macro_f1": float(f1_score(truth, predicted, average="macro")),
    }


def run_baseline(train: pd.DataFrame, test: pd.DataFrame, repeats: int) -> dict[str, float]:
    started = time.perf_counter()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, C=1.0))
    model.fit(mfcc_statistics(train["audio"]), train["digit"])
    seconds = time.perf_counter() - started
    predicted = model.predict(mfcc_statistics(test["audio"]))
    one = test["audio"].iloc[:1]
    latency = median_ms(lambda: model.predict(mfcc_statistics(one)), repeats)
    return scores(test["digit"], predicted) | {"train_seconds": seconds, "latency_ms": latency}


def run_tailorml(test: pd.DataFrame, repeats: int) -> dict[str, float]:
    import tailorml

    started = time.perf_counter()
    run = tailorml.train(ROOT / "examples" / "fsdd_cnn.yaml", None, quiet=True)
    seconds = time.perf_counter() - started
    predicted = run.predict(test)["prediction"]
    one = test.iloc[:1][["audio"]]
    latency = median_ms(lambda: run.predict(one), repeats)
    reported = float(run.metrics.test["accuracy"])
    return scores(test["digit"], predicted.astype(test["digit"].dtype)) | {
        "train_seconds": seconds,
        "latency_ms": latency,
        "epochs": len(run.history),
        "reported_test_accuracy": reported,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    from tailorml.data import load_builtin

    frames = load_builtin("fsdd").frames
    train, test = frames["train"], frames["test"]
    baseline = run_baseline(train, test, args.repeats)
    print("mfcc_logreg", json.dumps(baseline), flush=True)
    ours = run_tailorml(test, args.repeats)
    print("tailorml", json.dumps(ours), flush=True)
    ratios = {
        "accuracy_gain": ours["accuracy"] - baseline["accuracy"],
        "train_seconds_ratio": ours["train_seconds"] / baseline["train_seconds"],
        "latency_ratio": ours["latency_ms"] / baseline["latency_ms"],
    }
    result = {"data": "builtin:fsdd", "train_clips": len(train), "test_clips": len(test)}
    print(json.dumps(result | {"mfcc_logreg": baseline, "tailorml": ours, "ratios": ratios}))


if __name__ == "__main__":
    main()
