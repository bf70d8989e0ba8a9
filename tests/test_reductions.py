"""The ``fair_reductions`` family: fairlearn's ExponentiatedGradient around a
linear or LightGBM base learner, saved without pickle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fairlearn.metrics import demographic_parity_difference
from sklearn.dummy import DummyClassifier

from tailorml.config import ModelConfig
from tailorml.data import load_builtin
from tailorml.errors import ConfigError
from tailorml.features import Encoded, FeatureSet
from tailorml.features.meta import FeatureMeta
from tailorml.models.classical import CLASSICAL, ClassicalModel
from tailorml.models.classical.reductions import lightgbm_votes, stack_linear
from tailorml.runs.bundle import Bundle, load_bundle, save_bundle

NUMBERS = ["age", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
CATEGORIES = ["workclass", "marital_status", "occupation", "relationship"]
# fairlearn 0.15 sets Series values with ``.at`` on new keys, which pandas 3 deprecates
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:fairlearn")
BASES: dict[str, dict[str, Any]] = {
    "linear": {"base": "linear", "constraint": "demographic_parity"},
    "lightgbm": {"base": "lightgbm", "constraint": "demographic_parity", "n_estimators": 50},
}


def adult_config() -> ModelConfig:
    """Adult's table features; sex and race are sensitive, not inputs."""
    return ModelConfig.model_validate(
        {
            "data": {"source": "builtin:adult", "target": "income"},
            "input_features": [{"name": c, "type": "number"} for c in NUMBERS]
            + [{"name": c, "type": "category"} for c in CATEGORIES],
            "output_features": [{"name": "income", "type": "binary", "positive": ">50K"}],
        }
    )


@pytest.fixture(scope="module")
def adult() -> dict[str, Any]:
    """4,000 training rows and 4,000 rows of the official test file, encoded."""
    frames = load_builtin("adult").frames
    train = frames["train"].sample(4000, random_state=0).reset_index(drop=True)
    test = frames["test"].sample(4000, random_state=0).reset_index(drop=True)
    config = adult_config()
    features = FeatureSet.fit(config, train)
    return {
        "config": config,
        "features": features,
        "train": features.encode(train, "train"),
        "test": features.encode(test, "test"),
        "sex_train": train["sex"].to_numpy(),
        "sex_test": test["sex"].to_numpy(),
    }


def fitted(family: str, params: dict[str, Any], adult: dict[str, Any]) -> ClassicalModel:
    model = CLASSICAL[family](params, adult["features"].metas(), "binary", 2)
    train: Encoded = adult["train"]
    assert train.target is not None
    model.fit(train.inputs, train.target, seed=0, sensitive=adult["sex_train"])
    return model


@pytest.fixture(scope="module")
def mitigated(adult: dict[str, Any]) -> dict[str, ClassicalModel]:
    return {base: fitted("fair_reductions", params, adult) for base, params in BASES.items()}


def saved_and_loaded(model: ClassicalModel, adult: dict[str, Any], folder: Path) -> Bundle:
    bundle = Bundle(adult["config"], adult["features"], model, model.family, model.params)
    save_bundle(bundle, folder)
    return load_bundle(folder)


def dpd(model: ClassicalModel, adult: dict[str, Any]) -> float:
    """Demographic parity difference (sex) of the argmax decisions on held-out rows."""
    test: Encoded = adult["test"]
    assert test.target is not None
    decided = model.predict_raw(test.inputs).argmax(axis=1)
    y = test.target.numpy().astype(int)
    return float(demographic_parity_difference(y, decided, sensitive_features=adult["sex_test"]))


# ---------------------------------------------------------------- save and load


@pytest.mark.parametrize("base", list(BASES))
def test_bundle_round_trip_without_pickle(
    base: str, adult: dict[str, Any], mitigated: dict[str, ClassicalModel], tmp_path: Path
) -> None:
    model = mitigated[base]
    loaded = saved_and_loaded(model, adult, tmp_path / "model").model
    assert isinstance(loaded, ClassicalModel) and loaded.family == "fair_reductions"
    assert not hasattr(loaded, "mitigator")
    inputs = adult["test"].inputs
    np.testing.assert_array_equal(loaded.predict_raw(inputs), model.predict_raw(inputs))
    assert loaded.parameters() == model.parameters() > 0
    names = {p.name for p in (tmp_path / "model").iterdir()}
    assert not {n for n in names if n.endswith((".pkl", ".pickle", ".joblib"))}
    if base == "linear":
        assert names == {"model.json", "reductions.safetensors"}
    else:
        trees = {f"reductions_{j}.txt" for j in range(len(loaded.weights))}  # type: ignore[attr-defined]
        assert names <= {"model.json", "reductions.json"} | trees


@pytest.mark.parametrize("base", list(BASES))
def test_mixture_probability_is_fairlearns_pmf(
    base: str, adult: dict[str, Any], mitigated: dict[str, ClassicalModel], tmp_path: Path
) -> None:
    model = mitigated[base]
    loaded = saved_and_loaded(model, adult, tmp_path / "model").model
    assert isinstance(loaded, ClassicalModel)
    inputs = adult["test"].inputs
    x, _ = model.design(inputs)  # type: ignore[attr-defined]
    expected = model.mitigator._pmf_predict(x)[:, 1]  # type: ignore[attr-defined]
    proba = loaded.predict_raw(inputs)
    np.testing.assert_allclose(proba[:, 1], expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    # a real mixture, and the binary logit convention of the other families
    assert len(np.unique(proba[:, 1])) > 2
    assert loaded.outputs(inputs).shape == (len(proba), 1)


def test_constant_members_keep_their_decision() -> None:
    """fairlearn swaps in a constant classifier when every reduced label is equal."""
    x = np.array([[0.0, 1.0], [2.0, -3.0], [5.0, 0.5]])
    ones = DummyClassifier(strategy="constant", constant=1).fit(x, [1, 1, 1])
    zeros = DummyClassifier(strategy="constant", constant=0).fit(x, [0, 0, 0])
    coef, intercept = stack_linear([ones, zeros], width=2)
    votes = (x @ coef.T + intercept) > 0
    np.testing.assert_array_equal(votes, [[True, False]] * 3)
    np.testing.assert_array_equal(lightgbm_votes(1, x), [1, 1, 1])


# ---------------------------------------------------------------- fairness


@pytest.mark.parametrize("base", list(BASES))
def test_mitigation_narrows_the_demographic_parity_gap(
    base: str, adult: dict[str, Any], mitigated: dict[str, ClassicalModel]
) -> None:
    unmitigated = fitted(base, {"n_estimators": 50} if base == "lightgbm" else {}, adult)
    assert dpd(unmitigated, adult) > 0.12
    assert dpd(mitigated[base], adult) < 0.06
    test: Encoded = adult["test"]
    assert test.target is not None
    decided = mitigated[base].predict_raw(test.inputs).argmax(axis=1)
    assert np.mean(decided == test.target.numpy()) > 0.8  # not just "everyone is negative"


def test_equalized_odds_constraint_fits(adult: dict[str, Any]) -> None:
    params = {"base": "linear", "constraint": "equalized_odds", "max_iter": 20}
    model = fitted("fair_reductions", params, adult)
    proba = model.predict_raw(adult["test"].inputs)
    assert proba.shape == (4000, 2) and np.all((proba >= 0) & (proba <= 1))


# ---------------------------------------------------------------- errors


def test_missing_sensitive_labels_are_refused(adult: dict[str, Any]) -> None:
    model = CLASSICAL["fair_reductions"]({}, adult["features"].metas(), "binary", 2)
    with pytest.raises(ConfigError, match="sensitive attribute's labels at training time"):
        model.fit(adult["train"].inputs, adult["train"].target, seed=0)
    with pytest.raises(ConfigError, match="3 sensitive labels for 4000 rows"):
        model.fit(adult["train"].inputs, adult["train"].target, 0, np.array(["a", "b", "a"]))


@pytest.mark.parametrize("kind", ["category", "number"])
def test_non_binary_targets_are_refused(kind: str, adult: dict[str, Any]) -> None:
    model = CLASSICAL["fair_reductions"]({}, adult["features"].metas(), kind, 3)
    target = torch.zeros(4000)
    with pytest.raises(ConfigError, match=f"binary classification; this target is {kind}"):
        model.fit(adult["train"].inputs, target, seed=0, sensitive=adult["sex_train"])


def test_text_features_are_refused() -> None:
    metas = {
        "age": FeatureMeta("age", "number", (1,), "float32"),
        "review": FeatureMeta("review", "text", (8,), "int64", vocab_size=50),
    }
    inputs = {"age": torch.zeros(4, 1), "review": torch.ones(4, 8, dtype=torch.int64)}
    model = CLASSICAL["fair_reductions"]({}, metas, "binary", 2)
    with pytest.raises(ConfigError, match="input feature 'review' is text"):
        model.fit(inputs, torch.tensor([0.0, 1.0, 0.0, 1.0]), 0, np.array(list("abab")))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"base": "lightgbn"}, "unknown base 'lightgbn' — did you mean 'lightgbm'?"),
        ({"constraint": "demographic"}, "did you mean 'demographic_parity'?"),
        ({"base": "lightgbm", "C": 0.5}, "unknown key 'C' \\(base 'lightgbm'\\)"),
        ({"max_iters": 5}, "unknown key 'max_iters' \\(base 'linear'\\) — did you mean 'max_iter'"),
    ],
)
def test_bad_params_name_the_nearest_valid_one(
    params: dict[str, Any], message: str, adult: dict[str, Any]
) -> None:
    model = CLASSICAL["fair_reductions"](params, adult["features"].metas(), "binary", 2)
    with pytest.raises(ConfigError, match=message):
        model.fit(adult["train"].inputs, adult["train"].target, 0, adult["sex_train"])
