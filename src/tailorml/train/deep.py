"""The deep family: a ``TailorModel`` network, fitted by the training loop.

Its candidates for a match (see ``match/portfolio.py`` for the whole rule):

- tables: MLPs over embeddings (``embed_mlp``) when the budget is at least
  60 s; a large MLP only below 200k rows or with at least 600 s; under a
  binary task's fairness limit, from 60 s, the small MLP trained with
  Kamiran–Calders reweighing by the limited attribute;
- text: an LSTM (``rnn``) from 60 s and a from-scratch Transformer from 180 s;
  and a pretrained BERT-style encoder, frozen (``minilm_frozen``: its
  mean-pooled embeddings feed an MLP) and fine-tuned (``minilm_finetune``: its
  last two layers, layer-wise learning-rate decay, warm-up), both in bf16,
  each when its estimated training time fits in half the budget (the other
  half is kept for the other candidates and the final rung); see
  ``pretrained_seconds``. The checkpoint is the task's (all-MiniLM-L6-v2
  unless the machine names another); the candidates keep their names;
- images: CNNs (small from any budget, the seed layout from 60 s);
- ``max_epsilon``: every candidate above trains with DP-SGD (``_dp``), except
  the pretrained ones.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError

from tailorml.config import ModelConfig
from tailorml.errors import ConfigError
from tailorml.evaluate import measure
from tailorml.features import Encoded, FeatureSet
from tailorml.features.checkpoint import architecture_size, checkpoint_folder, read_architecture
from tailorml.io import load_tensors, save_tensors, shape_mismatch
from tailorml.models.family import (
    Candidate,
    Capabilities,
    Inputs,
    ModelFamily,
    Params,
    Proposal,
    Task,
    WeightsError,
    register_family,
    with_preprocessing,
)
from tailorml.models.model import TailorModel
from tailorml.models.registry import ENCODERS
from tailorml.train.frozen import embed_frozen_costed
from tailorml.train.loop import Trainer, predict_outputs

WEIGHTS = "model.safetensors"
# all-MiniLM-L6-v2 on builtin:sentiment's short texts (~20 tokens), 2-core CPU,
# bf16: ~700 texts/s embedded and ~220 rows/s fine-tuned (last 2 layers) on an
# idle machine. The rates below leave room for the validation passes and for a
# busy machine (two jobs at once halve them, or worse). A larger checkpoint is
# slower by ``checkpoint_scale``.
EMBED_ROWS_PER_S = 500.0  # frozen: texts embedded per second
FINETUNE_ROWS_PER_S = 100.0  # fine-tuning: rows × epochs per second
HEAD_SECONDS = 2.0  # frozen: training the MLP on the embeddings
MINILM_WORK = 6 * 384**2  # its layers × width², the unit of a checkpoint's cost
PRETRAINED_SHARE = 0.5  # of the budget that one pretrained candidate may need
FINETUNE_EPOCHS = 2
FINETUNE_BATCH = 32


def deep_config(base: ModelConfig, params: Params, seed: int) -> ModelConfig:
    """The base config with the candidate's encoder, decoder and training.

    Each feature the encoder reads keeps only the preprocessing options it
    takes (a pretrained checkpoint's tokenizer: ``max_length`` and
    ``truncation``; the word-vocabulary ones are for the other candidates).
    """
    raw = with_preprocessing(base, params).model_dump(mode="json")
    encoder = params.get("encoder", {})
    entry = ENCODERS[encoder["name"]] if encoder else None
    for feature in raw["input_features"]:
        if entry is not None and feature["type"] in entry.types:
            feature["encoder"] = encoder
            kept = entry.cls.preprocessing_options
            if kept is not None:
                feature["preprocessing"] = {k: feature["preprocessing"][k] for k in kept}
    raw["decoder"] = {**raw["decoder"], **params.get("decoder", {})}
    raw["training"] = {**raw["training"], **params.get("training", {}), "seed": seed}
    return ModelConfig.model_validate(raw)


@register_family("deep")
class DeepFamily(ModelFamily[TailorModel]):
    """Registered encoders → combiner → decoder, trained by ``Trainer``."""

    capabilities = Capabilities(
        onnx=True, private=True, attribution="integrated_gradients", gpu=True
    )

    def config_for(self, base: ModelConfig, params: Params, seed: int) -> ModelConfig:
        return deep_config(base, params, seed)

    def build(
        self, config: ModelConfig, features: FeatureSet, params: Params, pretrained: bool = True
    ) -> TailorModel:
        return TailorModel(config, features.metas(), features.target.n_outputs, pretrained)

    def precompute(
        self, model: TailorModel, inputs: Inputs, config: ModelConfig
    ) -> tuple[Inputs, float]:
        """A frozen encoder's embeddings of every row, once (cached on disk)."""
        return embed_frozen_costed(model, inputs, config.training.precision)

    def fit(
        self, model: TailorModel, train: Encoded, validation: Encoded | None,
        config: ModelConfig, sensitive: np.ndarray | None = None,
    ) -> Params:  # fmt: skip
        """Train; the params record the privacy spent, under DP-SGD."""
        trainer = Trainer(model, config.output.type, config.training, quiet=True)
        trainer.fit(train, validation)
        model.eval()
        if trainer.privacy is None:
            return {}
        return {"privacy": trainer.privacy.model_dump(mode="json", exclude_unset=True)}

    def outputs(
        self, model: TailorModel, inputs: Inputs, config: ModelConfig, cache: bool = False,
        length_batch: int | None = None,
    ) -> torch.Tensor:  # fmt: skip
        size, precision = config.training.eval_batch_size, config.training.precision
        if cache:
            inputs, _ = embed_frozen_costed(model, inputs, precision)
        return predict_outputs(model, inputs, size, precision, length_batch)

    def save(self, model: TailorModel, folder: Path) -> None:
        save_tensors(folder / WEIGHTS, model.state_dict())

    def load(self, model: TailorModel, folder: Path) -> None:
        try:
            weights = load_tensors(folder / WEIGHTS)
        except SafetensorError as err:
            raise WeightsError(WEIGHTS, f"is not a readable safetensors file ({err})") from None
        if mismatch := shape_mismatch(model.state_dict(), weights):
            raise WeightsError("model.json", f"no longer matches the weights in {WEIGHTS}: "
                               f"{mismatch}")  # fmt: skip
        model.load_state_dict(weights)
        model.eval()

    def size(self, model: TailorModel) -> int:
        return measure.torch_parameters(model)

    def flops_per_row(self, model: TailorModel, example: Inputs) -> int | None:
        return measure.torch_flops_per_row(model, example)

    def candidates(self, task: Task) -> Proposal:
        chooser = {"table": table, "text": text, "image": image, "audio": audio}[task.modality]
        out, reasons = chooser(task)
        if task.max_epsilon is not None:
            out = [private(c, task.max_epsilon) for c in out]
        return out, reasons


def deep(encoder: dict[str, Any], hidden: list[int], epochs: int, lr: float = 1e-3,
         dropout: float = 0.0) -> Params:  # fmt: skip
    """Params of a deep candidate: the encoder for its main input type."""
    return {
        "encoder": encoder,
        "decoder": {"hidden": hidden, "dropout": dropout},
        "training": {
            "epochs": epochs,
            "learning_rate": lr,
            "batch_size": 128,
            "early_stopping_patience": 2,
        },  # fmt: skip
    }


def mlp(hidden: list[int], epochs: int, dropout: float = 0.0) -> Params:
    params = deep({"name": "embed_mlp"}, hidden, epochs, lr=1e-3, dropout=dropout)
    params["training"]["batch_size"] = 256
    return params


def private(candidate: Candidate, epsilon: float) -> Candidate:
    """The candidate trained with DP-SGD at ``epsilon``: DP-SGD wants larger
    batches, a higher learning rate and more epochs than plain training."""
    params = candidate.params
    privacy = {"epsilon": epsilon, "delta": 1e-5, "max_grad_norm": 1.0}
    training = {
        **params["training"], "batch_size": 256, "learning_rate": 2e-3,
        "epochs": max(8, params["training"]["epochs"]), "early_stopping_patience": None,
        "privacy": privacy,
    }  # fmt: skip
    return Candidate(f"{candidate.name}_dp", "deep", {**params, "training": training})


def table(task: Task) -> Proposal:
    if task.budget_s < 60:
        return [], ["Budget < 60 s: no neural networks (they would not finish)."]
    out = [Candidate("mlp_small", "deep", mlp([64], epochs=8))]
    if task.rows < 200_000 or task.budget_s >= 600:
        out.append(Candidate("mlp_large", "deep", mlp([256, 128], epochs=8, dropout=0.1)))
    reasons = ["Budget ≥ 60 s: MLPs over embeddings enter."]
    if task.fairness is not None:
        params = mlp([64], epochs=8)
        fairness = {"method": "reweigh", "sensitive": [task.fairness.attribute]}
        params["training"]["fairness"] = fairness
        out.append(Candidate("mlp_reweighed", "deep", params))
        reasons.append(f"Fairness limit on '{task.fairness.attribute}': mlp_reweighed "
                       "(Kamiran–Calders reweighing by it) enters.")  # fmt: skip
    return out, reasons


def text(task: Task) -> Proposal:
    out, reasons = [], []
    if task.budget_s >= 60:
        encoder = {"name": "rnn", "cell": "lstm", "embedding_size": 64, "hidden_size": 64,
                   "bidirectional": True, "pooling": "max"}  # fmt: skip
        out.append(Candidate("rnn_bilstm", "deep", deep(encoder, [64], epochs=3, lr=0.002)))
        reasons.append("Budget ≥ 60 s: a bidirectional LSTM enters.")
    if task.budget_s >= 180:
        encoder = {"name": "transformer", "embedding_size": 64, "num_heads": 4, "num_layers": 2}
        out.append(Candidate("transformer_small", "deep", deep(encoder, [64], epochs=3)))
        reasons.append("Budget ≥ 180 s: a small from-scratch Transformer enters.")
    if task.max_epsilon is not None:
        return out, [*reasons, "max_epsilon: the pretrained candidates (minilm_frozen, "
                     "minilm_finetune) have no DP-SGD variant here and are left out."]  # fmt: skip
    more, notes = pretrained(task.rows, task.budget_s, task.checkpoint)
    return [*out, *more], [*reasons, *notes]


def image(task: Task) -> Proposal:
    small = {"name": "cnn", "conv_layers": [{"filters": 8, "kernel_size": 3, "pool_size": 2}]}
    out = [Candidate("cnn_small", "deep", deep(small, [32], epochs=5))]
    reasons = ["Images: a small CNN always enters."]
    if task.budget_s >= 60:
        seed = {"name": "cnn", "conv_layers": [{"filters": 32, "kernel_size": 3, "pool_size": 2}]}
        out.append(Candidate("cnn_seed", "deep", deep(seed, [128], epochs=5)))
        reasons.append("Budget ≥ 60 s: the seed CNN layout (32 filters, dense 128) enters.")
    return out, reasons


def audio(task: Task) -> Proposal:
    """Spectrogram networks: the frame convolution always, a bidirectional GRU and
    a 2-D CNN as the budget allows; each with SpecAugment in training."""
    augment: Params = {"preprocessing": {"audio": {"spec_augment": {}}}}
    frames = deep({"name": "frames"}, [64], epochs=20, lr=0.002, dropout=0.2)
    out = [Candidate("frames_conv", "deep", {**frames, **augment})]
    reasons = ["Audio: a 1-D convolution over spectrogram frames (mel bands as channels) "
               "always enters."]  # fmt: skip
    if task.budget_s >= 60:
        gru = {"name": "rnn", "cell": "gru", "embedding_size": 64, "hidden_size": 64,
               "bidirectional": True, "pooling": "mean"}  # fmt: skip
        out.append(Candidate("rnn_bigru", "deep", {**deep(gru, [64], 12, 0.002), **augment}))
        reasons.append("Budget ≥ 60 s: a bidirectional GRU over the frames enters.")
    if task.budget_s >= 180:
        layer = {"kernel_size": 3, "padding": "same", "batch_norm": True, "pool_size": 2}
        cnn = {"name": "cnn", "output": "global_avg",
               "conv_layers": [{"filters": f, **layer} for f in (16, 32, 64)]}  # fmt: skip
        out.append(Candidate("cnn_spectrogram", "deep", {**deep(cnn, [64], 10, 0.002), **augment}))
        reasons.append("Budget ≥ 180 s: a 2-D CNN over the spectrogram as an image enters.")
    for candidate in out:
        candidate.params["training"] |= {"lr_schedule": "cosine", "early_stopping_patience": None}
    return out, reasons


def pretrained(rows: int, budget: float, checkpoint: str) -> Proposal:
    """The frozen and the fine-tuned pretrained candidates that fit the budget,
    and why each enters or is left out."""
    try:
        scale = checkpoint_scale(checkpoint)
    except ConfigError as err:
        return [], [f"No pretrained candidates: {err}"]
    out, reasons = [], []
    for candidate in (minilm_frozen(checkpoint), minilm_finetune(checkpoint, rows)):
        seconds, how = pretrained_seconds(candidate, rows, scale)
        fits = seconds <= PRETRAINED_SHARE * budget
        out += [candidate] if fits else []
        verdict, relation = ("enters", "within") if fits else ("left out", "more than")
        reasons.append(f"{candidate.name} ({checkpoint}) {verdict}: {how} ≈ {seconds:,.0f} s, "
                       f"{relation} half the {budget:g} s budget.")  # fmt: skip
    return out, reasons


def checkpoint_scale(checkpoint: str) -> float:
    """A checkpoint's cost per text relative to all-MiniLM-L6-v2's (layers ×
    width²); smaller ones count as MiniLM, so their estimate is an upper bound.

    Raises:
        ConfigError: the checkpoint cannot be found (see ``checkpoint_folder``).
    """
    architecture = read_architecture(checkpoint_folder(checkpoint))
    layers = architecture_size(architecture, "num_hidden_layers", 6)
    width = architecture_size(architecture, "hidden_size", 384)
    return max(1.0, layers * width**2 / MINILM_WORK)


def pretrained_seconds(candidate: Candidate, rows: int, scale: float) -> tuple[float, str]:
    """Estimated training seconds on all ``rows``, and the sum in words."""
    if candidate.params["encoder"]["mode"] == "frozen":
        rate = EMBED_ROWS_PER_S / scale
        seconds = rows / rate + HEAD_SECONDS
        return seconds, f"one embedding pass over {rows:,} rows at ~{rate:,.3g}/s + the MLP"
    rate = FINETUNE_ROWS_PER_S / scale
    epochs = candidate.params["training"]["epochs"]
    return rows * epochs / rate, f"fine-tuning {rows:,} rows × {epochs} epochs at ~{rate:,.3g}/s"


def minilm_frozen(checkpoint: str) -> Candidate:
    """The checkpoint frozen: mean-pooled embeddings (computed once) feed an
    MLP; bf16, which embeds and predicts about 3× faster than fp32 on the CPU."""
    encoder = {"name": "pretrained", "checkpoint": checkpoint, "mode": "frozen",
               "pooling": "mean"}  # fmt: skip
    params = deep(encoder, [256], epochs=20, dropout=0.1)
    params["training"] |= {"optimizer": "adamw", "weight_decay": 0.01,
                           "early_stopping_patience": 3, "precision": "bf16"}  # fmt: skip
    return Candidate("minilm_frozen", "deep", params)


def minilm_finetune(checkpoint: str, rows: int) -> Candidate:
    """The checkpoint's last two layers fine-tuned: the top one at 1e-4, the one
    below at 0.85× that; linear warm-up over a tenth of the steps; bf16."""
    encoder = {"name": "pretrained", "checkpoint": checkpoint, "mode": "finetune",
               "pooling": "mean", "trainable_layers": 2, "learning_rate": 1e-4,
               "layer_lr_decay": 0.85}  # fmt: skip
    params = deep(encoder, [128], epochs=FINETUNE_EPOCHS, dropout=0.1)
    steps = math.ceil(rows / FINETUNE_BATCH) * FINETUNE_EPOCHS
    params["training"] |= {
        "optimizer": "adamw", "weight_decay": 0.01, "batch_size": FINETUNE_BATCH,
        "eval_batch_size": 64, "warmup_steps": max(1, steps // 10), "gradient_clipping": 1.0,
        "precision": "bf16", "early_stopping_patience": 1,
    }  # fmt: skip
    return Candidate("minilm_finetune", "deep", params)
