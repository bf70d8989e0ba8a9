"""Output types: what a model predicts, how it learns it and how its outputs read back.

Each type registers under the name configs give ``output_features[0].type``
and holds everything the layers need: how the target column is fitted and
encoded, the width of the model's output, the loss ``auto`` picks, the count
of correct answers, and how raw outputs decode. Every model family shares one
output convention: logits ``(N, K)`` for K classes, one logit ``(N, 1)`` for
binary, a standardised value ``(N, 1)`` for numbers.

Adding an output type is one class with ``@register_output("name")``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import torch
from pydantic import BaseModel
from torch.nn import functional

from tailorml.config import register_options
from tailorml.errors import DataError
from tailorml.features.tabular import as_text, parse_numbers

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
State = dict[str, Any]


def flat(loss: Callable[..., torch.Tensor], reduction: str) -> LossFn:
    """A loss of one output column ``(N, 1)`` against targets ``(N,)``."""
    return lambda out, y: loss(out.reshape(-1), y, reduction=reduction)


# The configured losses by name (``training.loss``), each made for a reduction.
LOSSES: dict[str, Callable[[str], LossFn]] = {
    "cross_entropy": lambda r: partial(functional.cross_entropy, reduction=r),
    "binary_cross_entropy": partial(flat, functional.binary_cross_entropy_with_logits),
    "mse": partial(flat, functional.mse_loss),
    "mae": partial(flat, functional.l1_loss),
    "huber": partial(flat, functional.huber_loss),
}


class OutputType(ABC):
    """One kind of target. ``state`` is what ``fit`` learnt, in JSON values.

    Attributes:
        name: the registered name.
        task: ``classification`` or ``regression``: the metrics that apply.
        loss: the loss that ``training.loss: auto`` picks (a key of ``LOSSES``).
    """

    name = ""
    task = "classification"
    loss = "cross_entropy"

    @abstractmethod
    def fit(self, target: str, column: pd.Series, positive: str | None) -> State:
        """The state learnt from the training rows' target column."""

    @abstractmethod
    def encode(self, target: str, column: pd.Series, state: State, split: str) -> torch.Tensor:
        """Targets as the loss takes them: ``(N,)``."""

    @abstractmethod
    def decode(self, outputs: torch.Tensor, state: State) -> np.ndarray:
        """Raw outputs to class probabilities ``(N, K)``, or values ``(N,)``."""

    @abstractmethod
    def as_outputs(self, predicted: np.ndarray) -> torch.Tensor:
        """Probabilities ``(N, K)`` or standardised values ``(N,)``, from a model
        that predicts them, in the shared output convention."""

    def width(self, state: State) -> int:
        """Columns of the model's output."""
        return 1

    def count_correct(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Correct answers in a batch, a 0-d tensor (no host sync); 0 for values."""
        return torch.zeros((), dtype=torch.int64)


OUTPUT_TYPES: dict[str, OutputType] = {}


def register_output(name: str) -> Callable[[type[OutputType]], type[OutputType]]:
    """Class decorator registering an output type under ``name``."""

    def wrap(cls: type[OutputType]) -> type[OutputType]:
        cls.name = name
        OUTPUT_TYPES[name] = cls()
        register_options("output", name, BaseModel)  # configs may name it; it has no options
        return cls

    return wrap


class Classes(OutputType):
    """Labels, sorted, as class ids."""

    def fit(self, target: str, column: pd.Series, positive: str | None) -> State:
        labels = sorted(set(as_text(column)))
        if len(labels) < 2:
            raise DataError(f"target '{target}' has only one class in the training data.")
        return {"labels": labels}

    def encode(self, target: str, column: pd.Series, state: State, split: str) -> torch.Tensor:
        index = {label: i for i, label in enumerate(state["labels"])}
        text = as_text(column)
        unseen = sorted({v for v in text if v not in index})
        if unseen:
            raise DataError(
                f"target '{target}' in the {split} data has label(s) never seen in training: "
                f"{', '.join(map(repr, unseen[:10]))}; the model can only predict "
                f"{', '.join(map(repr, state['labels']))}."
            )
        return torch.tensor([index[v] for v in text], dtype=torch.int64)


@register_output("category")
class Category(Classes):
    """One of K labels: K logits, softmax."""

    def width(self, state: State) -> int:
        return len(state["labels"])

    def decode(self, outputs: torch.Tensor, state: State) -> np.ndarray:
        return torch.softmax(outputs.float(), dim=1).numpy()

    def as_outputs(self, predicted: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.log(np.clip(predicted, 1e-7, 1 - 1e-7)).astype(np.float32))

    def count_correct(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (out.argmax(dim=1) == y).sum()


@register_output("binary")
class Binary(Classes):
    """Negative label first, positive second: one logit, sigmoid."""

    loss = "binary_cross_entropy"

    def fit(self, target: str, column: pd.Series, positive: str | None) -> State:
        labels = sorted(set(as_text(column)))
        if len(labels) != 2:
            raise DataError(
                f"binary target '{target}' must have exactly two values in the training "
                f"data; found {len(labels)}: {labels[:10]}."
            )
        if positive is not None and positive not in labels:
            raise DataError(
                f"binary target '{target}': positive label {positive!r} not in {labels}."
            )
        positive = positive or labels[1]
        return {"labels": [label for label in labels if label != positive] + [positive]}

    def encode(self, target: str, column: pd.Series, state: State, split: str) -> torch.Tensor:
        return super().encode(target, column, state, split).float()

    def decode(self, outputs: torch.Tensor, state: State) -> np.ndarray:
        p = torch.sigmoid(outputs.float().reshape(-1))
        return torch.stack([1 - p, p], dim=1).numpy()

    def as_outputs(self, predicted: np.ndarray) -> torch.Tensor:
        proba = np.clip(predicted, 1e-7, 1 - 1e-7)
        logit = np.log(proba[:, 1]) - np.log(proba[:, 0])
        return torch.from_numpy(logit.reshape(-1, 1).astype(np.float32))

    def count_correct(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return ((out.reshape(-1) > 0).float() == y).sum()


@register_output("number")
class Number(OutputType):
    """A value, standardised with the training mean and std."""

    task = "regression"
    loss = "mse"

    def fit(self, target: str, column: pd.Series, positive: str | None) -> State:
        values = parse_numbers(target, column)
        return {"mean": float(values.mean()), "std": float(values.std()) or 1.0}

    def encode(self, target: str, column: pd.Series, state: State, split: str) -> torch.Tensor:
        values = (parse_numbers(target, column) - state["mean"]) / state["std"]
        return torch.from_numpy(values.astype(np.float32))

    def decode(self, outputs: torch.Tensor, state: State) -> np.ndarray:
        scaled = outputs.float().reshape(-1).numpy().astype(np.float64)
        return scaled * state["std"] + state["mean"]

    def as_outputs(self, predicted: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(predicted.reshape(-1, 1).astype(np.float32))
