"""Differentially private training (DP-SGD with Opacus): the DP seed example, a table
model, determinism, resume, and the Opacus corner cases (every registered encoder
trains privately or is refused by name: the conformance kit's, in test_conformance)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from safetensors.torch import load_file
from torch import nn

import tailorml
from tailorml.config import ModelConfig, parse_config
from tailorml.data import load_builtin
from tailorml.errors import ConfigError
from tailorml.features import Encoded
from tailorml.features.meta import FeatureMeta
from tailorml.models import TailorModel
from tailorml.models.model import module_key
from tailorml.models.registry import ENCODERS, build_encoder
from tailorml.train import Trainer, privacy

ROOT = Path(__file__).resolve().parents[1]
DP_CONFIG = ROOT / "examples" / "seed_cnn_mnist_dp.yaml"
TIMINGS = {"seconds", "wall_seconds", "samples_per_s"}
CREDIT_FEATURES = {
    "status": "category",
    "duration": "number",
    "credit_history": "category",
    "purpose": "category",
    "credit_amount": "number",
    "savings": "category",
    "age": "number",
    "housing": "category",
}


def without_timings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in TIMINGS}
    return value


def credit_config(epochs: int = 20) -> dict[str, Any]:
    """German credit, a few columns, DP at ε = 4: a few seconds on two cores."""
    return {
        "data": {"source": "builtin:german_credit", "target": "credit_risk"},
        "input_features": [{"name": n, "type": t} for n, t in CREDIT_FEATURES.items()],
        "decoder": {"hidden": [32], "dropout": 0.1},
        "output_features": [{"name": "credit_risk", "type": "binary", "positive": "good"}],
        "training": {
            "epochs": epochs,
            "batch_size": 64,
            "learning_rate": 0.02,
            "seed": 0,
            "privacy": {"epsilon": 4},
        },
    }


# ---------------------------------------------------------------- the DP seed example


@pytest.fixture(scope="module")
def dp_run(tmp_path_factory: pytest.TempPathFactory) -> tailorml.Run:
    return tailorml.train(DP_CONFIG, tmp_path_factory.mktemp("dp") / "run", quiet=True)


def test_dp_seed_example_reaches_085_within_its_budget(dp_run: tailorml.Run) -> None:
    spent = dp_run.metrics.privacy
    assert dp_run.metrics.test["accuracy"] >= 0.85
    assert 0 < spent.epsilon <= 8 + 1e-6
    assert spent.delta == 1e-5
    assert spent.max_grad_norm == 0.25
    assert spent.noise_multiplier > 0
    epsilons = [row["epsilon"] for row in dp_run.history]
    assert epsilons == sorted(epsilons) and epsilons[-1] == spent.epsilon


def test_dp_bundle_is_a_plain_model_that_reloads(dp_run: tailorml.Run) -> None:
    assert dp_run.path is not None
    saved = load_file(str(dp_run.path / "model" / "model.safetensors"))
    assert set(saved) == set(dp_run.bundle.model.state_dict())  # no Opacus '_module.' names
    rows = load_builtin("mnist").frames["test"].head(50)
    reloaded = tailorml.load(dp_run.path)
    assert reloaded.predict(rows).equals(dp_run.predict(rows))


def test_dp_example_keeps_the_seed_architecture() -> None:
    seed = yaml.safe_load((ROOT / "examples" / "seed_cnn_mnist.yaml").read_text())
    dp = yaml.safe_load(DP_CONFIG.read_text())
    for key in ("data", "input_features", "decoder", "output_features", "init"):
        assert dp[key] == seed[key], key
    assert dp["training"]["privacy"]["epsilon"] == 8


# ---------------------------------------------------------------- tables, determinism, resume


def test_table_model_trains_privately_and_repeats_exactly(tmp_path: Path) -> None:
    first = tailorml.train(credit_config(), tmp_path / "a", quiet=True)
    second = tailorml.train(credit_config(), tmp_path / "b", quiet=True)
    assert 0 < first.metrics.privacy.epsilon <= 4 + 1e-6
    assert first.metrics.test["roc_auc"] > 0.7
    assert without_timings(first.metrics.dump()) == without_timings(second.metrics.dump())
    rows = load_builtin("german_credit").frames["all"].head(20)
    assert tailorml.load(tmp_path / "a").predict(rows).equals(first.predict(rows))


def test_interrupted_private_run_resumes_to_the_same_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = credit_config(epochs=4)
    straight = tailorml.train(config, tmp_path / "straight", quiet=True).metrics.dump()
    checkpoint = Trainer._checkpoint

    def stop_after_two_epochs(self: Trainer) -> None:
        checkpoint(self)
        if self.state.epoch == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "_checkpoint", stop_after_two_epochs)
    with pytest.raises(KeyboardInterrupt):
        tailorml.train(config, tmp_path / "killed", quiet=True)
    monkeypatch.setattr(Trainer, "_checkpoint", checkpoint)
    resumed = tailorml.train(config, tmp_path / "killed", resume=True, quiet=True).metrics.dump()
    assert without_timings(resumed) == without_timings(straight)


def test_non_private_training_never_loads_opacus(tmp_path: Path) -> None:
    config = credit_config(epochs=1)
    del config["training"]["privacy"]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    program = (
        "import sys, tailorml\n"
        f"tailorml.train({str(path)!r}, None, quiet=True)\n"
        "assert 'opacus' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- config errors


@pytest.mark.parametrize("epsilon", ["0", "-1"])
def test_non_positive_epsilon_is_a_config_error(epsilon: str) -> None:
    text = DP_CONFIG.read_text().replace("epsilon: 8 ", f"epsilon: {epsilon} ")
    assert f"epsilon: {epsilon}" in text
    with pytest.raises(ConfigError, match="epsilon"):
        parse_config(text)


@pytest.mark.parametrize(
    ("option", "message"),
    [({"gradient_clipping": 1.0}, "gradient_clipping"), ({"precision": "bf16"}, "precision")],
)
def test_options_dp_sgd_cannot_honour_are_refused(option: dict[str, Any], message: str) -> None:
    model, _, cfg = tiny("number", {"name": "embed_mlp", "hidden": [4]}, **option)
    with pytest.raises(ConfigError, match=message):
        Trainer(model, "category", cfg.training, quiet=True)


# ---------------------------------------------------------------- every registered encoder

METAS = {
    "number": FeatureMeta("x", "number", (1,), "float32"),
    "binary": FeatureMeta("x", "binary", (1,), "float32"),
    "category": FeatureMeta("x", "category", (), "int64", vocab_size=7),
    "text": FeatureMeta("x", "text", (8,), "int64", vocab_size=30),
    "image": FeatureMeta("x", "image", (1, 12, 12), "float32"),
}
ROWS = 48


def inputs_for(meta: FeatureMeta, rows: int = ROWS) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    if meta.type in ("number", "image"):
        return torch.rand(rows, *meta.shape, generator=g)
    if meta.type == "binary":
        return torch.randint(0, 2, (rows, 1), generator=g).float()
    assert meta.vocab_size is not None
    ids = torch.randint(1, meta.vocab_size, (rows, *meta.shape), generator=g)
    if meta.type == "text":  # unsorted lengths 1..8, right-padded
        lengths = torch.randint(1, meta.shape[0] + 1, (rows, 1), generator=g)
        ids = ids.masked_fill(torch.arange(meta.shape[0]) >= lengths, 0)
    return ids


def tiny(
    kind: str, encoder: dict[str, Any], **training: Any
) -> tuple[TailorModel, Encoded, ModelConfig]:
    """A one-feature model on random rows, with DP at ε = 8 for one epoch."""
    cfg = ModelConfig.model_validate(
        {
            "data": {"source": "unused", "target": "y"},
            "input_features": [{"name": "x", "type": kind, "encoder": encoder}],
            "decoder": {"hidden": [8]},
            "output_features": [{"name": "y", "type": "category"}],
            "training": {"epochs": 1, "batch_size": 16, "privacy": {"epsilon": 8}, **training},
        }
    )
    torch.manual_seed(0)
    model = TailorModel(cfg, {"x": METAS[kind]}, 3)
    target = torch.randint(0, 3, (ROWS,), generator=torch.Generator().manual_seed(1))
    return model, Encoded({"x": inputs_for(METAS[kind])}, target), cfg


def test_batch_norm_is_refused_naming_the_encoder() -> None:
    layer = {"filters": 4, "kernel_size": 3, "batch_norm": True}
    model, _, cfg = tiny("image", {"name": "cnn", "conv_layers": [layer]})
    with pytest.raises(ConfigError, match="'cnn' encoder of input feature 'x' uses BatchNorm2d"):
        Trainer(model, "category", cfg.training, quiet=True)


def test_tailor_train_swaps_batch_norm_for_group_norm_and_says_so(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (tmp_path / "images" / label).mkdir(parents=True)
        for i in range(20):
            pixels = rng.integers(0, 255, size=(12, 12), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "images" / label / f"{i}.png")
    layer = {"filters": 4, "kernel_size": 3, "batch_norm": True}
    encoder = {"name": "cnn", "conv_layers": [layer]}
    run = tailorml.train(
        {
            "data": {
                "source": str(tmp_path / "images"),
                "target": "label",
                "split": {"method": "random", "validation_fraction": 0.0},
            },
            "input_features": [{"name": "image", "type": "image", "encoder": encoder}],
            "output_features": [{"name": "label", "type": "category"}],
            "training": {"epochs": 1, "batch_size": 16, "privacy": {"epsilon": 8}},
        },
        tmp_path / "run",
        quiet=True,
    )
    saved = run.config.input_features[0].encoder.conv_layers[0]  # type: ignore[union-attr]
    assert saved.group_norm and not saved.batch_norm
    assert "BatchNorm → GroupNorm(4 groups)" in run.metrics.privacy.changes[0]
    reloaded = tailorml.load(tmp_path / "run")
    assert any(isinstance(m, nn.GroupNorm) for m in reloaded.bundle.model.modules())  # type: ignore[union-attr]
    assert not any(isinstance(m, nn.BatchNorm2d) for m in reloaded.bundle.model.modules())  # type: ignore[union-attr]


def test_transformer_trains_privately_with_per_example_positions() -> None:
    model, data, cfg = tiny("text", {"name": "transformer", "pooling": "mean", "dropout": 0.0})
    trainer = Trainer(model, "category", cfg.training, quiet=True)
    trainer.fit(data, None)
    assert trainer.privacy is not None and 0 < trainer.privacy["epsilon"] <= 8 + 1e-6


def test_a_batch_wide_position_table_is_refused() -> None:
    model, data, cfg = tiny("text", {"name": "transformer", "pooling": "mean"})
    encoder = model.encoders[module_key("x")]
    shared = encoder.positions
    encoder.positions = SharedRows(shared)  # the old layout: one (T,) table for the batch
    trainer = Trainer(model, "category", cfg.training, quiet=True)
    with pytest.raises(ConfigError, match="'transformer' encoder .* wrong per-sample gradients"):
        trainer.fit(data, None)


class SharedRows(nn.Module):
    """Looks up only the first row of positions and broadcasts it over the batch."""

    def __init__(self, table: nn.Embedding):
        super().__init__()
        self.table = table

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        return self.table(positions[0])


def test_lstm_trains_privately_and_saves_as_a_plain_lstm() -> None:
    model, data, cfg = tiny("text", {"name": "rnn", "bidirectional": True})
    trainer = Trainer(model, "category", cfg.training, quiet=True)
    trainer.fit(data, None)
    assert type(trainer.net.get_submodule("encoders.x.rnn")).__name__ == "DPLSTM"
    assert type(model.get_submodule("encoders.x.rnn")) is torch.nn.LSTM
    assert set(trainer.net.state_dict()) == set(model.state_dict())


# ---------------------------------------------------------------- Opacus corner cases


@pytest.mark.parametrize(
    "options",
    [{"cell": "lstm", "bidirectional": True}, {"cell": "gru", "num_layers": 2}],
    ids=["lstm", "gru"],
)
def test_rnn_per_sample_gradients_follow_the_batch_order(options: dict[str, Any]) -> None:
    torch.manual_seed(0)
    meta = METAS["text"]
    options = ENCODERS["rnn"].options.model_validate({"name": "rnn", **options})
    encoder = privacy.compatible_copy(build_encoder(meta, options))
    x = inputs_for(meta, rows=6)
    weights = torch.randn(6, encoder.output_size)  # type: ignore[arg-type]
    expected = privacy.row_by_row(encoder, x, weights)
    assert torch.allclose(privacy.per_sample(encoder, x, weights), expected, atol=1e-6)


@pytest.mark.parametrize("kind", ["number", "text"], ids=["ghost-clipping", "hooks"])
def test_an_empty_poisson_batch_takes_a_noise_step(kind: str) -> None:
    encoder = {"name": "embed_mlp", "hidden": [4]} if kind == "number" else {"name": "rnn"}
    model, data, cfg = tiny(kind, encoder)
    trainer = Trainer(model, "category", cfg.training, quiet=True)
    private = trainer._make_private(data)
    before = [p.detach().clone() for p in trainer.net.parameters()]
    assert data.target is not None
    private.step({"x": data.inputs["x"][:0]}, data.target[:0])
    after = list(trainer.net.parameters())
    assert all(not torch.equal(b, a) for b, a in zip(before, after, strict=True))
    assert private.engine.accountant.history[0][2] == 1
