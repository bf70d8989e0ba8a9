"""The model-family interface: deep and classical models, one shape.

A family is registered by name; a bundle names its family and holds the model
object the family built (a network, a fitted booster). The layers after this
one ask the family, never the model's class: how to configure, build, fit,
run, save and load a model, how large it is, what it can do
(``Capabilities``) and which candidates it brings to a match's portfolio.

Adding a family is one new file: a ``ModelFamily`` subclass under
``@register_family("name")`` (a classical model: ``register_classical``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
import torch

from tailorml.config import ModelConfig
from tailorml.config.scenario import FairnessConstraint
from tailorml.errors import TailorError
from tailorml.features import Encoded, FeatureMeta, FeatureSet
from tailorml.features.checkpoint import DEFAULT_CHECKPOINT

M = TypeVar("M")
Params = dict[str, Any]
Inputs = dict[str, torch.Tensor]


@dataclass(frozen=True)
class Capabilities:
    """What a family's models can do besides fit and predict.

    Attributes:
        onnx: ``tailor export`` writes the model as an ONNX graph.
        private: trains under DP-SGD (``training.privacy``, ``max_epsilon``).
        attribution: how decisions are explained (``integrated_gradients``,
            ``linear``, ``tree_shap``); None: they are not.
        gpu: trains on a GPU when the machine has one.
    """

    onnx: bool = False
    private: bool = False
    attribution: str | None = None
    gpu: bool = False


@dataclass(frozen=True)
class Candidate:
    """One model to try in a match: a family and its params (for ``deep``:
    the encoder of its main input type, the decoder and training overrides)."""

    name: str
    family: str
    params: Params = field(default_factory=dict)


def modality(metas: dict[str, FeatureMeta]) -> str:
    """image or audio if any input is one; text when every input is; else table (a
    table may hold free-text columns beside its numbers and categories)."""
    types = {m.type for m in metas.values()}
    for kind in ("image", "audio"):
        if kind in types:
            return kind
    return "text" if types == {"text"} else "table"


@dataclass(frozen=True)
class Task:
    """What a family looks at to propose candidates.

    Attributes:
        metas: the input features.
        rows: training rows.
        budget_s: the search's budget (at least 60 s under ``max_epsilon``).
        max_epsilon: the privacy limit: only private families' candidates enter.
        fairness: the first fairness limit of a binary table task, if any.
        checkpoint: the pretrained checkpoint that text candidates may use.
    """

    metas: dict[str, FeatureMeta]
    rows: int
    budget_s: float
    max_epsilon: float | None = None
    fairness: FairnessConstraint | None = None
    checkpoint: str = DEFAULT_CHECKPOINT

    @property
    def modality(self) -> str:
        return modality(self.metas)


def with_preprocessing(base: ModelConfig, params: Params) -> ModelConfig:
    """``base`` with each input's preprocessing updated by the candidate's
    ``params["preprocessing"][feature type]`` (audio read as MFCCs, say)."""
    changes = params.get("preprocessing", {})
    if not changes:
        return base
    raw = base.model_dump(mode="json")
    for feature in raw["input_features"]:
        feature["preprocessing"] |= changes.get(feature["type"], {})
    return ModelConfig.model_validate(raw)


Proposal = tuple[list[Candidate], list[str]]  # candidates, and why they enter (or not)


class WeightsError(TailorError):
    """A saved model's files do not fit the model: ``file`` is the one to blame."""

    def __init__(self, file: str, what: str):
        super().__init__(f"{file} {what}")
        self.file, self.what = file, what


class ModelFamily(ABC, Generic[M]):
    """One family of models. Families hold no state: every method takes the
    model (of type ``M``) that ``build`` made."""

    name = ""
    capabilities = Capabilities()

    def config_for(self, base: ModelConfig, params: Params, seed: int) -> ModelConfig:
        """The config a candidate with ``params`` trains on: ``base`` (the
        scenario's inputs and output) as its params change it."""
        return base

    @abstractmethod
    def build(
        self, config: ModelConfig, features: FeatureSet, params: Params, pretrained: bool = True
    ) -> M:
        """A new model; ``pretrained=False`` when a bundle's weights follow."""

    def precompute(self, model: M, inputs: Inputs, config: ModelConfig) -> tuple[Inputs, float]:
        """Inputs with what the model computes the same way on every pass done
        ahead (a frozen encoder's embeddings), and the seconds that cost."""
        return inputs, 0.0

    @abstractmethod
    def fit(
        self, model: M, train: Encoded, validation: Encoded | None, config: ModelConfig,
        sensitive: np.ndarray | None = None,
    ) -> Params:  # fmt: skip
        """Fit on encoded rows (seeded by ``config.training.seed``); ``sensitive``
        holds a fairness limit's group labels per training row, for families
        that train under it. Returns the params the bundle records."""

    @abstractmethod
    def outputs(
        self, model: M, inputs: Inputs, config: ModelConfig, cache: bool = False,
        length_batch: int | None = None,
    ) -> torch.Tensor:  # fmt: skip
        """Raw outputs in the shared convention (see ``features/outputs.py``).
        ``cache``: frozen encoders read the disk cache; ``length_batch``: rows
        per batch for inputs sorted by length."""

    @abstractmethod
    def save(self, model: M, folder: Path) -> None:
        """Write the model's files (no pickle) into ``folder``."""

    @abstractmethod
    def load(self, model: M, folder: Path) -> None:
        """Read the saved files into a built model.

        Raises:
            FileNotFoundError: a file is missing.
            WeightsError, KeyError, ValueError: a file does not fit or is unreadable.
        """

    @abstractmethod
    def size(self, model: M) -> int:
        """Parameters (or tree nodes): what the model stores."""

    def flops_per_row(self, model: M, example: Inputs) -> int | None:
        """Floating-point operations per predicted row, where measurable."""
        return None

    def candidates(self, task: Task) -> Proposal:
        """The candidates this family brings to a match, and why."""
        return [], []


FAMILIES: dict[str, ModelFamily[Any]] = {}  # in registration order: the portfolio's order
F = TypeVar("F", bound=type[ModelFamily[Any]])


def register_family(name: str) -> Callable[[F], F]:
    """Class decorator registering a family under ``name``."""

    def wrap(cls: F) -> F:
        cls.name = name
        FAMILIES[name] = cls()
        return cls

    return wrap


def family_named(name: str) -> ModelFamily[Any]:
    """The registered family.

    Raises:
        TailorError: no family has that name.
    """
    if name not in FAMILIES:
        raise TailorError(f"unknown model family '{name}'; registered: {', '.join(FAMILIES)}.")
    return FAMILIES[name]
