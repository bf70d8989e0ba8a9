"""Conformance of every registered text generator: one test walks them all."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import pytest

from tailorml.config import ModelConfig
from tailorml.errors import ConfigError, DataError
from tailorml.models.generation import GENERATORS, Pairs, build_generator
from tailorml.runs.generation import load_generator, save_generator

# Small settings per family, so each trains in seconds on two cores.
SMALL: dict[str, dict[str, Any]] = {
    "copy": {},
    "retrieval": {},
    "seq2seq": {"width": 32, "num_heads": 2, "encoder_layers": 1, "decoder_layers": 1,
                "vocab_size": 300},
    "causal_lm": {"adapter": "lora", "lora_rank": 2},
}  # fmt: skip
WORDS = ["red", "green", "blue", "black", "white", "small", "big", "old", "new", "fast"]


def pairs(n: int, seed: int = 0) -> Pairs:
    rng = random.Random(seed)
    sources = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 5))) for _ in range(n)]
    return Pairs(sources, [" ".join(reversed(s.split())) for s in sources])


def config(name: str, **blocks: Any) -> ModelConfig:
    return ModelConfig.model_validate({
        "data": {"source": "pairs.csv"},
        "input_features": [{"name": "source", "type": "text"}],
        "output_features": [{"name": "target", "type": "text"}],
        "generator": {"name": name, **SMALL[name], **blocks.pop("generator", {})},
        "generation": {"max_source_tokens": 16, "max_target_tokens": 12,
                       **blocks.pop("generation", {})},
        "training": {"epochs": 1, "batch_size": 8, "seed": 0, **blocks.pop("training", {})},
    })  # fmt: skip


def test_every_generator_has_small_settings() -> None:
    assert set(GENERATORS) == set(SMALL), "add the new generator's small settings to SMALL"


@pytest.fixture(scope="module", params=sorted(SMALL))
def trained(request: pytest.FixtureRequest) -> tuple[str, Any]:
    name = request.param
    generator = build_generator(config(name))
    figures = generator.fit(pairs(24), pairs(8, seed=1))
    assert figures.truncated_sources == figures.truncated_targets == 0
    return name, generator


def test_generates_one_text_per_source_deterministically(trained: tuple[str, Any]) -> None:
    _, generator = trained
    sources = pairs(5, seed=2).sources
    first, second = generator.generate(sources), generator.generate(sources)
    assert [g.text for g in first] == [g.text for g in second]
    assert len(first) == 5
    assert all(isinstance(g.text, str) and g.tokens >= 0 for g in first)
    assert all(g.tokens <= 12 for g in first)


def test_stream_joins_to_the_generated_text(trained: tuple[str, Any]) -> None:
    _, generator = trained
    source = pairs(1, seed=3).sources[0]
    assert "".join(generator.stream(source)) == generator.generate([source])[0].text


def test_save_load_round_trip(trained: tuple[str, Any], tmp_path: Path) -> None:
    name, generator = trained
    save_generator(generator, tmp_path / "model")
    again = load_generator(tmp_path / "model")
    assert again.name == name
    sources = pairs(4, seed=4).sources
    assert [g.text for g in again.generate(sources)] == [
        g.text for g in generator.generate(sources)
    ]


def test_log_likelihood_where_the_generator_scores_tokens(trained: tuple[str, Any]) -> None:
    _, generator = trained
    held = pairs(4, seed=5)
    if not generator.scores_tokens:
        with pytest.raises(Exception, match="no token probabilities"):
            generator.log_likelihood(held)
        return
    total, count = generator.log_likelihood(held)
    assert count >= len(held) and math.isfinite(total) and total < 0


def test_same_seed_same_model(trained: tuple[str, Any]) -> None:
    name, generator = trained
    twin = build_generator(config(name))
    twin.fit(pairs(24), pairs(8, seed=1))
    sources = pairs(4, seed=6).sources
    assert [g.text for g in twin.generate(sources)] == [g.text for g in generator.generate(sources)]


@pytest.mark.parametrize("name", sorted(SMALL))
def test_empty_target_is_refused_naming_the_row(name: str) -> None:
    bad = pairs(6)
    bad.targets[3] = "   "
    with pytest.raises(DataError, match=r"empty target text.*row\(s\) 4 "):
        build_generator(config(name)).fit(bad, None)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_overlong_targets_are_cut_and_counted_or_refused(name: str) -> None:
    long = pairs(10)
    long.targets[2] = " ".join(["word"] * 80)
    limits = {"max_target_tokens": 40}
    figures = build_generator(config(name, generation=limits)).fit(long, None)
    assert figures.truncated_targets == 1
    refuse = config(name, generation=limits | {"overlong": "refuse"})
    with pytest.raises(DataError, match=r"longer than 40 tokens \(row\(s\) 3 "):
        build_generator(refuse).fit(long, None)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_unknown_option_names_the_key(name: str, tmp_path: Path) -> None:
    from tailorml.config import load_config

    file = tmp_path / "c.yaml"
    file.write_text(
        "data: {source: x.csv}\ninput_features: [{name: a, type: text}]\n"
        f"output_features: [{{name: b, type: text}}]\ngenerator: {{name: {name}, widht: 3}}\n"
    )
    with pytest.raises(ConfigError, match=r"line 4: generator.*unknown option 'widht'"):
        load_config(file)
