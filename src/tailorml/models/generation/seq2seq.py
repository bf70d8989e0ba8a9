"""``seq2seq``: a Transformer encoder–decoder trained from scratch.

Source and target share one byte-level BPE vocabulary learnt from the training
pairs (``features/subword.py``). The registry's ``transformer`` encoder reads
the source into per-token states; ``Seq2SeqDecoder`` writes the target,
attending to them, with token embeddings shared by encoder, decoder and LM head
(Press & Wolf, 2017). Training is teacher forcing with token cross-entropy
(padding masked, label smoothing), AdamW, warm-up then a cosine or constant
rate, the best validation-loss epoch kept. Decoding: ``models/decoding.py``
with the KV cache.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import ConfigDict, Field
from torch import nn

from tailorml.config import GenerationConfig, GeneratorConfig, ModelConfig, TrainingConfig
from tailorml.features.meta import FeatureMeta
from tailorml.features.subword import BOS, EOS, PAD, Subwords
from tailorml.io import JSONObject, load_tensors, save_tensors
from tailorml.models import decoding
from tailorml.models.decoders.seq2seq import Seq2SeqDecoder, Seq2SeqOptions
from tailorml.models.encoders.transformer import TransformerEncoder, TransformerOptions
from tailorml.models.generation.base import (
    FitFigures,
    Generated,
    Generator,
    Pairs,
    Proposal,
    check_pairs,
    overlong,
    register_generator,
)

SPECIAL = decoding.SpecialTokens(bos=BOS, eos=EOS, pad=PAD)
WEIGHTS = "seq2seq.safetensors"
TIED = {"decoder.tokens.weight", "decoder.head.weight"}  # the encoder's token embedding


class Seq2SeqGeneratorOptions(GeneratorConfig):
    """Options of the ``seq2seq`` generator."""

    model_config = ConfigDict(extra="forbid")

    name: Literal["seq2seq"] = "seq2seq"
    vocab_size: int = Field(default=4000, ge=300, description="Most BPE pieces learnt (joint).")
    width: int = Field(default=256, ge=8, description="d_model of encoder and decoder.")
    num_heads: int = Field(default=4, ge=1, description="Attention heads; must divide width.")
    encoder_layers: int = Field(default=3, ge=1, le=24)
    decoder_layers: int = Field(default=3, ge=1, le=24)
    mlp_ratio: int = Field(default=4, ge=1, description="Each block's MLP width / width.")
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
    label_smoothing: float = Field(default=0.1, ge=0.0, lt=1.0)


class Seq2SeqNet(nn.Module):
    """Source ids → encoder states → decoder logits."""

    def __init__(self, vocab: int, options: Seq2SeqGeneratorOptions, limits: GenerationConfig):
        super().__init__()
        source = FeatureMeta("source", "text", (limits.max_source_tokens,), "int64", vocab)
        self.encoder = TransformerEncoder(source, TransformerOptions(
            embedding_size=options.width, num_heads=options.num_heads,
            num_layers=options.encoder_layers, ffn_size=options.width * options.mlp_ratio,
            dropout=options.dropout, max_length=limits.max_source_tokens,
        ))  # fmt: skip
        self.decoder = Seq2SeqDecoder(vocab, Seq2SeqOptions(
            d_model=options.width, num_heads=options.num_heads, num_layers=options.decoder_layers,
            mlp_ratio=options.mlp_ratio, dropout=options.dropout,
            max_length=limits.max_target_tokens + 1,
        ))  # fmt: skip
        shared = self.encoder.tokens.weight  # one joint vocabulary, as the decoder initialises it
        nn.init.normal_(shared, std=0.02)
        nn.init.normal_(self.encoder.positions.weight, std=0.02)  # same scale as the tokens
        self.decoder.tokens.weight = self.decoder.head.weight = shared

    def forward(self, source: torch.Tensor, target_in: torch.Tensor) -> torch.Tensor:
        """``source`` ``(B, S)``, ``target_in`` ``(B, T)`` BOS first → logits ``(B, T, V)``."""
        memory, mask = self.encoder.states(source)  # (B, S, D), (B, S)
        return self.decoder(target_in, memory, mask)  # (B, T, V)


def padded(rows: list[list[int]], width: int | None = None) -> torch.Tensor:
    """Rows of ids right-padded with ``PAD`` into ``(N, width or longest)``."""
    width = width or max(1, *(len(r) for r in rows))
    out = torch.full((len(rows), width), PAD, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row[:width], dtype=torch.long)
    return out


def batches(lengths: list[int], size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of rows of similar length (less padding): shuffle, sort
    within windows of 50 batches, cut, shuffle the batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = size * 50
    out = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: lengths[i])
        out += [chunk[i : i + size] for i in range(0, len(chunk), size)]
    rng.shuffle(out)
    return out


def rate(step: int, total: int, cfg: TrainingConfig) -> float:
    """Linear warm-up over ``warmup_steps``, then constant or cosine to 10 %."""
    if step < cfg.warmup_steps:
        return cfg.learning_rate * (step + 1) / (cfg.warmup_steps + 1)
    if cfg.lr_schedule != "cosine":
        return cfg.learning_rate
    done = (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps)
    return cfg.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, done))))


@register_generator("seq2seq", Seq2SeqGeneratorOptions)
class Seq2SeqGenerator(Generator):
    """A from-scratch encoder–decoder over a learnt subword vocabulary."""

    scores_tokens = True

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        assert isinstance(self.options, Seq2SeqGeneratorOptions)
        self.settings: Seq2SeqGeneratorOptions = self.options
        self.vocab: Subwords | None = None
        self.net: Seq2SeqNet | None = None

    @classmethod
    def proposals(cls, budget_s: float, rows: int) -> list[Proposal]:
        """From 300 s: a small encoder–decoder, ~0.3 ms per pair and epoch on 2 cores."""
        if budget_s < 300:
            return []
        epochs = max(10, min(80, int(budget_s / 4 / max(1, rows) / 0.003)))
        generator: JSONObject = {"name": "seq2seq", "vocab_size": 800, "width": 128,
                                 "encoder_layers": 2, "decoder_layers": 2,
                                 "dropout": 0.2}  # fmt: skip
        training: JSONObject = {"epochs": epochs, "batch_size": 16, "learning_rate": 0.002,
                                "warmup_steps": 50, "lr_schedule": "cosine",
                                "gradient_clipping": 1.0, "weight_decay": 0.01}  # fmt: skip
        why = (
            f"seq2seq: a Transformer encoder–decoder from scratch, {epochs} epochs (budget ≥ 300 s)"
        )
        return [Proposal("seq2seq", generator, training, why)]

    # --- training ---------------------------------------------------------------
    def fit(self, train: Pairs, validation: Pairs | None, quiet: bool = True) -> FitFigures:
        check_pairs(train, "training")
        cfg = self.config.training
        torch.manual_seed(cfg.seed)
        self.vocab = Subwords.fit(train.sources + train.targets, self.settings.vocab_size)
        self.net = Seq2SeqNet(self.vocab.size, self.settings, self.limits)
        sources, targets = self.vocab.encode(train.sources), self.vocab.encode(train.targets)
        figures = FitFigures(
            truncated_sources=overlong([len(s) for s in sources], self.limits.max_source_tokens,
                                       "source", self.limits),
            truncated_targets=overlong([len(t) for t in targets], self.limits.max_target_tokens,
                                       "target", self.limits),
        )  # fmt: skip
        rows = list(zip(sources, targets, strict=True))
        held = None
        if validation is not None:
            encoded = self.vocab.encode(validation.sources), self.vocab.encode(validation.targets)
            held = list(zip(*encoded, strict=True))
        optimizer = torch.optim.AdamW(self.net.parameters(), lr=cfg.learning_rate,
                                      weight_decay=cfg.weight_decay)  # fmt: skip
        rng = random.Random(cfg.seed)
        total = cfg.epochs * math.ceil(len(rows) / cfg.batch_size)
        best, best_loss, step, started = None, math.inf, 0, time.perf_counter()
        for epoch in range(1, cfg.epochs + 1):
            began, losses = time.perf_counter(), []
            self.net.train()
            for batch in batches([len(s) + len(t) for s, t in rows], cfg.batch_size, rng):
                for group in optimizer.param_groups:
                    group["lr"] = rate(step, total, cfg)
                loss = self._loss([rows[i] for i in batch], self.settings.label_smoothing)
                optimizer.zero_grad()
                loss.backward()
                if cfg.gradient_clipping:
                    nn.utils.clip_grad_norm_(self.net.parameters(), cfg.gradient_clipping)
                optimizer.step()
                losses.append(float(loss.detach()))
                step += 1
            record = {"epoch": float(epoch), "train_loss": sum(losses) / len(losses)}
            watched = record["train_loss"]
            if held:
                watched = record["validation_loss"] = self._mean_loss(held)
            record["seconds"] = time.perf_counter() - began
            figures.history.append(record)
            if watched < best_loss:
                best, best_loss = copy.deepcopy(self.net.state_dict()), watched
        if best is not None:
            self.net.load_state_dict(best)
        self.net.eval()
        figures.seconds, figures.epochs = time.perf_counter() - started, cfg.epochs
        return figures

    def _tensors(
        self, rows: list[tuple[list[int], list[int]]]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Source ``(B, S)``, decoder input ``(B, T)`` (BOS + target), labels ``(B, T)``
        (target + EOS, PAD elsewhere), each cut to the limits."""
        cut = self.limits.max_target_tokens
        source = padded([s[: self.limits.max_source_tokens] or [EOS] for s, _ in rows])
        target_in = padded([[BOS, *t[:cut]] for _, t in rows])
        labels = padded([[*t[:cut], EOS] for _, t in rows])
        return source, target_in, labels

    def _loss(self, rows: list[tuple[list[int], list[int]]], smoothing: float) -> torch.Tensor:
        """Mean token cross-entropy over the batch's real target tokens."""
        assert self.net is not None
        source, target_in, labels = self._tensors(rows)
        logits = self.net(source, target_in)  # (B, T, V)
        return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=PAD,
                               label_smoothing=smoothing)  # fmt: skip

    @torch.no_grad()
    def _mean_loss(self, rows: list[tuple[list[int], list[int]]]) -> float:
        assert self.net is not None
        self.net.eval()
        total, count = 0.0, 0
        for start in range(0, len(rows), 128):
            chunk = rows[start : start + 128]
            tokens = sum(min(len(t), self.limits.max_target_tokens) + 1 for _, t in chunk)
            total += float(self._loss(chunk, 0.0)) * tokens
            count += tokens
        return total / count

    # --- generation -------------------------------------------------------------
    def _ready(self) -> tuple[Subwords, Seq2SeqNet]:
        assert self.vocab is not None and self.net is not None, "fit or load the generator first"
        return self.vocab, self.net

    def _memory(self, sources: list[str]) -> tuple[torch.Tensor, torch.Tensor, list[bool]]:
        vocab, net = self._ready()
        ids = vocab.encode(sources)
        cut = [len(i) > self.limits.max_source_tokens for i in ids]
        source = padded([i[: self.limits.max_source_tokens] or [EOS] for i in ids])
        memory, mask = net.encoder.states(source)  # (B, S, D), (B, S)
        return memory, mask, cut

    @torch.no_grad()
    def generate(
        self, sources: list[str], decoding_: GenerationConfig | None = None
    ) -> list[Generated]:
        how = decoding_ or self.limits
        vocab, net = self._ready()
        net.eval()
        out: list[Generated] = []
        for start in range(0, len(sources), 64):
            memory, mask, cut = self._memory(sources[start : start + 64])
            tokens = self._decode(memory, mask, how)  # (B, L)
            for row, was_cut in zip(tokens.tolist(), cut, strict=True):
                ids = row[: row.index(EOS)] if EOS in row else row
                ids = [i for i in ids if i != PAD]
                out.append(Generated(vocab.decode(ids), len(ids), was_cut))
        return out

    def _decode(
        self, memory: torch.Tensor, mask: torch.Tensor, how: GenerationConfig
    ) -> torch.Tensor:
        _, net = self._ready()
        steps = self.limits.max_target_tokens
        if how.strategy == "beam":
            return decoding.beam_search(net.decoder, memory, mask, SPECIAL, steps,
                                        how.beam_size, how.length_penalty).tokens  # fmt: skip
        if how.strategy == "sample":
            generator = torch.Generator().manual_seed(how.seed)
            return decoding.sample(net.decoder, memory, mask, SPECIAL, steps, how.temperature,
                                   how.top_k, how.top_p, generator).tokens  # fmt: skip
        return decoding.greedy(net.decoder, memory, mask, SPECIAL, steps).tokens

    @torch.no_grad()
    def stream(self, source: str, decoding_: GenerationConfig | None = None) -> Iterator[str]:
        how = decoding_ or self.limits
        if how.strategy == "beam":  # the best beam is known only at the end
            yield from super().stream(source, how)
            return
        vocab, net = self._ready()
        net.eval()
        memory, mask, _ = self._memory([source])
        pick = None
        if how.strategy == "sample":
            generator = torch.Generator().manual_seed(how.seed)
            pick = decoding.sampler(how.temperature, how.top_k, how.top_p, generator)
        ids: list[int] = []
        sent = ""
        steps = self.limits.max_target_tokens
        for token in decoding.stream(net.decoder, memory, mask, SPECIAL, steps, pick):
            if int(token[0]) == EOS:
                break
            ids.append(int(token[0]))
            text = vocab.decode(ids)
            if not text.endswith("\ufffd"):  # not inside a multi-byte character
                yield text[len(sent) :]
                sent = text
        rest = vocab.decode(ids)[len(sent) :]
        if rest:
            yield rest

    @torch.no_grad()
    def log_likelihood(self, pairs: Pairs) -> tuple[float, int]:
        vocab, net = self._ready()
        net.eval()
        rows = list(zip(vocab.encode(pairs.sources), vocab.encode(pairs.targets), strict=True))
        total, count = 0.0, 0
        for start in range(0, len(rows), 128):
            source, target_in, labels = self._tensors(rows[start : start + 128])
            logits = net(source, target_in).float()  # (B, T, V)
            picked = logits.log_softmax(-1).gather(-1, labels.unsqueeze(-1))[..., 0]  # (B, T)
            real = labels != PAD
            total += float(picked[real].sum())
            count += int(real.sum())
        return total, count

    def source_tokens(self, text: str) -> int:
        vocab, _ = self._ready()
        return len(vocab.encode([text])[0])

    # --- saving -----------------------------------------------------------------
    def save(self, folder: Path) -> JSONObject:
        vocab, net = self._ready()
        kept = {k: v for k, v in net.state_dict().items() if k not in TIED}
        save_tensors(folder / WEIGHTS, kept)
        return {"tokenizer": vocab.to_json()}

    def load(self, folder: Path, state: JSONObject) -> None:
        self.vocab = Subwords.from_json(str(state["tokenizer"]))
        self.net = Seq2SeqNet(self.vocab.size, self.settings, self.limits)
        result = self.net.load_state_dict(load_tensors(folder / WEIGHTS), strict=False)
        if set(result.missing_keys) != TIED or result.unexpected_keys:
            wrong = sorted(set(result.missing_keys) - TIED) + result.unexpected_keys
            raise ValueError(f"{WEIGHTS} does not fit the network: {', '.join(wrong[:5])}")
        self.net.eval()

    def size(self) -> int:
        _, net = self._ready()
        return sum(p.numel() for p in net.parameters())
