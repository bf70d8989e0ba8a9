"""Classical models: a model class per family, made a family by ``register_classical``."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from tailorml.config import ModelConfig
from tailorml.errors import DataError
from tailorml.features import Encoded, FeatureSet
from tailorml.features.meta import FeatureMeta
from tailorml.features.outputs import OUTPUT_TYPES
from tailorml.models.family import (
    FAMILIES,
    Capabilities,
    ModelFamily,
    Params,
    Proposal,
    Task,
    with_preprocessing,
)

Inputs = dict[str, torch.Tensor]
CLASSICAL: dict[str, type[ClassicalModel]] = {}


class ClassicalModel:
    """A non-neural model on the encoded features.

    Args:
        params: the family's hyperparameters (JSON values).
        metas: shape and vocabulary of each input feature.
        kind: the output type: category | binary | number.
        n_classes: classes for classification, 1 for regression.
    """

    family: ClassVar[str]
    capabilities: ClassVar[Capabilities] = Capabilities()
    # the input types it reads (None: every type); a model trained on a table
    # with other columns reads only the ones it takes
    READS: ClassVar[frozenset[str] | None] = None

    @classmethod
    def candidates(cls, task: Task) -> Proposal:
        """The candidates of this family that enter a match, and why."""
        return [], []

    def __init__(self, params: Params, metas: dict[str, FeatureMeta], kind: str, n_classes: int):
        self.params = params
        self.metas = metas
        self.kind = kind
        self.n_classes = n_classes

    def fit(
        self, inputs: Inputs, target: torch.Tensor, seed: int, sensitive: np.ndarray | None = None
    ) -> None:
        """Fit on the encoded training rows.

        Args:
            inputs: the encoded input features, (N, ...) each.
            target: (N,) class ids, or standardised values for regression.
            seed: the family's random seed.
            sensitive: (N,) labels of a sensitive attribute, for families that
                train under a fairness constraint; the others ignore it.
        """
        raise NotImplementedError

    def predict_raw(self, inputs: Inputs) -> np.ndarray:
        """Probabilities (N, K) for classification, standardised values (N,)."""
        raise NotImplementedError

    def save(self, folder: Path) -> None:
        raise NotImplementedError

    def load_state(self, folder: Path) -> None:
        raise NotImplementedError

    def parameters(self) -> int:
        raise NotImplementedError

    def outputs(self, inputs: Inputs) -> torch.Tensor:
        """The shared output convention, so decoding is shared (``features/outputs.py``)."""
        return OUTPUT_TYPES[self.kind].as_outputs(self.predict_raw(inputs))


class ClassicalFamily(ModelFamily[ClassicalModel]):
    """A classical model class as a family: its instances are the models."""

    def __init__(self, model: type[ClassicalModel]):
        self.model = model
        self.name = model.family
        self.capabilities = model.capabilities

    def config_for(self, base: ModelConfig, params: Params, seed: int) -> ModelConfig:
        """The base config with only the inputs the family reads (trees: table columns),
        their preprocessing changed by ``params["preprocessing"]`` (per feature type)."""
        types = self.model.READS
        base = with_preprocessing(base, params)
        if types is None or all(f.type in types for f in base.input_features):
            return base
        kept = [f for f in base.input_features if f.type in types]
        if not kept:
            raise DataError("this model family reads none of the input features' types")
        return base.model_copy(update={"input_features": kept})

    def build(
        self, config: ModelConfig, features: FeatureSet, params: Params, pretrained: bool = True
    ) -> ClassicalModel:
        target = features.target
        return self.model(params, features.metas(), target.kind, len(target.labels) or 1)

    def fit(
        self, model: ClassicalModel, train: Encoded, validation: Encoded | None,
        config: ModelConfig, sensitive: np.ndarray | None = None,
    ) -> Params:  # fmt: skip
        assert train.target is not None
        model.fit(train.inputs, train.target, config.training.seed, sensitive)
        return dict(model.params)

    def outputs(
        self, model: ClassicalModel, inputs: Inputs, config: ModelConfig, cache: bool = False,
        length_batch: int | None = None,
    ) -> torch.Tensor:  # fmt: skip
        return model.outputs(inputs)

    def save(self, model: ClassicalModel, folder: Path) -> None:
        model.save(folder)

    def load(self, model: ClassicalModel, folder: Path) -> None:
        model.load_state(folder)

    def size(self, model: ClassicalModel) -> int:
        return model.parameters()

    def candidates(self, task: Task) -> Proposal:
        return self.model.candidates(task)


def register_classical(cls: type[ClassicalModel]) -> type[ClassicalModel]:
    """Class decorator: the model class becomes the family ``cls.family``."""
    CLASSICAL[cls.family] = cls
    FAMILIES[cls.family] = ClassicalFamily(cls)
    return cls


def class_ids(target: torch.Tensor, kind: str) -> np.ndarray:
    """Class ids (int64), or values (float64) for regression."""
    if OUTPUT_TYPES[kind].task == "regression":
        return target.numpy().astype(np.float64)
    return target.long().numpy()
