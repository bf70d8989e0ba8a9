"""A small Keras-like surface over the tailorml engine.

``Sequential([...]).compile(...).fit(x, y)`` builds the same ``TailorModel``
and runs the same ``Trainer`` that ``tailor train`` uses, so a Keras user's
program keeps its shape and gets the engine's numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from tailorml.config import ModelConfig, TrainingConfig
from tailorml.features import Encoded, FeatureMeta
from tailorml.features.image import nchw
from tailorml.keras.layers import Conv2D, Dense, Dropout, Flatten, Input, Layer, MaxPooling2D
from tailorml.models import TailorModel
from tailorml.train import Trainer, make_loss, predict_outputs
from tailorml.train.loop import evaluate_loss

LOSSES = {
    "categorical_crossentropy": "cross_entropy",
    "sparse_categorical_crossentropy": "cross_entropy",
    "mse": "mse",
    "mae": "mae",
}


def square(value: int | tuple[int, int]) -> int:
    """A kernel or pool size: ``3`` or ``(3, 3)``."""
    if isinstance(value, tuple):
        if value[0] != value[1]:
            raise ValueError(f"only square kernels and pools are supported, got {value}")
        return value[0]
    return value


def layers_to_config(layers: list[Layer]) -> tuple[dict[str, Any], tuple[int, ...], int]:
    """Conv/Pool/Flatten/Dense layers as a config dict, with the input shape
    (H, W, C) and the number of classes."""
    if not layers or not isinstance(layers[0], Input):
        raise ValueError("the first layer must be Input(shape=(H, W, C))")
    shape = tuple(layers[0].shape)
    convs: list[dict[str, int | str]] = []  # the cnn encoder's conv_layers
    dense: list[Dense] = []
    dropout = 0.0
    for layer in layers[1:]:
        if isinstance(layer, Conv2D):
            convs.append({
                "filters": layer.filters, "kernel_size": square(layer.kernel_size),
                "stride": square(layer.strides), "padding": layer.padding,
                "activation": layer.activation or "none",
            })  # fmt: skip
        elif isinstance(layer, MaxPooling2D):
            if not convs:
                raise ValueError("MaxPooling2D must follow a Conv2D")
            convs[-1]["pool_size"] = square(layer.pool_size)
        elif isinstance(layer, Dense):
            dense.append(layer)
        elif isinstance(layer, Dropout):
            dropout = layer.rate
        elif not isinstance(layer, Flatten):
            raise ValueError(f"unsupported layer {layer!r}")
    if not dense or dense[-1].activation not in ("softmax", None):
        raise ValueError("the last layer must be Dense(n_classes, activation='softmax')")
    hidden = dense[:-1]
    activations = {d.activation or "none" for d in hidden} or {"relu"}
    if len(activations) > 1:
        raise ValueError("all hidden Dense layers must share one activation")
    config = {
        "data": {"source": "memory:arrays", "target": "label"},
        "input_features": [{"name": "image", "type": "image",
                            "encoder": {"name": "cnn", "conv_layers": convs, "output": "flatten"}}],
        "decoder": {"hidden": [d.units for d in hidden], "activation": activations.pop(),
                    "dropout": dropout},
        "output_features": [{"name": "label", "type": "category"}],
        "init": "keras",
    }  # fmt: skip
    return config, shape, dense[-1].units


def as_images(x: np.ndarray) -> torch.Tensor:
    """(N, H, W) or (N, H, W, C) floats to (N, C, H, W)."""
    array = np.asarray(x, dtype=np.float32)
    if array.ndim == 3:
        array = array[..., None]
    return nchw(torch.from_numpy(array))


def as_data(x: np.ndarray, y: np.ndarray) -> Encoded:
    """Images as :func:`as_images` takes them; one-hot (N, K) or integer (N,) labels."""
    labels = np.asarray(y)
    if labels.ndim == 2:
        labels = labels.argmax(axis=1)
    return Encoded({"image": as_images(x)}, torch.from_numpy(labels.astype(np.int64)))


class Sequential:
    """Keras-style model: ``compile``, ``fit``, ``evaluate``, ``predict``."""

    def __init__(self, layers: list[Layer]):
        self.layers = layers
        self.config_dict, self.input_shape, self.n_classes = layers_to_config(layers)
        self.training = TrainingConfig()
        self.model: TailorModel | None = None

    def compile(
        self, optimizer: str = "adam", loss: str = "categorical_crossentropy",
        metrics: list[str] | None = None, learning_rate: float = 1e-3,
    ) -> Sequential:  # fmt: skip
        if loss not in LOSSES:
            raise ValueError(f"unsupported loss {loss!r}; choose one of {sorted(LOSSES)}")
        self.training = TrainingConfig.model_validate(
            {"optimizer": optimizer, "loss": LOSSES[loss], "learning_rate": learning_rate}
        )
        return self

    def fit(
        self, x: np.ndarray, y: np.ndarray, epochs: int = 1, batch_size: int = 32,
        validation_data: tuple[np.ndarray, np.ndarray] | None = None, seed: int = 0,
        verbose: int = 1,
    ) -> list[dict[str, float]]:  # fmt: skip
        """Train; returns one dict of losses and metrics per epoch."""
        self.training = self.training.model_copy(
            update={"epochs": epochs, "batch_size": batch_size, "seed": seed}
        )
        torch.manual_seed(seed)
        h, w, c = self.input_shape
        metas = {"image": FeatureMeta("image", "image", (c, h, w), "float32")}
        self.model = TailorModel(
            ModelConfig.model_validate(self.config_dict), metas, self.n_classes
        )
        val = None if validation_data is None else as_data(*validation_data)
        trainer = Trainer(self.model, "category", self.training, quiet=verbose == 0)
        return trainer.fit(as_data(x, y), val)

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> list[float]:
        """``[loss, accuracy]`` like Keras's ``model.evaluate``."""
        loss = make_loss("category", "cross_entropy")
        scores = evaluate_loss(self._trained(), as_data(x, y), "category", loss, self.training)
        return [scores["loss"], scores["accuracy"]]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities (N, K)."""
        out = predict_outputs(self._trained(), {"image": as_images(x)}, 1024)
        return torch.softmax(out, dim=1).numpy()

    def _trained(self) -> TailorModel:
        if self.model is None:
            raise RuntimeError("call fit() before evaluate() or predict()")
        return self.model
