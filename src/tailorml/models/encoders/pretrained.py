"""Pretrained BERT-style text encoder (Hugging Face transformers), frozen or fine-tuned.

The checkpoint's network reads the checkpoint tokenizer's ids (see
``features/pretrained_text.py``) and its last hidden states are pooled into
one vector per text. ``frozen`` keeps the checkpoint's weights; training then
only fits the decoder, on embeddings computed once and cached on disk (see
``train/frozen.py``). ``finetune`` trains the last ``trainable_layers`` layers
(all by default) with layer-wise learning-rate decay: the top layer learns at
``learning_rate``, each layer below at ``layer_lr_decay`` times the one above.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import ConfigDict, Field

from tailorml.config import EncoderConfig
from tailorml.features.checkpoint import DEFAULT_CHECKPOINT, checkpoint_folder, read_architecture
from tailorml.features.meta import FeatureMeta
from tailorml.io import JSONObject, load_tensors
from tailorml.models.registry import Encoder, ParamGroup, masked_pool, register_encoder


class PretrainedOptions(EncoderConfig):
    """Options of the ``pretrained`` encoder."""

    model_config = ConfigDict(extra="forbid")

    name: Literal["pretrained"] = "pretrained"
    checkpoint: str = Field(
        default=DEFAULT_CHECKPOINT,
        description="'all-MiniLM-L6-v2' (bundled), a local folder, or a Hub id 'org/name'.",
    )
    pooling: Literal["mean", "cls"] = Field(
        default="mean", description="Mean over real tokens, or the [CLS] token's state."
    )
    mode: Literal["frozen", "finetune"] = "frozen"
    trainable_layers: int | None = Field(
        default=None, ge=1, description="finetune: train only the last k layers (None: all)."
    )
    learning_rate: float = Field(
        default=5e-5, gt=0, description="finetune: the top layer's learning rate."
    )
    layer_lr_decay: float = Field(
        default=0.9, gt=0, le=1, description="finetune: each lower layer's rate factor."
    )

    def preprocessor(self, feature_type: str) -> tuple[str, JSONObject]:
        """Text is tokenized by the checkpoint's own tokenizer."""
        return "text:pretrained", {"checkpoint": self.checkpoint}


@register_encoder("pretrained", PretrainedOptions, types={"text"})
class PretrainedEncoder(Encoder):
    """Checkpoint network → last hidden states → mean or [CLS] pooling.

    Built from the architecture alone (random weights); ``load_pretrained``
    puts the checkpoint's weights in, which ``TailorModel`` does for a new
    model. A saved model's weights come from its bundle instead. Its input
    keeps only the preprocessing options that the checkpoint's tokenizer takes.

    Args:
        meta: the text feature, ``shape == (T,)``; its ``architecture`` is the
            checkpoint's config (read from the checkpoint when absent).
    """

    preprocessing_options = ("max_length", "truncation")

    def __init__(self, meta: FeatureMeta, options: PretrainedOptions) -> None:
        super().__init__()
        from transformers import AutoConfig, AutoModel

        architecture = meta.architecture or read_architecture(checkpoint_folder(options.checkpoint))
        settings = dict(architecture)
        config = AutoConfig.for_model(str(settings.pop("model_type")), **settings)
        config._attn_implementation = "sdpa"
        self.network = AutoModel.from_config(config, add_pooling_layer=False)
        self.options = options
        self.pad_id = int(config.pad_token_id or 0)
        self.output_size = int(config.hidden_size)
        self._freeze()

    @property
    def frozen(self) -> bool:
        return self.options.mode == "frozen"

    def load_pretrained(self) -> None:
        """Replace the weights with the checkpoint's (``model.safetensors``).

        Raises:
            ValueError: the checkpoint lacks weights this network needs.
        """
        weights = load_tensors(checkpoint_folder(self.options.checkpoint) / "model.safetensors")
        prefix = f"{self.network.base_model_prefix}."
        weights = {k.removeprefix(prefix): v for k, v in weights.items()}
        missing, _ = self.network.load_state_dict(weights, strict=False)  # pooler, heads unused
        missing = [k for k in missing if not k.endswith("position_ids")]
        if missing:
            raise ValueError(f"checkpoint '{self.options.checkpoint}' lacks weights {missing[:5]}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Token ids ``(B, T)`` int64, right-padded with the checkpoint's padding
        id → ``(B, output_size)``; a frozen encoder's pooled embeddings
        ``(B, output_size)`` float, computed ahead, pass through."""
        if x.is_floating_point():
            return x  # (B, D) pooled ahead by train/frozen.py
        mask = x != self.pad_id  # (B, T)
        mask[:, 0] = True  # an empty row reads one pad token rather than nothing
        if not torch.compiler.is_exporting():
            # dynamic padding: drop the columns after every row's last real token
            longest = int(mask.any(0).nonzero().max()) + 1
            x, mask = x[:, :longest], mask[:, :longest]  # (B, T'), T' the batch's longest text
        h = self.network(input_ids=x, attention_mask=mask.long()).last_hidden_state  # (B, T', D)
        if self.options.pooling == "cls":
            return h[:, 0]  # (B, D)
        return masked_pool(h, mask, "mean")  # (B, D)

    def lengths(self, x: torch.Tensor) -> torch.Tensor | None:
        """Real tokens per row ``(B,)``, for batching texts of similar length."""
        return None if x.is_floating_point() else (x != self.pad_id).sum(1)

    def parameter_groups(self) -> list[ParamGroup]:
        """Trainable parameters with their learning rates, top layer first."""
        groups: list[ParamGroup] = []
        rate = self.options.learning_rate
        for module in [*reversed(self.network.encoder.layer), self.network.embeddings]:
            params = [p for p in module.parameters() if p.requires_grad]
            if params:
                groups.append((params, rate))
            rate *= self.options.layer_lr_decay
        return groups

    def train(self, mode: bool = True) -> PretrainedEncoder:
        super().train(mode)
        if self.frozen:
            self.network.eval()  # a frozen network never drops out
        return self

    def _freeze(self) -> None:
        """Stop gradients to the weights that the mode keeps fixed."""
        layers = list(self.network.encoder.layer)
        keep = len(layers) if self.frozen else 0
        if not self.frozen and self.options.trainable_layers is not None:
            keep = max(0, len(layers) - self.options.trainable_layers)
        fixed: list[Any] = layers[:keep]
        if keep > 0:
            fixed.append(self.network.embeddings)
        for module in fixed:
            module.requires_grad_(False)
