"""The generator interface: a source text in, a target text out.

A generator family is one class under ``@register_generator("name", Options)``:
the options class validates the config's ``generator:`` block (``name`` picks
the family), and the class holds everything a trained generator needs — its
tokenizer, its network (if any) and what it learnt — so the layers after this
one (training pipeline, evaluation, match, serving) ask the interface, never
the class. Families: ``copy`` and ``retrieval`` (baselines), ``seq2seq`` (a
Transformer encoder–decoder trained from scratch), ``causal_lm`` (a small
pretrained language model fine-tuned in full or with LoRA).

Tokens are the generator's own: ``GenerationConfig.max_source_tokens`` and
``max_target_tokens`` count them. Texts over a limit are cut (``overlong:
truncate``; the cut rows are counted in ``FitFigures``) or refused.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, TypeVar

from tailorml.config import GenerationConfig, GeneratorConfig, ModelConfig, register_options
from tailorml.errors import DataError, TailorError
from tailorml.io import JSONObject


@dataclass(frozen=True)
class Pairs:
    """Aligned texts: ``targets[i]`` is what ``sources[i]`` should produce."""

    sources: list[str]
    targets: list[str]

    def __post_init__(self) -> None:
        if len(self.sources) != len(self.targets):
            raise ValueError(f"{len(self.sources)} sources but {len(self.targets)} targets")

    def __len__(self) -> int:
        return len(self.sources)


@dataclass(frozen=True)
class Generated:
    """One generated text.

    Attributes:
        text: the text, detokenized (no BOS/EOS/padding).
        tokens: tokens written, EOS not counted (what per-token latency divides by).
        source_truncated: the source was over ``max_source_tokens`` and was cut.
    """

    text: str
    tokens: int
    source_truncated: bool = False


@dataclass
class FitFigures:
    """What training did: seconds, per-epoch history, texts cut to the limits."""

    seconds: float = 0.0
    epochs: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    truncated_sources: int = 0
    truncated_targets: int = 0


def check_pairs(pairs: Pairs, split: str) -> None:
    """Every source and target is non-empty text.

    Raises:
        DataError: names the first rows (1-based, as in the file) whose text is empty.
    """
    for role, texts in (("input", pairs.sources), ("target", pairs.targets)):
        empty = [i for i, text in enumerate(texts) if not text.strip()]
        if empty:
            rows = ", ".join(str(i + 1) for i in empty[:10])
            more = f" and {len(empty) - 10} more" if len(empty) > 10 else ""
            raise DataError(
                f"the {split} data has {len(empty)} empty {role} text(s) (row(s) {rows}{more} "
                f"of the {split} split); a generator learns from non-empty pairs only. Fill "
                "or remove those rows."
            )


def overlong(lengths: list[int], limit: int, what: str, config: GenerationConfig) -> int:
    """How many texts exceed ``limit`` tokens (they are cut to it).

    Raises:
        DataError: ``overlong: refuse`` and some do; names the first rows.
    """
    over = [i for i, n in enumerate(lengths) if n > limit]
    if over and config.overlong == "refuse":
        rows = ", ".join(str(i + 1) for i in over[:10])
        raise DataError(
            f"{len(over)} training {what} text(s) are longer than {limit} tokens (row(s) "
            f"{rows} of the training split; the longest has {max(lengths)}). Raise "
            f"generation.max_{what}_tokens, or set generation.overlong: truncate to cut them "
            "and count them."
        )
    return len(over)


@dataclass(frozen=True)
class Proposal:
    """A candidate a family brings to a generation match.

    Attributes:
        name: the candidate's name in the match.
        generator: its ``generator:`` block.
        training: overrides of the scenario's ``training:`` block.
        reason: why it enters (or what it tries).
    """

    name: str
    generator: JSONObject
    training: JSONObject
    reason: str


class Generator(ABC):
    """A trained (or trainable) text generator.

    ``__init__`` stores the config and builds nothing heavy; ``fit`` learns from
    pairs; ``generate``/``stream`` write text; ``save``/``load`` move everything
    learnt through a folder (safetensors + JSON, no pickle).
    """

    name: ClassVar[str] = ""
    # a network whose per-token probabilities give a perplexity
    scores_tokens: ClassVar[bool] = False

    def __init__(self, config: ModelConfig):
        assert config.generator is not None
        self.config = config
        self.options: GeneratorConfig = config.generator
        self.limits: GenerationConfig = config.generation

    @abstractmethod
    def fit(self, train: Pairs, validation: Pairs | None, quiet: bool = True) -> FitFigures:
        """Learn from the training pairs, seeded by ``config.training.seed``."""

    @abstractmethod
    def generate(
        self, sources: list[str], decoding: GenerationConfig | None = None
    ) -> list[Generated]:
        """One text per source, decoded as ``decoding`` (default: the config's)."""

    def stream(self, source: str, decoding: GenerationConfig | None = None) -> Iterator[str]:
        """The generated text in pieces as they are decoded; joined they equal
        ``generate([source])[0].text``. By default the whole text at once."""
        yield self.generate([source], decoding)[0].text

    def log_likelihood(self, pairs: Pairs) -> tuple[float, int]:
        """Summed log-probability of the targets' tokens given their sources, and
        the number of tokens (EOS included): perplexity is ``exp(-sum / count)``.

        Raises:
            TailorError: the generator assigns no probabilities (``scores_tokens``).
        """
        raise TailorError(f"the {self.name} generator assigns no token probabilities.")

    def source_tokens(self, text: str) -> int:
        """Tokens of ``text`` as this generator reads it (serve checks the limit)."""
        return len(text.split())

    @abstractmethod
    def save(self, folder: Path) -> JSONObject:
        """Write weights into ``folder``; return the JSON state ``load`` needs."""

    @abstractmethod
    def load(self, folder: Path, state: JSONObject) -> None:
        """Restore what ``save`` wrote.

        Raises:
            FileNotFoundError: a file is missing.
            KeyError, ValueError: a file or the state does not fit.
        """

    def size(self) -> int:
        """Parameters (or stored training pairs, for a retrieval model)."""
        return 0

    @classmethod
    def proposals(cls, budget_s: float, rows: int) -> list[Proposal]:
        """The candidates this family brings to a match with ``budget_s`` seconds
        and ``rows`` training pairs; none unless the family says so."""
        return []


@dataclass(frozen=True)
class GeneratorEntry:
    name: str
    cls: type[Generator]
    options: type[GeneratorConfig]


GENERATORS: dict[str, GeneratorEntry] = {}  # in registration order
G = TypeVar("G", bound=type[Generator])


def register_generator(name: str, options: type[GeneratorConfig]) -> Callable[[G], G]:
    """Class decorator registering a generator family and its options."""

    def wrap(cls: G) -> G:
        cls.name = name
        GENERATORS[name] = GeneratorEntry(name, cls, options)
        register_options("generator", name, options)
        return cls

    return wrap


def build_generator(config: ModelConfig) -> Generator:
    """The generator the config's ``generator:`` block names, untrained.

    Raises:
        TailorError: the config has no text output, or the name is not registered.
    """
    if config.generator is None:
        raise TailorError(f"output '{config.output.name}' is not text: nothing to generate.")
    entry = GENERATORS.get(config.generator.name)
    if entry is None:
        raise TailorError(
            f"unknown generator '{config.generator.name}'; registered: {', '.join(GENERATORS)}."
        )
    return entry.cls(config)
