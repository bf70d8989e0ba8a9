"""A trained text generator on disk: its bundle folder and its run folder.

A generator bundle (``RUN/model/``) holds ``model.json`` — ``family:
generator``, the generator's name, the resolved config and the JSON state its
``save`` returned (a tokenizer, a checkpoint's fingerprint) — beside the
generator's weight files (safetensors) or data (JSON). No pickle.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from safetensors import SafetensorError

from tailorml import __version__
from tailorml.config import GenerationConfig, ModelConfig
from tailorml.errors import DataError, TailorError
from tailorml.evaluate.generation import generation_latency, generation_scores
from tailorml.io import atomic_write_json, replace_dir, staging_dir
from tailorml.models.generation import Generated, Generator, Pairs, build_generator
from tailorml.records.metrics import Metrics, Scores
from tailorml.runs.bundle import FORMAT_VERSION, corrupt, problem, read_manifest
from tailorml.runs.run import DataLike, read_history, read_metrics, read_rows

FAMILY = "generator"


def is_generator(folder: Path) -> bool:
    """Whether ``folder`` (a run or a bundle folder) holds a text generator."""
    bundle = folder / "model" if (folder / "model" / "model.json").is_file() else folder
    try:
        return read_manifest(bundle).get("family") == FAMILY
    except TailorError:
        return False


def save_generator(generator: Generator, folder: Path) -> None:
    """Write the bundle to a staging folder, then swap it in atomically."""
    staging = staging_dir(folder)
    state = generator.save(staging)
    manifest = {
        "format_version": FORMAT_VERSION,
        "tailorml_version": __version__,
        "family": FAMILY,
        "generator": generator.name,
        "config": generator.config.model_dump(mode="json"),
        "state": state,
    }
    atomic_write_json(staging / "model.json", manifest)
    replace_dir(staging, folder)


def load_generator(folder: Path) -> Generator:
    """The generator a bundle folder holds, with what it learnt.

    Raises:
        TailorError: not a generator bundle, or a file is missing or corrupt
            (the message names it).
    """
    manifest = read_manifest(folder)
    if manifest.get("family") != FAMILY:
        raise TailorError(f"the bundle in '{folder}' is not a text generator.")
    try:
        config = ModelConfig.model_validate(manifest["config"])
        generator = build_generator(config)
        state = manifest["state"]
        if not isinstance(state, dict):
            raise ValueError("'state' is not an object")
    except (KeyError, TypeError, ValueError, TailorError) as err:
        raise corrupt(
            folder, "model.json", f"does not describe a generator ({problem(err)})"
        ) from None
    try:
        generator.load(folder, state)
    except FileNotFoundError as err:
        missing = Path(err.filename).name if err.filename else str(err)
        raise TailorError(
            f"the bundle in '{folder}' is incomplete: its {generator.name} generator needs "
            f"'{missing}', which is missing. Copy the whole bundle folder, or train again."
        ) from None
    except (SafetensorError, KeyError, ValueError) as err:
        raise corrupt(
            folder, f"the {generator.name} generator's files", f"cannot be read ({err})"
        ) from None
    return generator


class GenerationRun:
    """A trained generator and its run folder.

    Attributes:
        path: the run folder, or None for a run not saved to disk.
        history: one dict of losses per training epoch.
        metrics: what ``metrics.json`` holds.
    """

    def __init__(
        self, generator: Generator, path: Path | None = None,
        history: list[dict[str, float]] | None = None,
    ):  # fmt: skip
        self.generator = generator
        self.path = path
        self.history = history or []
        self.metrics = Metrics()

    @property
    def config(self) -> ModelConfig:
        return self.generator.config

    @property
    def source(self) -> str:
        return self.config.input_features[0].name

    def generate(
        self, texts: list[str], decoding: GenerationConfig | None = None
    ) -> list[Generated]:
        """One generated text per input text; personal data redacted when the
        config's ``generation.output_pii`` says so."""
        written = self.generator.generate(texts, decoding)
        if self.config.generation.output_pii != "redact":
            return written
        cleaned = redact_texts([w.text for w in written])
        return [
            Generated(text, w.tokens, w.source_truncated)
            for text, w in zip(cleaned, written, strict=True)
        ]

    def stream(self, text: str, decoding: GenerationConfig | None = None) -> Iterator[str]:
        """The generated text in pieces as it is decoded. Under ``output_pii:
        redact`` the text is redacted whole and sent as one piece (a name cannot
        be recognised half-written)."""
        if self.config.generation.output_pii == "redact":
            yield self.generate([text], decoding)[0].text
            return
        yield from self.generator.stream(text, decoding)

    def pairs(self, rows: pd.DataFrame, split: str) -> Pairs:
        """The (input, target) texts of labelled rows."""
        target = self.config.output.name
        for column in (self.source, target):
            if column not in rows.columns:
                raise DataError(
                    f"the {split} data lacks column '{column}'; it has "
                    f"{', '.join(map(repr, list(rows.columns)[:20]))}."
                )
        return Pairs(
            texts(rows[self.source], self.source, split), texts(rows[target], target, split)
        )

    def score_rows(self, rows: pd.DataFrame, split: str) -> Scores:
        """chrF, BLEU, exact match, perplexity and tokens/s on labelled rows."""
        return score_pairs(self.generator, self.pairs(rows, split), self.config.training.seed)

    def latency(self, sources: list[str]) -> dict[str, float]:
        """One request at a time on ``sources``: p50/p95 ms and ms per token."""
        return generation_latency(lambda text: self.generator.generate([text])[0].tokens, sources)

    def evaluate(self, data: DataLike, split: str = "evaluation") -> Scores:
        """chrF, BLEU, exact match and perplexity on labelled rows."""
        rows, dropped = read_rows(data, self.config.data)
        scores = self.score_rows(rows, split)
        if dropped:
            scores.dropped_rows = dropped
        return scores

    def predict(self, data: DataLike) -> pd.DataFrame:
        """One row per input row, in order: ``prediction`` (the generated text),
        ``tokens`` and ``source_truncated``."""
        rows, dropped = read_rows(data, self.config.data)
        if self.source not in rows.columns:
            raise DataError(f"the prediction data lacks the input column '{self.source}'.")
        written = self.generate(texts(rows[self.source], self.source, "prediction"))
        frame = pd.DataFrame({
            "prediction": [w.text for w in written],
            "tokens": [w.tokens for w in written],
            "source_truncated": [w.source_truncated for w in written],
        })  # fmt: skip
        frame.attrs["dropped_rows"] = dropped
        return frame


def score_pairs(generator: Generator, pairs: Pairs, seed: int = 0) -> Scores:
    """What ``generator`` writes for the sources, scored against the targets."""
    started = time.perf_counter()
    written = generator.generate(pairs.sources)
    seconds = time.perf_counter() - started
    perplexity = None
    if generator.scores_tokens:
        total, count = generator.log_likelihood(pairs)
        perplexity = math.exp(-total / count)
    return generation_scores(
        [w.text for w in written], pairs.targets, seed=seed, perplexity=perplexity,
        tokens_per_s=sum(w.tokens for w in written) / seconds if seconds else None,
        truncated_sources=sum(w.source_truncated for w in written),
    )  # fmt: skip


def texts(column: pd.Series, name: str, split: str) -> list[str]:
    """A column as text; missing values are refused, naming the rows."""
    missing = column.isna().to_numpy().nonzero()[0]
    if len(missing):
        rows = ", ".join(str(int(i) + 1) for i in missing[:10])
        raise DataError(f"column '{name}' of the {split} data is missing in row(s) {rows}.")
    return [str(v) for v in column]


def redact_texts(written: list[str]) -> list[str]:
    """Personal data in each text replaced by ``<ENTITY_TYPE>`` (presidio)."""
    from tailorml.data.pii import redact

    frame = pd.DataFrame({"text": written}, dtype=object)
    return [str(v) for v in redact(frame, ["text"])[0]["text"]]


def load_generation(path: Path) -> GenerationRun:
    """Open a generator's run folder (or bare bundle folder)."""
    if (path / "model" / "model.json").is_file():
        run = GenerationRun(
            load_generator(path / "model"), path, read_history(path / "history.csv")
        )
        run.metrics = read_metrics(path / "metrics.json")
        return run
    return GenerationRun(load_generator(path))
