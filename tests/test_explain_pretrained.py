"""Explanations of text read by a pretrained checkpoint: Integrated Gradients
through its word embeddings, for a fine-tuned tiny random BERT and a frozen
all-MiniLM-L6-v2, by the API and by ``tailor explain``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import tailorml
from tailorml.audit.explain import explain_rows, ids_embedding, path_ends
from tailorml.data import load_builtin
from tailorml.features.pretrained_text import CheckpointTextPreprocessor
from tailorml.models.encoders.pretrained import PretrainedEncoder
from tailorml.runs.run import Run

STRONG = {"terrible", "worst", "hate"}  # words that decide a tweet's sentiment
FEW = 4  # rows explained per model: Integrated Gradients on MiniLM costs seconds per row


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """200 training rows, and a few short unseen rows with a strong word, as Parquet."""
    frame = load_builtin("sentiment").frames["all"][["text", "sentiment"]]
    train = frame.sample(200, random_state=0)
    unseen = frame.drop(train.index)
    strong = unseen[
        unseen["text"].str.contains(rf"\b(?:{'|'.join(STRONG)})\b")
        & (unseen["text"].str.len() < 60)
    ]
    folder = tmp_path_factory.mktemp("pretrained_explain")
    train.reset_index(drop=True).to_parquet(folder / "train.parquet")
    strong.iloc[:FEW].reset_index(drop=True).to_parquet(folder / "strong.parquet")
    return {"train": folder / "train.parquet", "strong": folder / "strong.parquet"}


def config(source: Path, checkpoint: str, mode: str, epochs: int) -> dict[str, Any]:
    return {
        "data": {"source": str(source), "target": "sentiment",
                 "split": {"method": "stratified", "test_fraction": 0.2,
                           "validation_fraction": 0.1, "seed": 0}},
        "input_features": [{"name": "text", "type": "text", "preprocessing": {"max_length": 48},
                            "encoder": {"name": "pretrained", "checkpoint": checkpoint,
                                        "mode": mode, "pooling": "mean"}}],
        "decoder": {"hidden": [32]},
        "output_features": [{"name": "sentiment", "type": "category"}],
        "training": {"epochs": epochs, "batch_size": 16, "learning_rate": 0.003, "seed": 0},
    }  # fmt: skip


@pytest.fixture(scope="module")
def finetuned(
    data: dict[str, Path], tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory
) -> Run:
    folder = tmp_path_factory.mktemp("finetuned") / "run"
    return tailorml.train(config(data["train"], str(tiny_checkpoint), "finetune", 1), folder,
                          quiet=True)  # fmt: skip


@pytest.fixture(scope="module")
def frozen(data: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Run:
    folder = tmp_path_factory.mktemp("frozen") / "run"
    return tailorml.train(config(data["train"], "all-MiniLM-L6-v2", "frozen", 10), folder,
                          quiet=True)  # fmt: skip


def network(run: Run) -> PretrainedEncoder:
    encoder = run.bundle.model.encoders["text"]
    assert isinstance(encoder, PretrainedEncoder)
    return encoder


def check_explanations(run: Run, rows: pd.DataFrame, explanations: list[dict[str, Any]]) -> None:
    """Word pieces aligned with their scores, scores that add up to the output's gain,
    and a nonzero score for the strong word; MiniLM, which reads these words,
    gives it the row's highest score."""
    pre = run.bundle.features.inputs[0]
    assert isinstance(pre, CheckpointTextPreprocessor)
    ids = pre.transform(rows["text"])
    converged = []
    for explanation, text, row in zip(explanations, rows["text"], ids, strict=True):
        feature = explanation["features"]["text"]
        pieces = pre.tokenizer.encode(text).tokens  # [CLS] … [SEP], as the network reads them
        assert feature["tokens"] == pieces
        assert len(feature["scores"]) == int((row != pre.meta().pad_id).sum()) == len(pieces)
        gain = explanation["output"] - explanation["baseline_output"]
        delta = explanation["convergence_delta"]
        assert sum(feature["scores"]) == pytest.approx(gain + delta, rel=1e-3, abs=1e-5)
        converged.append(abs(delta) < 0.05 * abs(gain))
        strong = [s for t, s in zip(pieces, feature["scores"], strict=True) if t in STRONG]
        assert strong and all(s != 0 for s in strong)
        if network(run).frozen:
            assert max(strong) == max(feature["scores"])
    assert np.mean(converged) >= 0.75
    assert [e["prediction"] for e in explanations] == list(run.predict(rows)["prediction"])


def test_token_embedding_is_found_behind_dynamic_padding(finetuned: Run) -> None:
    encoder = network(finetuned)
    ids = finetuned.bundle.features.encode(pd.DataFrame({"text": ["so bad", "ok"]}),
                                           with_target=False).inputs["text"]  # fmt: skip
    assert (ids == 0).any(dim=1).all()  # padded: the encoder looks up a slice
    assert ids_embedding(encoder, ids, "text") is encoder.network.embeddings.word_embeddings


def test_text_baseline_is_the_feature_padding_token() -> None:
    layer = nn.Embedding(10, 3)
    ids = torch.tensor([[4, 5, 3, 3]])
    _, (baseline,) = path_ends(["text"], {"text": ids}, {"text": layer}, {"text": 3})
    assert torch.equal(baseline, layer.weight[3].expand(1, 4, 3))


def test_finetuned_word_pieces_carry_complete_attributions(
    finetuned: Run, data: dict[str, Path]
) -> None:
    rows = pd.read_parquet(data["strong"])
    explained = [e.model_dump() for e in explain_rows(finetuned, rows)]
    check_explanations(finetuned, rows, explained)


def test_frozen_explanations_run_the_network_from_ids(frozen: Run, data: dict[str, Path]) -> None:
    rows = pd.read_parquet(data["strong"])
    looked_up: list[torch.Tensor] = []
    layer = network(frozen).network.embeddings.word_embeddings
    handle = layer.register_forward_hook(lambda m, args, out: looked_up.append(args[0]))
    try:
        explanations = explain_rows(frozen, rows)
    finally:
        handle.remove()
    # the integral's points (50 steps a row) ran through the checkpoint's network from
    # the ids, not from cached embeddings, trimmed to the longest text: the swapped-in
    # vectors were cut to the length the network saw
    integral = [ids for ids in looked_up if len(ids) == 50 * len(rows)]
    assert integral and all(not ids.is_floating_point() for ids in integral)
    assert max(ids.shape[1] for ids in integral) < 48
    check_explanations(frozen, rows, [e.model_dump() for e in explanations])


@pytest.mark.parametrize("name", ["finetuned", "frozen"])
def test_cli_explains_pretrained_text(
    name: str, data: dict[str, Path], request: pytest.FixtureRequest, cli: Any
) -> None:
    run: Run = request.getfixturevalue(name)
    assert run.path is not None
    importance = "--importance" if name == "finetuned" else "--no-importance"  # MiniLM: slow
    result = cli(
        "explain", str(run.path), "--data", str(data["strong"]), "--rows", f"0:{FEW}", importance
    )
    assert result.returncode == 0, result.stderr
    saved = json.loads((run.path / "explanations.json").read_text())
    check_explanations(run, pd.read_parquet(data["strong"]), saved["rows"])
    assert "<span style='background:rgba(" in (run.path / "explanations.html").read_text()
