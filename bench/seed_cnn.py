"""Seed CNN three ways in one run: tailorml, hand-written PyTorch, Keras.

All three train Conv2D 32 3×3 ReLU → MaxPool 2 → Flatten → Dense 128 ReLU →
Dense 10 on builtin:mnist (4,000 train / 1,000 test), Adam 1e-3, batch 64,
5 epochs. tailorml and the PyTorch loop share Keras initialisation and the
data order (a seeded torch.Generator permutation per epoch). Keras runs only
when TensorFlow is importable (``pip install tensorflow-cpu``; not a
dependency).

Samples/s counts training steps only (validation excluded) for every
contender. Each contender first runs once untimed (so no one pays for
another's warm-up of the oneDNN kernels), then the repeats alternate which
contender goes first; the median of the repeats is reported. The last line
printed is one JSON object.

    python bench/seed_cnn.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import tailorml
from tailorml.keras.datasets import load_mnist
from tailorml.models.init import keras_init

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "seed_cnn_mnist.yaml"
EPOCHS, BATCH, LR, SEED = 5, 64, 1e-3, 0


def run_tailorml() -> dict[str, float]:
    run = tailorml.train(CONFIG, None, quiet=True)
    test = run.evaluate("builtin:mnist")
    history = run_history(run)
    return {"samples_per_s": history, "test_accuracy": test["accuracy"]}


def run_history(run: tailorml.Run) -> float:
    # train() without an output folder keeps the per-epoch history on the trainer
    seconds = sum(h["seconds"] for h in run.history)
    return 4000 * len(run.history) / seconds


def seed_model() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 13 * 13, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )


def run_pytorch() -> dict[str, float]:
    """The loop a PyTorch user writes by hand, same init and data order."""
    (x_train, y_train), (x_test, y_test) = load_mnist()
    x = torch.from_numpy(x_train.astype(np.float32) / 255).unsqueeze(1)
    y = torch.from_numpy(y_train)
    xt = torch.from_numpy(x_test.astype(np.float32) / 255).unsqueeze(1)
    yt = torch.from_numpy(y_test)
    torch.manual_seed(SEED)
    model = seed_model()
    keras_init(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    order = torch.Generator().manual_seed(SEED)
    seconds = 0.0
    for _ in range(EPOCHS):
        model.train()
        start = time.perf_counter()
        perm = torch.randperm(len(x), generator=order)
        for begin in range(0, len(x), BATCH):
            index = perm[begin : begin + BATCH]
            loss = nn.functional.cross_entropy(model(x[index]), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        seconds += time.perf_counter() - start
        model.eval()
        with torch.inference_mode():
            nn.functional.cross_entropy(model(xt), yt)  # validation, like Keras
    with torch.inference_mode():
        accuracy = float((model(xt).argmax(1) == yt).float().mean())
    return {"samples_per_s": len(x) * EPOCHS / seconds, "test_accuracy": accuracy}


def run_keras() -> dict[str, float] | None:
    """The seed document's Keras program, if TensorFlow is installed."""
    try:
        import tensorflow as tf  # type: ignore[import-not-found]
    except ImportError:
        return None
    (x_train, y_train), (x_test, y_test) = load_mnist()
    x_train = x_train.reshape(-1, 28, 28, 1).astype("float32") / 255
    x_test = x_test.reshape(-1, 28, 28, 1).astype("float32") / 255
    y_train_1h = tf.keras.utils.to_categorical(y_train, 10)
    y_test_1h = tf.keras.utils.to_categorical(y_test, 10)
    tf.keras.utils.set_random_seed(SEED)
    layers = tf.keras.layers
    model = tf.keras.Sequential(
        [
            layers.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    timer = StepTimer(tf)
    model.fit(
        x_train, y_train_1h, epochs=EPOCHS, batch_size=BATCH,
        validation_data=(x_test, y_test_1h), verbose=0, callbacks=[timer.callback],
    )  # fmt: skip
    _, accuracy = model.evaluate(x_test, y_test_1h, verbose=0)
    return {
        "samples_per_s": len(x_train) * EPOCHS / timer.seconds,
        "test_accuracy": float(accuracy),
    }


class StepTimer:
    """Keras callback timing each epoch's training steps, not its validation."""

    def __init__(self, tf: Any):
        self.seconds = 0.0
        outer = self

        class Callback(tf.keras.callbacks.Callback):  # type: ignore[misc]
            def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
                outer.start = time.perf_counter()

            def on_test_begin(self, logs: Any = None) -> None:
                outer.seconds += time.perf_counter() - outer.start

        self.callback = Callback()
        self.start = 0.0


def summarise(runs: list[dict[str, float]] | None) -> dict[str, Any] | None:
    if not runs:
        return None
    return {
        "samples_per_s": statistics.median(r["samples_per_s"] for r in runs),
        "test_accuracy": statistics.median(r["test_accuracy"] for r in runs),
        "samples_per_s_all": [round(r["samples_per_s"], 1) for r in runs],
        "test_accuracy_all": [round(r["test_accuracy"], 4) for r in runs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    contenders = {"tailorml": run_tailorml, "pytorch": run_pytorch, "keras": run_keras}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in contenders}
    for run in contenders.values():
        run()  # warm-up, untimed
    names = list(contenders)
    for repeat in range(args.repeats):
        # interleave and rotate the contenders so machine noise hits them alike
        for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
            result = contenders[name]()
            if result is not None:
                results[name].append(result)
        print(f"repeat {repeat + 1}: " + json.dumps({k: v[-1] for k, v in results.items() if v}))
    summary = {name: summarise(runs) for name, runs in results.items()}
    ours = summary["tailorml"]
    assert ours is not None
    ratio = {
        name: ours["samples_per_s"] / other["samples_per_s"] if other else None
        for name, other in (("pytorch", summary["pytorch"]), ("keras", summary["keras"]))
    }
    summary["ratio_vs_pytorch"] = ratio["pytorch"]
    summary["ratio_vs_keras"] = ratio["keras"]
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
