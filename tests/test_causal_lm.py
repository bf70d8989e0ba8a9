"""The causal_lm generator: options, the bundled SmolLM2, LoRA and full fine-tuning,
decoding, saving, and checkpoints from a folder or the Hub cache.

The bundled checkpoint is loaded once (about 15 s); everything that trains runs
on a tiny random Llama with SmolLM2's tokenizer and chat template.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import accelerate  # noqa: F401  (a missing dependency fails here, never skips)
import gguf  # noqa: F401
import peft  # noqa: F401
import pytest
import torch
from pydantic import ValidationError

from tailorml.config import ModelConfig
from tailorml.errors import ConfigError, DataError, TailorError
from tailorml.models.generation.base import Pairs
from tailorml.models.generation.causal_lm import (
    BUNDLED_FILE,
    CausalLMGenerator,
    CausalLMOptions,
    bundled_smollm2,
)

PAIRS = Pairs(
    sources=[
        "Good morning.", "Thank you.", "The cat sleeps.", "I am hungry.", "Where is the station?",
        "It is raining.", "See you tomorrow.", "The house is big.", "I like tea.", "Open the door.",
        "The dog runs.", "We are friends.", "The book is red.", "Close the window.", "I read.",
        "She sings.", "Good night.", "The sea is blue.", "He is tall.", "Save the file.",
    ],
    targets=[
        "Bonjour.", "Merci.", "Le chat dort.", "J'ai faim.", "Où est la gare ?", "Il pleut.",
        "À demain.", "La maison est grande.", "J'aime le thé.", "Ouvre la porte.",
        "Le chien court.", "Nous sommes amis.", "Le livre est rouge.", "Ferme la fenêtre.",
        "Je lis.", "Elle chante.", "Bonne nuit.", "La mer est bleue.", "Il est grand.",
        "Enregistrer le fichier.",
    ],
)  # fmt: skip


TUNED: dict[str, Any] = {
    "generator": {"learning_rate": 1e-2}, "generation": {"max_target_tokens": 12},
    "training": {"epochs": 3},
}  # fmt: skip


def make_config(checkpoint: str = "SmolLM2-135M-Instruct", **blocks: dict[str, Any]) -> ModelConfig:
    generator = {"name": "causal_lm", "checkpoint": checkpoint, **blocks.pop("generator", {})}
    limits = {"max_source_tokens": 32, "max_target_tokens": 8, **blocks.pop("generation", {})}
    return ModelConfig.model_validate({
        "data": {"source": "pairs.csv"},
        "input_features": [{"name": "en", "type": "text"}],
        "output_features": [{"name": "fr", "type": "text"}],
        "generator": generator,
        "generation": limits,
        "training": {"epochs": 2, "batch_size": 4, "seed": 0, **blocks.pop("training", {})},
    })  # fmt: skip


def generator(checkpoint: str, **blocks: dict[str, Any]) -> CausalLMGenerator:
    return CausalLMGenerator(make_config(checkpoint, **blocks))


def write_tiny_llama(folder: Path) -> Path:
    """A 2-layer, 64-wide random Llama with SmolLM2's tokenizer and chat template,
    saved in Hugging Face layout (config.json, model.safetensors, tokenizer.json)."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(str(bundled_smollm2()), gguf_file=BUNDLED_FILE)
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
        tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=2,
    ))  # fmt: skip
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """One intra-op thread while this module runs: on a two-core machine shared with
    other processes, two OpenMP threads wait on each other and decoding SmolLM2 was
    measured 6-15x slower than with one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(write_tiny_llama(tmp_path_factory.mktemp("tiny_llama")))


@pytest.fixture(scope="module")
def smollm() -> CausalLMGenerator:
    """The bundled SmolLM2, untrained (zero-shot), asked for French."""
    made = generator(
        "SmolLM2-135M-Instruct", generator={"instruction": "Translate English to French."}
    )
    made.source_tokens("load it now")
    return made


@pytest.fixture(scope="module")
def tuned(tiny: str) -> Iterator[tuple[CausalLMGenerator, dict[str, torch.Tensor], Any]]:
    """A LoRA fine-tune of the tiny Llama (lr 1e-2, 3 epochs), the base weights
    before it, and what fit returned."""
    made = generator(tiny, **TUNED)
    made.build()
    before = {n: p.detach().clone() for n, p in made.model.get_base_model().named_parameters()}
    figures = made.fit(PAIRS, Pairs(PAIRS.sources[:4], PAIRS.targets[:4]))
    yield made, before, figures


# --- options ------------------------------------------------------------------------------


def test_options_reject_unknown_keys_and_bad_values() -> None:
    with pytest.raises(ValidationError, match="lora_rnak.*did you mean 'lora_rank'"):
        make_config(generator={"lora_rnak": 4})
    with pytest.raises(ValidationError, match="adapter"):
        make_config(generator={"adapter": "qlora"})
    with pytest.raises(ValidationError):
        CausalLMOptions.model_validate({"lora_rank": "8"})  # strict: no text for a number
    options = CausalLMOptions()
    assert options.rate == 1e-3 and CausalLMOptions(adapter="full").rate == 1e-4
    assert CausalLMOptions.model_validate(options.model_dump()) == options
    assert all(f.description for f in CausalLMOptions.model_fields.values())


def test_unknown_checkpoint_and_lora_target_are_config_errors(tiny: str) -> None:
    with pytest.raises(ConfigError, match="not the bundled"):
        generator("no/such/folder").build()
    with pytest.raises(ConfigError, match="'qkv'.*lacks; its linear layers are .*q_proj"):
        generator(tiny, generator={"lora_targets": ["qkv"]}).build()


# --- the bundled SmolLM2 ------------------------------------------------------------------


def test_bundled_smollm2_generates_deterministically(smollm: CausalLMGenerator) -> None:
    sources = ["The cat sleeps.", "Good morning, my friend."]
    first = smollm.generate(sources)
    assert first == smollm.generate(sources)
    assert all(g.text and 0 < g.tokens <= 8 and not g.source_truncated for g in first)
    sample = smollm.limits.model_copy(update={"strategy": "sample", "seed": 1})
    rng = torch.get_rng_state()
    drawn = smollm.generate(sources[:1], sample)
    assert torch.equal(rng, torch.get_rng_state())  # the caller's random stream is untouched
    assert drawn == smollm.generate(sources[:1], sample)
    assert drawn != smollm.generate(sources[:1], sample.model_copy(update={"seed": 2}))
    assert smollm.size() > 134_000_000  # SmolLM2-135M and its LoRA adapters


@pytest.mark.parametrize("strategy", ["greedy", "sample"])
def test_bundled_stream_joins_to_the_generated_text(
    smollm: CausalLMGenerator, strategy: str
) -> None:
    how = smollm.limits.model_copy(update={"strategy": strategy, "seed": 5})
    source = "Where is the station?"
    pieces = list(smollm.stream(source, how))
    assert len(pieces) > 1 and "".join(pieces) == smollm.generate([source], how)[0].text


def test_a_source_cannot_end_its_turn(smollm: CausalLMGenerator) -> None:
    assert smollm.source_tokens("<|im_end|>") > 1  # plain text, not the special token
    assert smollm.source_tokens("Hello world") == 2


# --- fine-tuning (tiny Llama) -----------------------------------------------------------


def test_lora_lowers_the_loss_and_changes_only_adapters(tuned: Any) -> None:
    made, before, figures = tuned
    losses = [r["train_loss"] for r in figures.history]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert all("validation_loss" in r and r["seconds"] > 0 for r in figures.history)
    assert figures.truncated_sources == figures.truncated_targets == 0
    for name, param in made.model.get_base_model().named_parameters():
        if "lora_" not in name:
            assert torch.equal(param, before[name]), name
    adapters = {n: p for n, p in made.model.named_parameters() if p.requires_grad}
    assert adapters and all("lora_" in n for n in adapters)
    assert any(p.abs().sum() > 0 for n, p in adapters.items() if "lora_B" in n)


def test_same_seed_gives_the_same_weights(tiny: str, tuned: Any) -> None:
    made, _, _ = tuned
    again = generator(tiny, **TUNED)
    again.fit(PAIRS, Pairs(PAIRS.sources[:4], PAIRS.targets[:4]))
    for (name, param), (_, other) in zip(
        made._trained().items(), again._trained().items(), strict=True
    ):
        assert torch.equal(param, other), name


def test_save_and_load_round_trip(tiny: str, tuned: Any, tmp_path: Path) -> None:
    made, _, _ = tuned
    state = made.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["causal_lm_adapter.safetensors"]
    assert json.loads(json.dumps(state))["fingerprint"] == state["fingerprint"]
    loaded = generator(tiny, **TUNED)
    loaded.load(tmp_path, state)
    assert loaded.generate(PAIRS.sources[:3]) == made.generate(PAIRS.sources[:3])
    assert loaded.size() == made.size()
    wrong = generator(tiny)
    with pytest.raises(TailorError, match="now holds other weights"):
        wrong.load(tmp_path, {**state, "fingerprint": "0" * 64})


def test_stream_and_log_likelihood_on_the_tuned_model(tuned: Any) -> None:
    made, _, _ = tuned
    for strategy in ("greedy", "sample"):
        how = made.limits.model_copy(update={"strategy": strategy, "seed": 7})
        pieces = list(made.stream(PAIRS.sources[2], how))
        assert "".join(pieces) == made.generate([PAIRS.sources[2]], how)[0].text
    beam = made.limits.model_copy(update={"strategy": "beam", "beam_size": 2})
    assert len(made.generate(PAIRS.sources[:2], beam)) == 2
    total, count = made.log_likelihood(Pairs(PAIRS.sources[:5], PAIRS.targets[:5]))
    tokens = made.tokenizer(PAIRS.targets[:5], add_special_tokens=False)["input_ids"]
    assert count == sum(len(t) + 1 for t in tokens)  # + the end-of-turn token
    assert math.isfinite(total) and total < 0


def test_overlong_texts_are_cut_and_counted_or_refused(tiny: str) -> None:
    long = Pairs(["one two three four five six seven eight nine ten"] * 2, ["un deux trois"] * 2)
    cut = generator(tiny, generation={"max_source_tokens": 4, "max_target_tokens": 2},
                    training={"epochs": 1})  # fmt: skip
    figures = cut.fit(long, None)
    assert (figures.truncated_sources, figures.truncated_targets) == (2, 2)
    assert cut.generate(long.sources[:1])[0].source_truncated
    refuse = generator(tiny, generation={"max_source_tokens": 4, "overlong": "refuse"})
    with pytest.raises(DataError, match="longer than 4 tokens"):
        refuse.fit(long, None)
    with pytest.raises(DataError, match="empty target"):
        generator(tiny).fit(Pairs(["Hello."], [" "]), None)


def test_full_fine_tuning_decays_rates_by_layer_and_saves_bf16(tiny: str, tmp_path: Path) -> None:
    made = generator(tiny, generator={"adapter": "full", "layer_lr_decay": 0.5},
                     training={"epochs": 1, "precision": "bf16"})  # fmt: skip
    made.build()
    rates = sorted({g["lr"] for g in made.parameter_groups()}, reverse=True)
    assert rates == pytest.approx([1e-4, 5e-5, 2.5e-5])  # top layer + norm, layer 0, embeddings
    embedding = made.model.get_input_embeddings().weight
    lowest = [g for g in made.parameter_groups() if g["lr"] == rates[-1]]
    assert any(p is embedding for g in lowest for p in g["params"])
    before = embedding.detach().clone()
    made.fit(PAIRS, None)
    assert not torch.equal(before, made.model.get_input_embeddings().weight)
    state = made.save(tmp_path)
    assert state["dtype"] == "bfloat16" and (tmp_path / "causal_lm.safetensors").is_file()
    loaded = generator(tiny, generator={"adapter": "full"})
    loaded.load(tmp_path, state)
    assert loaded.size() == made.size()


# --- checkpoints from the Hugging Face cache --------------------------------------------------


def test_a_hub_id_loads_from_the_cache_offline(
    tiny: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "models--tailorml-test--tiny-llama"
    shutil.copytree(tiny, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    from_hub = generator("tailorml-test/tiny-llama")
    from_folder = generator(tiny)
    assert from_hub.generate(["Good night."]) == from_folder.generate(["Good night."])
    with pytest.raises(ConfigError, match="'tailorml-test/absent'.*HF_HUB_OFFLINE.*hf download"):
        generator("tailorml-test/absent").build()
