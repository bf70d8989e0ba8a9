"""`tailor match` weighs pretrained text encoders: frozen and fine-tuned
candidates enter when the budget allows, read their checkpoint's tokens, and
are measured like every other candidate.

The tiny random checkpoint takes MiniLM's place through
``TAILORML_MATCH_CHECKPOINT``; the data are a few hundred rows of
builtin:sentiment in parquet (some texts hold a bare carriage return).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

import tailorml
from tailorml.data import load_builtin
from tailorml.features.meta import FeatureMeta
from tailorml.match.engine import load_scenario, measure_candidate, ship
from tailorml.match.portfolio import Candidate, build_portfolio
from tailorml.match.prepare import Prepared, prepare
from tailorml.match.search import search
from tailorml.match.trial import deep_config, fit_bundle, fit_charged
from tailorml.models import TailorModel
from tailorml.pipelines import match
from tailorml.records.match import MatchResult
from tailorml.runs.run import Run
from tailorml.train.frozen import embed_frozen_costed

ROWS = 300  # about 210 training rows: frozen is estimated at ~2.4 s, fine-tuning at ~4.2 s
SMALL_BUDGET = 7.0  # frozen fits in half of it, fine-tuning does not
LARGE_BUDGET = 40.0  # both fit; under 60 s, so no LSTM joins
PRETRAINED = ("minilm_frozen", "minilm_finetune")


@pytest.fixture(scope="module")
def feedback(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A parquet file of sentiment rows, carriage returns included."""
    frame = load_builtin("sentiment").frames["all"][["text", "sentiment"]]
    bare_cr = frame[frame["text"].str.contains("\r", regex=False)].head(10)
    rest = frame.drop(bare_cr.index).sample(ROWS - len(bare_cr), random_state=0)
    rows = pd.concat([bare_cr, rest]).sample(frac=1, random_state=0).reset_index(drop=True)
    path = tmp_path_factory.mktemp("feedback") / "feedback.parquet"
    rows.to_parquet(path)
    return path


def write_scenario(folder: Path, data: Path, budget: float) -> Path:
    """A scenario like scenarios/feedback_sentiment.yaml on the small file."""
    scenario: dict[str, Any] = {
        "name": "small_feedback",
        "domain": "retail",
        "task": "classification",
        "data": {
            "source": str(data),
            "target": "sentiment",
            "split": {"method": "stratified", "test_fraction": 0.2, "validation_fraction": 0.1},
        },
        "input_features": [
            {"name": "text", "type": "text", "preprocessing": {"max_length": 48, "min_count": 2}}
        ],
        "budget": {"seconds": budget},
        "economics": {"price_per_cpu_hour": 0.10},
        "value": {"true_positive": 1, "false_positive": 0},
        "seed": 0,
    }
    path = folder / f"feedback_{budget:g}s.yaml"
    path.write_text(yaml.safe_dump(scenario))
    return path


@pytest.fixture(scope="module")
def checkpoint_env(tiny_checkpoint: Path) -> Any:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TAILORML_MATCH_CHECKPOINT", str(tiny_checkpoint))
        yield tiny_checkpoint


@pytest.fixture(scope="module")
def small_match(
    checkpoint_env: Path, feedback: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, MatchResult, Path]:
    """The whole `tailor match` with a budget too small to fine-tune."""
    folder = tmp_path_factory.mktemp("small_match")
    scenario = write_scenario(folder, feedback, SMALL_BUDGET)
    return folder / "run", match(scenario, folder / "run", quiet=True), scenario


@pytest.fixture(scope="module")
def large(
    checkpoint_env: Path, feedback: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Prepared, list[Candidate], Path]:
    """The data and portfolio of a budget that allows both pretrained candidates."""
    folder = tmp_path_factory.mktemp("large")
    data = prepare(load_scenario(write_scenario(folder, feedback, LARGE_BUDGET)))
    rows = len(data.frames["train"])
    portfolio, _ = build_portfolio(data.features.metas(), rows, LARGE_BUDGET)
    return data, portfolio, folder / "run"


def test_a_small_budget_leaves_fine_tuning_out_and_says_why(
    small_match: tuple[Path, MatchResult, Path], checkpoint_env: Path
) -> None:
    run_dir, result, _ = small_match
    assert result.portfolio.candidates == [
        "tfidf_linear_c1", "tfidf_linear_c4", "minilm_frozen",
    ]  # fmt: skip
    reasons = result.portfolio.reasons
    left_out = next(r for r in reasons if r.startswith("minilm_finetune"))
    assert "left out" in left_out and f"half the {SMALL_BUDGET:g} s budget" in left_out
    assert str(checkpoint_env) in left_out
    html = (run_dir / "report.html").read_text()
    assert "minilm_finetune" in html and "left out: fine-tuning" in html


def test_the_frozen_candidate_is_measured_like_the_others(
    small_match: tuple[Path, MatchResult, Path],
) -> None:
    run_dir, result, scenario = small_match
    trained = (run_dir / "search" / "trials.jsonl").read_text()
    assert '"name": "minilm_frozen"' in trained
    entries = {c.name: c for c in result.candidates}
    assert set(entries) == set(result.portfolio.candidates)  # one rung: all finish
    for entry in entries.values():
        metrics = entry.metrics
        assert metrics.latency_p95_ms >= metrics.latency_p50_ms > 0
        assert metrics.cost_per_1k > 0 and metrics.throughput_rows_per_s > 0
    frozen, linear = entries["minilm_frozen"].metrics, entries["tfidf_linear_c1"].metrics
    assert frozen.parameters > linear.parameters  # the checkpoint's network is counted
    assert frozen.flops_per_row > 0
    candidate = Candidate("minilm_frozen", "deep", entries["minilm_frozen"].params)
    assert_same_when_trained_again(run_dir, candidate, prepare(load_scenario(scenario)))


def assert_same_when_trained_again(run_dir: Path, candidate: Candidate, data: Prepared) -> None:
    """The same seed trains the same network: equal validation probabilities."""
    saved = tailorml.load(run_dir / "candidates" / candidate.name)
    again = Run(fit_bundle(candidate, data, 1.0, data.scenario.seed))
    validation = data.frames["validation"]
    first, second = saved.outcome(validation).proba, again.outcome(validation).proba
    assert first is not None and second is not None
    np.testing.assert_array_equal(first, second, err_msg=candidate.name)


def check_shipped(folder: Path, pretrained: bool, rows: pd.DataFrame) -> None:
    """The bundle tokenizes as its encoder reads, and predicts raw rows."""
    run = tailorml.load(folder)
    (text,) = run.bundle.features.inputs
    encoder = run.config.input_features[0].encoder
    assert (encoder is not None and encoder.name == "pretrained") == pretrained
    assert (text.kind or text.type) == ("text:pretrained" if pretrained else "text")
    predicted = run.predict(rows)
    assert len(predicted) == len(rows)
    assert set(predicted["prediction"]) <= set(rows["sentiment"])


def test_the_recommended_bundle_carries_its_own_features(
    small_match: tuple[Path, MatchResult, Path], feedback: Path
) -> None:
    run_dir, result, scenario = small_match
    rows = pd.read_parquet(feedback)
    assert result.recommended is not None, result.reasoning
    check_shipped(run_dir / "recommended", result.recommended.startswith("minilm"), rows)
    # a pretrained pick ships the same way (last: it replaces the recommended folder)
    ship(run_dir, "minilm_frozen", prepare(load_scenario(scenario)), result.candidates)
    check_shipped(run_dir / "recommended", True, rows)


def test_the_finetuned_candidate_is_searched_and_measured(
    large: tuple[Prepared, list[Candidate], Path],
) -> None:
    data, portfolio, run_dir = large
    assert [c.name for c in portfolio] == ["tfidf_linear_c1", "tfidf_linear_c4", *PRETRAINED]
    finetune = portfolio[-1]
    finalists, log = search(data, [finetune], run_dir, "accuracy")
    assert finalists == [finetune]
    metrics = measure_candidate(finetune, data, log, run_dir).metrics
    assert 0 <= metrics.quality.value <= 1
    assert metrics.latency_p95_ms >= metrics.latency_p50_ms > 0
    assert metrics.cost_per_1k > 0 and metrics.train_seconds > 0
    saved = tailorml.load(run_dir / "candidates" / finetune.name)
    assert saved.bundle.features.inputs[0].kind == "text:pretrained"
    assert saved.config.training.precision == "bf16" and saved.config.training.warmup_steps > 0
    assert_same_when_trained_again(run_dir, finetune, data)


TEXT = {"text": FeatureMeta("text", "text", (16,), "int64", vocab_size=100)}


def test_a_missing_checkpoint_leaves_the_pretrained_candidates_out(tmp_path: Path) -> None:
    candidates, reasons = build_portfolio(TEXT, 20_000, 3600, checkpoint=str(tmp_path / "none"))
    assert not set(PRETRAINED) & {c.name for c in candidates}
    assert any(r.startswith("No pretrained candidates") and "none" in r for r in reasons)


def test_the_estimate_grows_with_the_rows_and_the_checkpoint_size(tmp_path: Path) -> None:
    _, reasons = build_portfolio(TEXT, 26_711, 90)  # scenarios/feedback_sentiment.yaml
    frozen, finetune = (r for r in reasons if r.startswith(PRETRAINED))
    assert "26,711 rows at ~500/s + the MLP ≈ 55 s, more than half the 90 s budget" in frozen
    assert "26,711 rows × 2 epochs at ~100/s ≈ 534 s, more than half" in finetune
    candidates, _ = build_portfolio(TEXT, 26_711, 1000)
    assert [c.name for c in candidates if c.name in PRETRAINED] == ["minilm_frozen"]
    big = tmp_path / "base"  # a BERT-base-sized architecture: 8× MiniLM's work per text
    big.mkdir()
    (big / "config.json").write_text(
        json.dumps({"model_type": "bert", "num_hidden_layers": 12, "hidden_size": 768})
    )
    for name in ("model.safetensors", "tokenizer.json"):
        (big / name).write_text("")
    _, reasons = build_portfolio(TEXT, 26_711, 90, checkpoint=str(big))
    assert any("fine-tuning 26,711 rows × 2 epochs at ~12.5/s ≈ 4,274 s" in r for r in reasons)


def test_a_frozen_trial_is_charged_for_its_cached_embeddings(
    small_match: tuple[Path, MatchResult, Path],
) -> None:
    """Embeddings computed by an earlier trial are read from the cache, but the
    trial still counts what computing them cost (its share of the rows)."""
    _, result, scenario = small_match
    data = prepare(load_scenario(scenario))
    entry = next(c for c in result.candidates if c.name == "minilm_frozen")
    candidate = Candidate("minilm_frozen", "deep", entry.params)
    config = deep_config(data.config, candidate.params, data.scenario.seed)
    features = data.preprocessed(config).features
    model = TailorModel(config, features.metas(), features.target.n_outputs)
    train = data.preprocessed(config).encoded["train"].inputs
    _, cost = embed_frozen_costed(model, train, config.training.precision)
    assert cost > 0  # recorded by the match's own trial
    assert embed_frozen_costed(model, train, config.training.precision)[1] == cost  # read back
    assert fit_charged(candidate, data, 1.0, data.scenario.seed)[1] >= cost
    assert fit_charged(candidate, data, 0.5, data.scenario.seed)[1] >= cost / 2
    assert entry["metrics"]["train_seconds"] >= cost
    assert embed_frozen_costed(torch.nn.Linear(1, 1), {}, "fp32")[1] == 0  # nothing frozen
