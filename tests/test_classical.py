"""One conformance test for every registered classical family: binary
probabilities, determinism, a bundle round trip without pickle, a size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tailorml.config import ModelConfig
from tailorml.data import load_builtin
from tailorml.features import FeatureSet
from tailorml.models.classical import CLASSICAL, ClassicalModel
from tailorml.runs.bundle import Bundle, load_bundle, save_bundle

# fairlearn 0.15 sets Series values with ``.at`` on new keys, which pandas 3 deprecates
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:fairlearn")

# every registered family with its defaults, plus variants worth their own check
CASES = [(family, {}) for family in sorted(CLASSICAL)] + [
    ("fair_reductions", {"base": "lightgbm", "n_estimators": 20}),
]


@pytest.fixture(scope="module")
def adult() -> dict[str, Any]:
    """2,000 training and 500 held-out Adult rows; sex is the sensitive attribute."""
    frames = load_builtin("adult").frames
    train = frames["train"].sample(2000, random_state=1)
    held_out = frames["test"].sample(500, random_state=1)
    config = ModelConfig.model_validate(
        {
            "data": {"source": "builtin:adult", "target": "income"},
            "input_features": [
                {"name": "age", "type": "number"},
                {"name": "hours_per_week", "type": "number"},
                {"name": "education_num", "type": "number"},
                {"name": "occupation", "type": "category"},
                {"name": "marital_status", "type": "category"},
            ],
            "output_features": [{"name": "income", "type": "binary", "positive": ">50K"}],
        }
    )
    features = FeatureSet.fit(config, train)
    return {
        "config": config,
        "features": features,
        "train": features.encode(train, "train"),
        "held_out": features.encode(held_out, "held_out", with_target=False).inputs,
        "sensitive": train["sex"].to_numpy(),
    }


def fitted(family: str, params: dict[str, Any], adult: dict[str, Any]) -> ClassicalModel:
    """Every family takes the sensitive labels; those without a constraint ignore them."""
    model = CLASSICAL[family](params, adult["features"].metas(), "binary", 2)
    train = adult["train"]
    model.fit(train.inputs, train.target, seed=0, sensitive=adult["sensitive"])
    return model


@pytest.mark.parametrize(("family", "params"), CASES, ids=lambda c: str(c or "defaults"))
def test_classical_family_conforms(
    family: str, params: dict[str, Any], adult: dict[str, Any], tmp_path: Path
) -> None:
    model = fitted(family, params, adult)
    inputs = adult["held_out"]
    proba = model.predict_raw(inputs)
    assert proba.shape == (500, 2)
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert model.outputs(inputs).shape == (500, 1)
    np.testing.assert_array_equal(fitted(family, params, adult).predict_raw(inputs), proba)

    bundle = Bundle(adult["config"], adult["features"], model, family, params)
    save_bundle(bundle, tmp_path / "model")
    loaded = load_bundle(tmp_path / "model").model
    assert isinstance(loaded, type(model))
    np.testing.assert_array_equal(loaded.predict_raw(inputs), proba)
    saved = [p.name for p in (tmp_path / "model").iterdir()]
    assert not [n for n in saved if n.endswith((".pkl", ".pickle", ".joblib"))]
    size = loaded.parameters()  # type: ignore[attr-defined]
    assert isinstance(size, int) and size > 0
