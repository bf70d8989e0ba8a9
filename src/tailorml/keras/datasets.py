"""``mnist.load_data()`` like ``keras.datasets``, from the bundled digits."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from tailorml.data.builtin import load_builtin

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def load_mnist() -> Arrays:
    """``((x_train, y_train), (x_test, y_test))``: uint8 (N, 28, 28), int labels.

    The bundled 5,000-digit subset split 4,000 / 1,000 (``builtin:mnist``).
    """
    frames = load_builtin("mnist").frames

    def arrays(split: str) -> tuple[np.ndarray, np.ndarray]:
        frame = frames[split]
        labels = np.array(frame["label"], dtype=np.int64)  # a writable copy
        return np.stack(list(frame["image"])), labels

    return arrays("train"), arrays("test")


mnist = SimpleNamespace(load_data=load_mnist)
