"""The pretrained text encoder: checkpoints, tokenizing, frozen cache, fine-tuning.

Most tests use the tiny random checkpoint from conftest (MiniLM's tokenizer,
a 2-layer 32-wide BERT); a few load all-MiniLM-L6-v2 itself, offline.
"""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
import yaml

from tailorml.config import as_config
from tailorml.data.readers import read_source
from tailorml.errors import ConfigError
from tailorml.features.checkpoint import DEFAULT_CHECKPOINT, checkpoint_folder
from tailorml.models.model import TailorModel
from tailorml.pipelines import train
from tailorml.runs.run import load
from tailorml.train.loop import bucketed, predict_outputs

ROWS = 240
frozen = importlib.import_module("tailorml.train.frozen")  # tailorml.train is also a function


@pytest.fixture(scope="module")
def texts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few hundred sentiment rows as parquet (some texts hold bare \\r)."""
    frame = read_source("builtin:sentiment").frames["all"]
    small = frame.sample(ROWS, random_state=0)[["text", "sentiment"]].reset_index(drop=True)
    path = tmp_path_factory.mktemp("texts") / "texts.parquet"
    small.to_parquet(path)
    return path


def config(source: Path, checkpoint: str | Path, **encoder: Any) -> dict[str, Any]:
    training = encoder.pop("training", {})
    max_length = encoder.pop("max_length", 48)
    return {
        "data": {
            "source": str(source),
            "target": "sentiment",
            "split": {"method": "stratified", "test_fraction": 0.2, "validation_fraction": 0.1},
        },
        "input_features": [
            {
                "name": "text",
                "type": "text",
                "preprocessing": {"max_length": max_length},
                "encoder": {"name": "pretrained", "checkpoint": str(checkpoint), **encoder},
            }
        ],
        "decoder": {"hidden": [16]},
        "output_features": [{"name": "sentiment", "type": "category"}],
        "training": {"epochs": 2, "batch_size": 16, "seed": 0, **training},
    }


# ---------------------------------------------------------------- checkpoints


def test_bundled_minilm_is_found_offline() -> None:
    folder = checkpoint_folder(DEFAULT_CHECKPOINT)
    assert (folder / "model.safetensors").stat().st_size > 80_000_000  # 22M fp32 weights


@pytest.mark.parametrize("missing", ["config.json", "model.safetensors", "tokenizer.json"])
def test_a_checkpoint_missing_a_file_is_named(
    missing: str, tiny_checkpoint: Path, texts: Path, tmp_path: Path, cli: Any
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_checkpoint, broken)
    (broken / missing).unlink()
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config(texts, broken)))
    result = cli("train", str(path), "--output", str(tmp_path / "run"))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"missing '{missing}'" in result.stderr and str(broken) in result.stderr


def hub_cache(root: Path, repo: str, files: Path) -> None:
    """Lay files out as the Hugging Face Hub cache does after a download."""
    revision = "0123456789abcdef0123456789abcdef01234567"
    home = root / f"models--{repo.replace('/', '--')}"
    (home / "refs").mkdir(parents=True)
    (home / "refs" / "main").write_text(revision)
    shutil.copytree(files, home / "snapshots" / revision)


def test_hub_ids_resolve_through_the_hub_cache_offline(
    tiny_checkpoint: Path, texts: Path, tmp_path: Path, cli: Any
) -> None:
    """The download path (huggingface_hub.snapshot_download), served from local files."""
    cache = tmp_path / "hub"
    hub_cache(cache, "acme/tiny-bert", tiny_checkpoint)
    env = {"HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config(texts, "acme/tiny-bert", training={"epochs": 1})))
    result = cli("train", str(path), "--output", str(tmp_path / "run"), env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()

    path.write_text(yaml.safe_dump(config(texts, "acme/not-downloaded")))
    result = cli("train", str(path), "--output", str(tmp_path / "run2"), env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "'acme/not-downloaded' could not be fetched" in result.stderr
    assert "HF_HUB_OFFLINE" in result.stderr


def test_max_length_beyond_the_checkpoint_positions_is_a_config_error(
    tiny_checkpoint: Path, texts: Path
) -> None:
    with pytest.raises(ConfigError, match="exceeds the 128 positions"):
        train(config(texts, tiny_checkpoint, max_length=200), quiet=True)


# ---------------------------------------------------------------- tokenizing


def test_texts_are_tokenized_by_the_checkpoint_tokenizer(
    tiny_checkpoint: Path, texts: Path
) -> None:
    from tailorml.features import FeatureSet

    cfg = as_config(config(texts, tiny_checkpoint, max_length=8))
    texts_ = ["Driverless cars are great!", "", None]
    rows = pd.DataFrame({"text": texts_, "sentiment": ["a", "b", "a"]})
    features = FeatureSet.fit(cfg, rows)
    ids = features.encode(rows, with_target=False).inputs["text"]
    assert ids.shape == (3, 8)
    pre = features.inputs[0]
    first = pre.tokens(ids)[0]  # type: ignore[attr-defined]
    assert first[0] == "[CLS]" and first[-1] == "[SEP]" and len(first) == 8  # truncated
    assert "driver" in first  # lower-cased word pieces
    assert pre.tokens(ids)[1] == ["[CLS]", "[SEP]"]  # type: ignore[attr-defined]
    assert (ids[1, 2:] == 0).all()  # padded with the checkpoint's [PAD] id
    typed = features.encode(pd.DataFrame({"text": ["a [PAD] b"]}), with_target=False)
    assert (typed.inputs["text"][0, :6] != 0).all()  # a typed "[PAD]" is text, not padding
    saved = FeatureSet.from_dict(features.to_dict())  # the tokenizer travels in JSON
    assert torch.equal(saved.encode(rows, with_target=False).inputs["text"], ids)


# ---------------------------------------------------------------- frozen


def test_frozen_embeddings_are_cached_and_keyed_by_tokenizer_settings(
    tiny_checkpoint: Path, texts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAILORML_CACHE", str(tmp_path / "cache"))
    cfg = config(texts, tiny_checkpoint, mode="frozen", training={"epochs": 3})
    first = train(cfg, quiet=True)
    files = sorted((tmp_path / "cache" / "embeddings").glob("*.safetensors"))
    assert len(files) == 3  # train, validation and test splits

    def no_network(*args: Any) -> torch.Tensor:
        raise AssertionError("a cached embedding was computed again")

    monkeypatch.setattr(frozen, "embed", no_network)
    second = train(cfg, quiet=True)
    assert second.metrics.test == first.metrics.test
    assert sorted((tmp_path / "cache" / "embeddings").glob("*.safetensors")) == files

    changed = config(texts, tiny_checkpoint, mode="frozen", max_length=16)
    with pytest.raises(AssertionError, match="computed again"):
        train(changed, quiet=True)  # another tokenizer setting: a cache miss


def test_a_frozen_network_keeps_its_checkpoint_weights(tiny_checkpoint: Path, texts: Path) -> None:
    run = train(config(texts, tiny_checkpoint, mode="frozen", training={"epochs": 1}), quiet=True)
    model = run.bundle.model
    assert isinstance(model, TailorModel)
    fresh = TailorModel(run.config, run.bundle.features.metas(), 3)
    for name, value in fresh.encoder("text").state_dict().items():
        assert torch.equal(model.encoder("text").state_dict()[name], value), name


# ---------------------------------------------------------------- fine-tuning


def test_layer_wise_learning_rates_and_trainable_layers(tiny_checkpoint: Path, texts: Path) -> None:
    from tailorml.features import FeatureSet

    cfg = as_config(
        config(texts, tiny_checkpoint, mode="finetune", learning_rate=1e-4, layer_lr_decay=0.5,
               trainable_layers=1)
    )  # fmt: skip
    rows = pd.read_parquet(texts)
    model = TailorModel(cfg, FeatureSet.fit(cfg, rows).metas(), 3)
    groups = model.parameter_groups(1e-3)
    network = model.encoder("text").network  # type: ignore[attr-defined]
    top = set(map(id, network.encoder.layer[1].parameters()))
    assert [rate for _, rate in groups] == [1e-3, 1e-4]  # decoder, then the one trainable layer
    assert {id(p) for p in groups[1][0]} == top
    assert not any(p.requires_grad for p in network.embeddings.parameters())
    assert not any(p.requires_grad for p in network.encoder.layer[0].parameters())

    everything = as_config(config(texts, tiny_checkpoint, mode="finetune", learning_rate=1e-4,
                                  layer_lr_decay=0.5))  # fmt: skip
    model = TailorModel(everything, FeatureSet.fit(everything, rows).metas(), 3)
    assert [rate for _, rate in model.parameter_groups(1e-3)] == [1e-3, 1e-4, 5e-5, 2.5e-5]


def test_finetuning_is_deterministic_and_moves_the_network(
    tiny_checkpoint: Path, texts: Path, tmp_path: Path
) -> None:
    cfg = config(texts, tiny_checkpoint, mode="finetune", learning_rate=1e-3,
                 training={"warmup_steps": 3, "epochs": 2})  # fmt: skip
    first = train(cfg, tmp_path / "run", quiet=True)
    second = train(cfg, quiet=True)
    assert first.metrics.test == second.metrics.test
    losses = [(h["train_loss"], h["val_loss"]) for h in first.history]
    assert losses == [(h["train_loss"], h["val_loss"]) for h in second.history]
    model = first.bundle.model
    assert isinstance(model, TailorModel)
    fresh = TailorModel(first.config, first.bundle.features.metas(), 3)
    moved = [
        name
        for name, value in fresh.encoder("text").state_dict().items()
        if not torch.equal(model.encoder("text").state_dict()[name], value)
    ]
    assert any("layer.0" in name for name in moved) and any("embeddings" in name for name in moved)


def test_a_saved_run_predicts_without_its_checkpoint(
    tiny_checkpoint: Path, texts: Path, tmp_path: Path
) -> None:
    """The bundle carries weights, architecture and tokenizer."""
    copy = tmp_path / "checkpoint"
    shutil.copytree(tiny_checkpoint, copy)
    run = train(config(texts, copy, mode="finetune", training={"epochs": 1}), tmp_path / "run",
                quiet=True)  # fmt: skip
    expected = run.predict(texts)
    shutil.rmtree(copy)
    assert load(tmp_path / "run").predict(texts).equals(expected)


def test_warmup_steps_raise_the_rate_linearly(tiny_checkpoint: Path, texts: Path) -> None:
    from tailorml.features import FeatureSet
    from tailorml.train import Trainer

    training = {"warmup_steps": 100, "epochs": 1, "learning_rate": 0.01}
    cfg = as_config(config(texts, tiny_checkpoint, mode="finetune", training=training))
    rows = pd.read_parquet(texts).iloc[:48]
    features = FeatureSet.fit(cfg, rows)
    model = TailorModel(cfg, features.metas(), features.target.n_outputs)
    trainer = Trainer(model, "category", cfg.training, quiet=True)
    trainer.fit(features.encode(rows), None)
    rates = [group["lr"] for group in trainer.optimizer.param_groups]
    assert rates[0] == pytest.approx(0.01 * 3 / 101)  # 3 steps of 16 rows into 100
    assert rates[1] == pytest.approx(5e-5 * 3 / 101)  # the encoder's own rate, scaled alike


# ---------------------------------------------------------------- batching


def test_bucketed_batches_cover_every_row_once_with_similar_lengths() -> None:
    lengths = torch.randint(1, 100, (1000,), generator=torch.Generator().manual_seed(0))
    order = torch.randperm(1000, generator=torch.Generator().manual_seed(1))
    batches = bucketed(order, lengths, 16, torch.Generator().manual_seed(2))
    assert sorted(torch.cat(batches).tolist()) == list(range(1000))
    spread = sum(int(lengths[b].max() - lengths[b].min()) for b in batches) / len(batches)
    assert spread < 10  # random batches of 16 spread over ~85 of the 99 lengths
    again = bucketed(order, lengths, 16, torch.Generator().manual_seed(2))
    assert all(torch.equal(a, b) for a, b in zip(batches, again, strict=True))


def test_length_sorted_inference_returns_rows_in_their_own_order(
    tiny_checkpoint: Path, texts: Path
) -> None:
    from tailorml.features import FeatureSet

    cfg = as_config(config(texts, tiny_checkpoint, mode="finetune"))
    rows = pd.read_parquet(texts).iloc[:40]
    features = FeatureSet.fit(cfg, rows)
    model = TailorModel(cfg, features.metas(), 3).eval()
    ids = features.encode(rows, with_target=False).inputs["text"]
    batched = predict_outputs(model, {"text": ids}, batch_size=7)
    with torch.no_grad():
        alone = torch.cat([model({"text": ids[i : i + 1]}) for i in range(len(ids))])
    torch.testing.assert_close(batched, alone, rtol=1e-5, atol=1e-5)


def test_word_vocabulary_options_are_refused_for_a_checkpoint_tokenizer(
    tiny_checkpoint: Path, texts: Path, tmp_path: Path, cli: Any
) -> None:
    raw = config(texts, tiny_checkpoint)
    raw["input_features"][0]["preprocessing"]["tokenizer"] = "char"
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = cli("train", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "preprocessing.tokenizer does not apply" in result.stderr
