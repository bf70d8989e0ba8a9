"""GPU readiness: the seed CNN and a MiniLM fine-tune on one device, one JSON line.

Trains examples/seed_cnn_mnist.yaml (builtin:mnist, 4,000 train / 1,000
test) and fine-tunes all-MiniLM-L6-v2 as examples/sentiment_minilm.yaml does
(builtin:sentiment, 80/20 stratified split, seed 0) on ``--device`` with
``training.precision: bf16`` (autocast), then scores both on their test rows
with the model on the same device. Training samples/s counts the training
steps only (validation excluded); inference sentences/s is ``Run.predict``
on the test texts, tokenizing included.

On a GPU the full run takes a few minutes. ``--small`` is the same on a
sample (400 texts, 1 epoch each; the CNN on all digits) so that it runs on
a CPU in about a minute; the tests run it that way. The last line printed
is one JSON object.

    python bench/gpu.py [--device auto|cuda|cpu] [--small]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import yaml
from sklearn.model_selection import train_test_split

import tailorml
from tailorml.data.builtin import load_builtin

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SMALL_TEXTS = 400


def device_name(device: str) -> str:
    if device == "cuda":
        return f"cuda: {torch.cuda.get_device_name(0)}"
    return f"cpu: {platform.processor() or platform.machine()}"


def config(name: str, device: str, small: bool) -> dict[str, Any]:
    raw = yaml.safe_load((EXAMPLES / name).read_text())
    raw["training"] |= {"device": device, "precision": "bf16"}
    if small:
        raw["training"]["epochs"] = 1
    return raw


def train_samples_per_s(run: tailorml.Run) -> float:
    rows = run.metrics["data"]["rows"]["train"]
    return rows * len(run.history) / sum(h["seconds"] for h in run.history)


def on_device(run: tailorml.Run, device: str) -> tailorml.Run:
    run.bundle.model.to(device)  # inference batches run where the model is
    return run


def seed_cnn(device: str, small: bool) -> dict[str, float]:
    raw = config("seed_cnn_mnist.yaml", device, small)
    run = on_device(tailorml.train(raw, quiet=True), device)
    return {
        "train_samples_per_s": train_samples_per_s(run),
        "test_accuracy": run.metrics["test"]["accuracy"],
        "epochs": len(run.history),
    }


def minilm_finetune(device: str, small: bool, folder: Path) -> dict[str, float]:
    texts = load_builtin("sentiment").frames["all"][["text", "sentiment"]]
    if small:
        texts = texts.sample(SMALL_TEXTS, random_state=0)
    train, test = train_test_split(texts, test_size=0.2, stratify=texts["sentiment"],
                                   random_state=0)  # fmt: skip
    train.reset_index(drop=True).to_parquet(folder / "train.parquet")
    test.reset_index(drop=True).to_parquet(folder / "test.parquet")
    raw = config("sentiment_minilm.yaml", device, small)
    raw["data"]["source"] = str(folder / "train.parquet")
    raw["data"]["split"] = {"method": "fixed", "test_file": str(folder / "test.parquet"),
                            "validation_fraction": 0.1, "seed": 0}  # fmt: skip
    run = on_device(tailorml.train(raw, quiet=True), device)
    started = time.perf_counter()
    predicted = run.predict(test)["prediction"].to_numpy()
    seconds = time.perf_counter() - started
    return {
        "train_samples_per_s": train_samples_per_s(run),
        "test_accuracy": float((predicted.astype(str) == test["sentiment"].astype(str)).mean()),
        "inference_sentences_per_s": len(test) / seconds,
        "train_rows": len(train),
        "epochs": len(run.history),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto")
    parser.add_argument("--small", action="store_true", help="a sample, for a CPU check")
    args = parser.parse_args()
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        result = {
            "device": device_name(device),
            "torch": torch.__version__,
            "precision": "bf16",
            "small": args.small,
            "seed_cnn": seed_cnn(device, args.small),
            "minilm_finetune": minilm_finetune(device, args.small, Path(tmp)),
        }
    result["wall_seconds"] = time.perf_counter() - started
    print(json.dumps(result))


if __name__ == "__main__":
    main()
