"""Which candidates enter the search, and why (the portfolio rule).

The rule looks at the modality of the inputs (table, text, image), the
number of training rows and the time budget:

- every task gets the classical baselines: a linear model (logistic or ridge
  regression; TF-IDF features for text, pixels for images) and, for tables,
  gradient-boosted trees (LightGBM) in four settings;
- tables get MLPs over embeddings (``embed_mlp``) when the budget is at least
  60 s; a large MLP only below 200k rows or with at least 600 s;
- text gets an LSTM (``rnn``) from 60 s and a from-scratch Transformer from
  180 s of budget; no trees (bag-of-words trees are slow and rarely win);
- text also gets a pretrained BERT-style encoder, all-MiniLM-L6-v2 by
  default, frozen (``minilm_frozen``: its mean-pooled embeddings feed an MLP)
  and fine-tuned (``minilm_finetune``: its last two layers, layer-wise
  learning-rate decay, warm-up), both in bf16, each when its estimated
  training time fits in half the budget (the other half is kept for the
  other candidates and the final rung); see ``pretrained_seconds``.
  Another checkpoint (a local folder or a Hugging Face Hub id, e.g. a model
  of the texts' language) takes MiniLM's place when the environment variable
  ``TAILORML_MATCH_CHECKPOINT`` names it: where a checkpoint lives is the
  machine's business, not the scenario's. The candidates keep their names
  and settings, and match.json records the checkpoint in their parameters;
- images get CNNs (small from any budget, the seed layout from 60 s); no
  trees on raw pixels;
- a binary table task with a fairness limit also gets mitigated candidates:
  fairlearn's ExponentiatedGradient around the linear model and LightGBM
  (under the limit's own constraint) and, from 60 s, the small MLP trained
  with Kamiran–Calders reweighing by the limited attribute;
- ``max_epsilon`` keeps only deep candidates, trained with DP-SGD (not the
  pretrained ones).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

from tailorml.config.scenario import FairnessConstraint
from tailorml.errors import ConfigError
from tailorml.features.checkpoint import (
    DEFAULT_CHECKPOINT,
    checkpoint_folder,
    read_architecture,
)
from tailorml.features.meta import FeatureMeta

CHECKPOINT_ENV = "TAILORML_MATCH_CHECKPOINT"
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


@dataclass(frozen=True)
class Candidate:
    """One model to try: a family and its hyperparameters.

    ``params`` holds the classical family's own settings, or for ``deep``
    the encoder options per input type, the decoder and training overrides.
    """

    name: str
    family: str  # linear | lightgbm | fair_reductions | deep
    params: dict[str, Any] = field(default_factory=dict)


def modality(metas: dict[str, FeatureMeta]) -> str:
    """image if any input is one; text when every input is; else table (a table may
    hold free-text columns beside its numbers and categories)."""
    types = {m.type for m in metas.values()}
    if "image" in types:
        return "image"
    if types == {"text"}:
        return "text"
    return "table"


def text_columns_note(metas: dict[str, FeatureMeta]) -> list[str]:
    """How a table's free-text columns are read, when it has some."""
    texts = [name for name, meta in metas.items() if meta.type == "text"]
    if not texts or modality(metas) != "table":
        return []
    names = ", ".join(texts)
    return [f"Free-text columns in the table ({names}): linear models read them as TF-IDF, "
            "networks with an LSTM; trees read the other columns only."]  # fmt: skip


def build_portfolio(
    metas: dict[str, FeatureMeta], rows: int, budget_s: float, max_epsilon: float | None = None,
    fairness: list[FairnessConstraint] | None = None, binary: bool = False,
    checkpoint: str | None = None,
) -> tuple[list[Candidate], list[str]]:  # fmt: skip
    """Candidates for this data and budget, and the reasons in words.

    ``checkpoint`` is the pretrained encoder that text candidates may use
    (default: ``match_checkpoint()``).
    """
    kind = modality(metas)
    chooser = {"table": _table, "text": _text, "image": _image}[kind]
    candidates, reasons = chooser(rows, max(budget_s, 60) if max_epsilon else budget_s)
    reasons = [*reasons, *text_columns_note(metas)]
    if kind == "text" and max_epsilon is None:
        more, notes = pretrained(rows, budget_s, checkpoint or match_checkpoint())
        candidates, reasons = [*candidates, *more], [*reasons, *notes]
    elif kind == "text":
        reasons = [*reasons, "max_epsilon: the pretrained candidates (minilm_frozen, "
                   "minilm_finetune) have no DP-SGD variant here and are left out."]  # fmt: skip
    if max_epsilon is not None:
        candidates, reasons = private_only(candidates, reasons, max_epsilon)
    elif fairness and binary and kind == "table":
        extra, why = mitigated(fairness[0], budget_s)
        candidates, reasons = cheap_first([*candidates, *extra]), [*reasons, why]
    head = f"{rows:,} training rows of {kind} data, {budget_s:g} s budget"
    names = ", ".join(c.name for c in candidates)
    return candidates, [f"{head}: {names}.", *reasons]


def private_only(
    candidates: list[Candidate], reasons: list[str], epsilon: float
) -> tuple[list[Candidate], list[str]]:
    """Only deep candidates, trained with DP-SGD at the scenario's ε.

    DP-SGD wants larger batches, a higher learning rate and more epochs than
    plain training, so the candidates' training settings change with it.
    """
    private = []
    for c in candidates:
        if c.family != "deep":
            continue
        privacy = {"epsilon": epsilon, "delta": 1e-5, "max_grad_norm": 1.0}
        epochs = max(8, c.params["training"]["epochs"])
        training = {
            **c.params["training"], "batch_size": 256, "learning_rate": 2e-3, "epochs": epochs,
            "early_stopping_patience": None, "privacy": privacy,
        }  # fmt: skip
        private.append(Candidate(f"{c.name}_dp", "deep", {**c.params, "training": training}))
    kept = {p.name.removesuffix("_dp") for p in private}
    dropped = [c.name for c in candidates if c.name not in kept]
    note = (f"max_epsilon {epsilon:g}: only deep candidates trained with DP-SGD enter; "
            f"{', '.join(dropped)} have no differentially private variant here "
            "and are excluded.")  # fmt: skip
    return private, [*reasons, note]


def cheap_first(candidates: list[Candidate]) -> list[Candidate]:
    """Classical candidates before networks, so a tight budget still tries them."""
    return sorted(candidates, key=lambda c: c.family == "deep")  # stable: order kept within


def mitigated(limit: FairnessConstraint, budget: float) -> tuple[list[Candidate], str]:
    """Candidates trained under the (first) fairness limit, and why they enter.

    ExponentiatedGradient's bound is half the limit: it holds on training
    rows, and the validation and test gaps come out larger.
    """
    constraint = limit.metric.removesuffix("_difference")
    shared = {"constraint": constraint, "difference_bound": limit.max / 2}
    out = [
        Candidate("linear_eg", "fair_reductions", {"base": "linear", "C": 1.0, **shared}),
        Candidate("lightgbm_eg", "fair_reductions",
                  {"base": "lightgbm", "num_leaves": 15, "n_estimators": 100, **shared}),
    ]  # fmt: skip
    names = "linear_eg, lightgbm_eg"
    if budget >= 60:
        params = mlp([64], epochs=8)
        params["training"]["fairness"] = {"method": "reweigh", "sensitive": [limit.attribute]}
        out.append(Candidate("mlp_reweighed", "deep", params))
        names += " and mlp_reweighed (Kamiran–Calders reweighing)"
    why = (f"Fairness limit on {limit.metric} of '{limit.attribute}': mitigated candidates "
           f"enter: {names} (ExponentiatedGradient, {constraint} within "
           f"{limit.max / 2:g} on training rows); every candidate may still get per-group "
           "thresholds.")  # fmt: skip
    return out, why


def _table(rows: int, budget: float) -> tuple[list[Candidate], list[str]]:
    out = [
        Candidate("linear_c1", "linear", {"C": 1.0}),
        Candidate("linear_c0.1", "linear", {"C": 0.1}),
        Candidate("lightgbm_small", "lightgbm", {"num_leaves": 15, "n_estimators": 200}),
        Candidate("lightgbm_medium", "lightgbm", {"num_leaves": 31, "n_estimators": 400}),
        Candidate("lightgbm_large", "lightgbm", {"num_leaves": 63, "n_estimators": 300}),
        Candidate(
            "lightgbm_slow",
            "lightgbm",
            {"num_leaves": 31, "n_estimators": 1000, "learning_rate": 0.02},
        ),  # fmt: skip
    ]
    reasons = ["Tables: linear models and gradient-boosted trees always enter; no CNN or RNN."]
    if budget >= 60:
        out.append(Candidate("mlp_small", "deep", mlp([64], epochs=8)))
        if rows < 200_000 or budget >= 600:
            out.append(Candidate("mlp_large", "deep", mlp([256, 128], epochs=8, dropout=0.1)))
        reasons.append("Budget ≥ 60 s: MLPs over embeddings enter.")
    else:
        reasons.append("Budget < 60 s: no neural networks (they would not finish).")
    return out, reasons


def _text(rows: int, budget: float) -> tuple[list[Candidate], list[str]]:
    out = [Candidate("tfidf_linear_c1", "linear", {"C": 1.0}),
           Candidate("tfidf_linear_c4", "linear", {"C": 4.0})]  # fmt: skip
    reasons = ["Text: TF-IDF + a linear model always enters; no trees on bags of words."]
    if budget >= 60:
        encoder = {"name": "rnn", "cell": "lstm", "embedding_size": 64, "hidden_size": 64,
                   "bidirectional": True, "pooling": "max"}  # fmt: skip
        out.append(Candidate("rnn_bilstm", "deep", deep(encoder, [64], epochs=3, lr=0.002)))
        reasons.append("Budget ≥ 60 s: a bidirectional LSTM enters.")
    if budget >= 180:
        encoder = {"name": "transformer", "embedding_size": 64, "num_heads": 4, "num_layers": 2}
        out.append(Candidate("transformer_small", "deep", deep(encoder, [64], epochs=3)))
        reasons.append("Budget ≥ 180 s: a small from-scratch Transformer enters.")
    return out, reasons


def match_checkpoint() -> str:
    """The checkpoint of the pretrained candidates: ``$TAILORML_MATCH_CHECKPOINT``
    (a local folder or a Hugging Face Hub id), else all-MiniLM-L6-v2."""
    return os.environ.get(CHECKPOINT_ENV) or DEFAULT_CHECKPOINT


def pretrained(rows: int, budget: float, checkpoint: str) -> tuple[list[Candidate], list[str]]:
    """The frozen and the fine-tuned pretrained candidates that fit the budget,
    and why each enters or is left out."""
    try:
        scale = checkpoint_scale(checkpoint)
    except ConfigError as err:
        return [], [f"No pretrained candidates: {err}"]
    out, reasons = [], []
    for candidate in (minilm_frozen(checkpoint), minilm_finetune(checkpoint, rows)):
        seconds, how = pretrained_seconds(candidate, rows, scale)
        if seconds <= PRETRAINED_SHARE * budget:
            out.append(candidate)
            reasons.append(f"{candidate.name} ({checkpoint}) enters: {how} ≈ {seconds:,.0f} s, "
                           f"within half the {budget:g} s budget.")  # fmt: skip
        else:
            reasons.append(f"{candidate.name} ({checkpoint}) left out: {how} ≈ {seconds:,.0f} s, "
                           f"more than half the {budget:g} s budget.")  # fmt: skip
    return out, reasons


def checkpoint_scale(checkpoint: str) -> float:
    """A checkpoint's cost per text relative to all-MiniLM-L6-v2's (layers ×
    width²); smaller ones count as MiniLM, so their estimate is an upper bound.

    Raises:
        ConfigError: the checkpoint cannot be found (see ``checkpoint_folder``).
    """
    architecture = read_architecture(checkpoint_folder(checkpoint))
    layers = int(architecture.get("num_hidden_layers", 6))
    width = int(architecture.get("hidden_size", 384))
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


def _image(rows: int, budget: float) -> tuple[list[Candidate], list[str]]:
    small = {"name": "cnn", "conv_layers": [{"filters": 8, "kernel_size": 3, "pool_size": 2}]}
    out = [
        Candidate("linear_pixels", "linear", {"C": 0.1}),
        Candidate("cnn_small", "deep", deep(small, [32], epochs=5)),
    ]
    reasons = ["Images: a linear model on pixels and a small CNN always enter; no trees."]
    if budget >= 60:
        seed = {"name": "cnn", "conv_layers": [{"filters": 32, "kernel_size": 3, "pool_size": 2}]}
        out.append(Candidate("cnn_seed", "deep", deep(seed, [128], epochs=5)))
        reasons.append("Budget ≥ 60 s: the seed CNN layout (32 filters, dense 128) enters.")
    return out, reasons


def deep(encoder: dict[str, Any], hidden: list[int], epochs: int, lr: float = 1e-3,
         dropout: float = 0.0) -> dict[str, Any]:  # fmt: skip
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


def mlp(hidden: list[int], epochs: int, dropout: float = 0.0) -> dict[str, Any]:
    params = deep({"name": "embed_mlp"}, hidden, epochs, lr=1e-3, dropout=dropout)
    params["training"]["batch_size"] = 256
    return params
