"""Explanations: Integrated Gradients on deep models, exact contributions of
classical ones, permutation importance, a pixel-deletion test and the page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import tailorml
from tailorml.audit.explain import explain_rows, faithfulness, permutation_importance
from tailorml.config import as_config
from tailorml.data import load_builtin
from tailorml.features import FeatureSet
from tailorml.models.classical import CLASSICAL
from tailorml.records.explanations import ExplanationsRecord, RowExplanation
from tailorml.report.explain import write_explanations
from tailorml.runs.bundle import Bundle
from tailorml.runs.run import Run

ROOT = Path(__file__).resolve().parents[1]
TABLE_FEATURES = ["status", "duration", "credit_history", "credit_amount", "age", "telephone",
                  "noise"]  # fmt: skip


def converged(explanation: RowExplanation) -> bool:
    return abs(explanation.convergence_delta) < 0.05 * abs(explanation.output)


def total_score(explanation: RowExplanation) -> float:
    return sum(feature.score for feature in explanation.features.values())


def classical_run(config: dict[str, Any], rows: pd.DataFrame, family: str) -> Run:
    """A linear or LightGBM bundle fitted on ``rows`` with the config's features."""
    model_config = as_config(config)
    features = FeatureSet.fit(model_config, rows)
    encoded = features.encode(rows, "training")
    assert encoded.target is not None
    target = features.target
    model = CLASSICAL[family]({}, features.metas(), target.kind, len(target.labels) or 1)
    model.fit(encoded.inputs, encoded.target, seed=0)
    return Run(Bundle(model_config, features, model, family))


# ---------------------------------------------------------------- images: the seed CNN


@pytest.fixture(scope="module")
def cnn(tmp_path_factory: pytest.TempPathFactory) -> Run:
    folder = tmp_path_factory.mktemp("cnn") / "run"
    return tailorml.train(ROOT / "examples" / "seed_cnn_mnist.yaml", folder, quiet=True)


@pytest.fixture(scope="module")
def digits() -> pd.DataFrame:
    return load_builtin("mnist").frames["test"].iloc[:100]


def test_integrated_gradients_converge_on_the_seed_cnn(cnn: Run, digits: pd.DataFrame) -> None:
    explanations = explain_rows(cnn, digits, n_steps=50)
    assert np.mean([converged(e) for e in explanations]) >= 0.9
    assert [e.prediction for e in explanations] == list(cnn.predict(digits)["prediction"])
    first = explanations[0]
    pixels = np.asarray(first.features["image"].map)
    assert pixels.shape == (28, 28)
    assert np.asarray(first.features["image"].image).shape == (28, 28)
    # completeness: the map adds up to the output minus the black image's output
    gain = first.output - first.baseline_output
    assert pixels.sum() == pytest.approx(gain, rel=0.05)


def test_most_attributed_pixels_matter_more_than_random_ones(
    cnn: Run, digits: pd.DataFrame
) -> None:
    result = faithfulness(cnn, digits, fraction=0.1, seed=0)
    assert result["rows"] == 100 and result["pixels_removed"] == 78
    assert result["converged_share"] >= 0.9
    assert result["top_drop"] > result["random_drop"]


def test_page_draws_heatmaps_and_importance(cnn: Run, digits: pd.DataFrame) -> None:
    assert cnn.path is not None
    explanations = explain_rows(cnn, digits.iloc[:3], n_steps=20)
    importance = permutation_importance(cnn, digits, repeats=2)
    record = ExplanationsRecord(rows=explanations, permutation_importance=importance)
    page = write_explanations(cnn.path, record)
    text = page.read_text()
    assert page == cnn.path / "explanations.html"
    assert text.count("<svg") == 4  # three heatmaps and the importance chart
    assert "http" not in text
    saved = json.loads((cnn.path / "explanations.json").read_text())
    assert [r["row"] for r in saved["rows"]] == [0, 1, 2]
    assert saved["permutation_importance"]["image"]["mean"] > 0.5


# ---------------------------------------------------------------- text


@pytest.fixture(scope="module")
def sentiment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3,000 sentiment rows as a Parquet file (texts hold line breaks)."""
    path = tmp_path_factory.mktemp("sentiment") / "sentiment.parquet"
    rows = load_builtin("sentiment").frames["all"].sample(3000, random_state=0)
    rows.reset_index(drop=True).to_parquet(path)
    return path


def text_config(example: str, source: Path) -> dict[str, Any]:
    config = yaml.safe_load((ROOT / "examples" / example).read_text())
    config["data"]["source"] = str(source)
    config["training"]["epochs"] = 1
    return dict(config)


def model_tokens(run: Run, text: str) -> list[str]:
    """The tokens of ``text`` as the model sees them (unknown words, truncation)."""
    pre = run.bundle.features.inputs[0]
    vocab = set(pre.state["vocab"])
    tokens = [t if t in vocab else "<unknown>" for t in pre.tokenize(text)]
    return tokens[: pre.options["max_length"]]


@pytest.mark.parametrize("example", ["sentiment_rnn.yaml", "sentiment_transformer.yaml"])
def test_tokens_carry_the_attributions(example: str, sentiment: Path) -> None:
    run = tailorml.train(text_config(example, sentiment), quiet=True)
    rows = pd.read_parquet(sentiment).iloc[:20]
    explanations = explain_rows(run, rows)
    for explanation, text in zip(explanations, rows["text"], strict=True):
        feature = explanation.features["text"]
        assert feature.tokens == model_tokens(run, text)
        assert len(feature.scores) == len(feature.tokens)
        gain = explanation.output - explanation.baseline_output
        assert sum(feature.scores) == pytest.approx(gain, abs=0.05 * abs(gain) + 1e-3)
    assert np.mean([converged(e) for e in explanations]) >= 0.9
    record = ExplanationsRecord(rows=explanations[:2], permutation_importance=None)
    page = write_explanations(Path(sentiment).parent, record).read_text()
    assert "<span style='background:rgba(" in page


def test_linear_text_contributions_are_exact(sentiment: Path) -> None:
    config = text_config("sentiment_rnn.yaml", sentiment)
    rows = pd.read_parquet(sentiment)
    run = classical_run(config, rows.iloc[100:], "linear")
    explanations = explain_rows(run, rows.iloc[:20])
    for explanation, text in zip(explanations, rows["text"].iloc[:20], strict=True):
        assert explanation.features["text"].tokens == model_tokens(run, text)
        assert explanation.convergence_delta is None
        exact = total_score(explanation) + explanation.baseline_output
        assert exact == pytest.approx(explanation.output, abs=1e-3)


# ---------------------------------------------------------------- tables


@pytest.fixture(scope="module")
def german(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """German credit with a pure-noise column: a training file, held-out rows, a config."""
    rows = load_builtin("german_credit").frames["all"].copy()
    rows["noise"] = np.random.default_rng(0).normal(size=len(rows))
    source = tmp_path_factory.mktemp("german") / "train.csv"
    rows.iloc[250:].to_csv(source, index=False)
    categories = {"status", "credit_history"}
    config = {
        "data": {"source": str(source), "target": "credit_risk",
                 "split": {"method": "stratified", "test_fraction": 0.1,
                           "validation_fraction": 0.1, "seed": 0}},
        "input_features": [
            {"name": name, "type": "category",
             "encoder": {"name": "embed_mlp", "embedding_size": 4}}
            if name in categories else
            {"name": name, "type": "binary" if name == "telephone" else "number"}
            for name in TABLE_FEATURES
        ],
        "decoder": {"hidden": [32]},
        "output_features": [{"name": "credit_risk", "type": "binary", "positive": "bad"}],
        "training": {"epochs": 15, "batch_size": 32, "learning_rate": 0.003, "seed": 0},
    }  # fmt: skip
    return {"train": rows.iloc[250:], "held_out": rows.iloc[:250], "config": config}


@pytest.fixture(scope="module")
def table_run(german: dict[str, Any]) -> Run:
    return tailorml.train(german["config"], quiet=True)


def test_table_model_attributes_every_input_at_once(table_run: Run, german: dict[str, Any]) -> None:
    rows = german["held_out"].iloc[:50]
    explanations = explain_rows(table_run, rows)
    predicted = table_run.predict(rows)["prediction"]
    assert np.mean([converged(e) for e in explanations]) >= 0.9
    for explanation, row, label in zip(explanations, rows.itertuples(), predicted, strict=True):
        assert list(explanation.features) == TABLE_FEATURES
        assert explanation.prediction == label
        assert explanation.features["status"].value == row.status
        assert explanation.features["duration"].value == row.duration
        gain = explanation.output - explanation.baseline_output
        delta = explanation.convergence_delta
        assert abs(delta) < 0.02
        assert total_score(explanation) == pytest.approx(gain + delta, abs=1e-4)
        # the explained output is the log-odds of the decided class
        assert explanation.output > 0 or explanation.prediction == "bad"


@pytest.mark.parametrize("family", ["linear", "lightgbm"])
def test_classical_contributions_add_up_to_the_output(family: str, german: dict[str, Any]) -> None:
    run = classical_run(german["config"], german["train"], family)
    rows = german["held_out"].iloc[:50]
    explanations = explain_rows(run, rows)
    features = run.bundle.features
    logits = run.outputs(features.encode(rows, with_target=False)).reshape(-1).numpy()
    for explanation, logit in zip(explanations, logits, strict=True):
        assert list(explanation.features) == TABLE_FEATURES
        assert explanation.convergence_delta is None
        sign = 1.0 if explanation.target == 1 else -1.0
        assert explanation.output == pytest.approx(sign * logit, abs=1e-3)
        exact = total_score(explanation) + explanation.baseline_output
        assert exact == pytest.approx(explanation.output, abs=1e-6)


@pytest.mark.parametrize("family", ["deep", "lightgbm"])
def test_permutation_importance_ranks_a_real_feature_above_noise(
    family: str, german: dict[str, Any], table_run: Run
) -> None:
    run = (
        table_run if family == "deep" else classical_run(german["config"], german["train"], family)
    )
    importance = permutation_importance(run, german["held_out"], repeats=5, seed=0)
    assert list(importance) == TABLE_FEATURES
    assert importance["status"].mean > importance["noise"].mean + 0.01
    assert all(v.std >= 0 for v in importance.values())
    assert permutation_importance(run, german["held_out"], repeats=5, seed=0) == importance


def test_regression_explains_the_predicted_value(german: dict[str, Any]) -> None:
    config = {
        **german["config"],
        "data": {**german["config"]["data"], "target": "credit_amount"},
        "input_features": [{"name": "duration", "type": "number"},
                           {"name": "status", "type": "category"}],
        "output_features": [{"name": "credit_amount", "type": "number"}],
        "training": {"epochs": 3, "batch_size": 64, "seed": 0},
    }  # fmt: skip
    run = tailorml.train(config, quiet=True)
    rows = german["held_out"].iloc[:10]
    explanations = explain_rows(run, rows)
    values = run.predict(rows)["prediction"]
    for explanation, value in zip(explanations, values, strict=True):
        assert explanation.target is None
        assert explanation.prediction == pytest.approx(value, rel=1e-4)
        gain = explanation.output - explanation.baseline_output
        assert total_score(explanation) == pytest.approx(gain, abs=0.02)
    assert set(permutation_importance(run, rows, repeats=2)) == {"duration", "status"}
