"""Every registered encoder passes one conformance test; then encoder specifics.

The conformance test runs over ``ENCODERS`` × the feature types each accepts,
so registering a new encoder is enough to get it tested.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch
from pydantic import ValidationError
from safetensors.torch import load_file, save_file
from torch import nn

import tailorml.models.encoders  # noqa: F401  (registers the encoders)
from tailorml.config import parse_config
from tailorml.errors import ConfigError
from tailorml.features.meta import FeatureMeta
from tailorml.models.encoders import CNNOptions
from tailorml.models.registry import ENCODERS, Encoder, build_encoder

BATCH = 8
TEXT_WIDTH = 12
TEXT_VOCAB = 50
# 54 real tokens cover every id 1..49; the last row is empty (all padding).
TEXT_LENGTHS = [12, 10, 8, 6, 4, 2, 12, 0]

METAS = [
    FeatureMeta("num", "number", (1,), "float32"),
    FeatureMeta("cat", "category", (), "int64", vocab_size=7),
    FeatureMeta("flag", "binary", (1,), "float32"),
    FeatureMeta("text", "text", (TEXT_WIDTH,), "int64", vocab_size=TEXT_VOCAB),
    FeatureMeta("gray", "image", (1, 28, 28), "float32"),
    FeatureMeta("rgb", "image", (3, 16, 16), "float32"),
]

# Option sets tested besides the defaults; an encoder missing here runs with defaults only.
VARIANTS: dict[str, list[dict[str, Any]]] = {
    "embed_mlp": [{"hidden": [8, 4], "activation": "gelu", "dropout": 0.1}],
    "cnn": [
        {
            "conv_layers": [
                {
                    "filters": 4,
                    "kernel_size": 3,
                    "stride": 2,
                    "padding": "same",
                    "batch_norm": True,
                    "pool_size": 2,
                    "dropout": 0.1,
                    "activation": "gelu",
                },
                {"filters": 6, "kernel_size": 2, "padding": "same", "activation": "tanh"},
            ],
            "output": "global_avg",
        },
        {"conv_layers": [{"filters": 8, "kernel_size": 3, "group_norm": True, "pool_size": 2}]},
    ],
    "rnn": [
        {"cell": "gru", "bidirectional": True, "num_layers": 2, "dropout": 0.1},
        {"pooling": "mean", "hidden_size": 16},
        {"pooling": "max", "bidirectional": True, "embedding_size": 8},
    ],
    "transformer": [{"pooling": "cls"}, {"pooling": "max", "num_heads": 2, "num_layers": 1}],
    # all-MiniLM-L6-v2's architecture (random weights here): frozen by default
    "pretrained": [{"mode": "finetune"}, {"mode": "finetune", "pooling": "cls"}],
}


def option_sets(name: str) -> list[dict[str, Any]]:
    return [{}, *VARIANTS.get(name, [])]


def conformance_cases() -> list[Any]:
    cases = []
    for name in sorted(ENCODERS):
        for i, overrides in enumerate(option_sets(name)):
            for meta in METAS:
                if meta.type in ENCODERS[name].types:
                    label = f"{name}-{meta.name}-{'defaults' if i == 0 else f'variant{i}'}"
                    cases.append(pytest.param(name, meta, overrides, id=label))
    return cases


def build(name: str, meta: FeatureMeta, overrides: dict[str, Any], seed: int = 0) -> Encoder:
    options = ENCODERS[name].options.model_validate({"name": name, **overrides})
    torch.manual_seed(seed)
    return build_encoder(meta, options)


def text_batch(
    lengths: list[int], width: int = TEXT_WIDTH, vocab: int = TEXT_VOCAB
) -> torch.Tensor:
    """Right-padded ids ``(len(lengths), width)``; real tokens cycle through 1..vocab-1."""
    x = torch.zeros(len(lengths), width, dtype=torch.long)
    start = 0
    for row, n in enumerate(lengths):
        x[row, :n] = torch.arange(start, start + n) % (vocab - 1) + 1
        start += n
    return x


def sample_input(meta: FeatureMeta) -> torch.Tensor:
    """A batch of ``BATCH`` rows in the layout the encoders receive."""
    g = torch.Generator().manual_seed(0)
    if meta.type == "number":
        return torch.randn(BATCH, 1, generator=g)
    if meta.type == "binary":
        return torch.randint(0, 2, (BATCH, 1), generator=g).float()
    if meta.type == "category":
        assert meta.vocab_size is not None
        return torch.arange(BATCH) % meta.vocab_size  # every id, 0 (unknown) included
    if meta.type == "text":
        return text_batch(TEXT_LENGTHS, meta.shape[0], meta.vocab_size or TEXT_VOCAB)
    return torch.rand(BATCH, *meta.shape, generator=g)


def check_gradients(encoder: Encoder, x: torch.Tensor) -> None:
    """Every trainable parameter (and a float input) gets a gradient; every row of a
    trainable embedding looked up gets one, the padding row none."""
    seen: dict[nn.Embedding, torch.Tensor] = {}

    def record(module: nn.Module, args: tuple[Any, ...], _out: Any) -> None:
        seen[module] = args[0]  # type: ignore[index]

    hooks = [
        m.register_forward_hook(record) for m in encoder.modules() if isinstance(m, nn.Embedding)
    ]
    if x.is_floating_point():
        x = x.clone().requires_grad_(True)  # also covers encoders without parameters
    encoder.train()
    out = encoder(x)
    if not out.requires_grad:  # a frozen pretrained encoder: nothing in it learns
        for hook in hooks:
            hook.remove()
        assert not any(p.requires_grad for p in encoder.parameters())
        return
    # Random weights: a plain sum has zero gradient through a final LayerNorm.
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(1))
    (out * weights).sum().backward()
    for hook in hooks:
        hook.remove()

    if x.requires_grad:
        assert x.grad is not None and x.grad.abs().sum() > 0, "no gradient reached the input"
    for name, param in encoder.named_parameters():
        if not param.requires_grad:  # a frozen pretrained network
            assert param.grad is None, f"frozen {name} got a gradient"
            continue
        assert param.grad is not None, f"{name} got no gradient"
        assert param.grad.abs().sum() > 0, f"{name} got an all-zero gradient"
    for module, ids in seen.items():
        if not module.weight.requires_grad:
            continue
        assert module.weight.grad is not None
        rows = module.weight.grad.abs().sum(1)  # (num_embeddings,)
        used = ids.unique()
        if module.padding_idx is not None:
            assert rows[module.padding_idx] == 0, "the padding row must not learn"
            used = used[used != module.padding_idx]
        assert (rows[used] > 0).all(), f"embedding rows without gradient: {used[rows[used] == 0]}"


@pytest.mark.parametrize(("name", "meta", "overrides"), conformance_cases())
def test_encoder_conformance(
    name: str, meta: FeatureMeta, overrides: dict[str, Any], tmp_path: Path
) -> None:
    entry = ENCODERS[name]
    x = sample_input(meta)

    # Options: defaults valid, round trip through a dump, unknown keys rejected.
    options = entry.options.model_validate({"name": name, **overrides})
    assert entry.options().name == name
    assert entry.options.model_validate(options.model_dump()) == options
    with pytest.raises(ValidationError, match="not_an_option"):
        entry.options.model_validate({"name": name, "not_an_option": 1})

    # (a) shape and finiteness.
    encoder = build(name, meta, overrides)
    out = encoder(x)
    assert out.shape == (BATCH, encoder.output_size)
    assert torch.isfinite(out).all()

    # (b) gradient flow (train mode, so dropout and batch norm are exercised too).
    check_gradients(encoder, x)

    # (c) save/load through safetensors into a differently seeded instance.
    path = tmp_path / "encoder.safetensors"
    save_file(encoder.state_dict(), str(path))
    restored = build(name, meta, overrides, seed=1)
    restored.load_state_dict(load_file(str(path)))
    encoder.eval()
    restored.eval()
    with torch.no_grad():
        assert torch.equal(encoder(x), restored(x))

    # (d) determinism: the same seed builds the same encoder.
    first, second = build(name, meta, overrides).eval(), build(name, meta, overrides).eval()
    with torch.no_grad():
        assert torch.equal(first(x), second(x))


def text_encoder_cases() -> list[Any]:
    return [
        pytest.param(name, overrides, id=f"{name}-{'defaults' if i == 0 else f'variant{i}'}")
        for name in sorted(ENCODERS)
        if "text" in ENCODERS[name].types
        for i, overrides in enumerate(option_sets(name))
    ]


@pytest.mark.parametrize(("name", "overrides"), text_encoder_cases())
def test_text_encoders_ignore_padding(name: str, overrides: dict[str, Any]) -> None:
    meta = next(m for m in METAS if m.type == "text")
    encoder = build(name, meta, overrides).eval()
    with torch.no_grad():  # invariance must come from masking, not from a zero pad vector
        for module in encoder.modules():
            if isinstance(module, nn.Embedding) and module.padding_idx is not None:
                module.weight[module.padding_idx] = 1.0
    lengths = [12, 3, 7, 1, 5]
    x = text_batch(lengths)
    with torch.no_grad():
        batched = encoder(x)
        for row, n in enumerate(lengths):
            alone = encoder(x[row : row + 1, :n])  # the row without any padding
            torch.testing.assert_close(batched[row : row + 1], alone, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- rnn


@pytest.mark.parametrize("overrides", option_sets("rnn"), ids=str)
def test_rnn_export_path_matches_the_packed_one(overrides: dict[str, Any]) -> None:
    """``forward_padded`` (taken under torch.export) computes what packing does."""
    meta = next(m for m in METAS if m.type == "text")
    encoder = build("rnn", meta, overrides).eval()
    with torch.no_grad():
        for x in (sample_input(meta), text_batch([12, 3, 7, 1, 5, 0]), text_batch([4])):
            torch.testing.assert_close(encoder.forward_padded(x), encoder(x), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- cnn


def test_cnn_default_matches_keras_seed_layout() -> None:
    # Conv2D(32, 3, relu) → MaxPooling2D(2) → Flatten on 1×28×28: 32 × 13 × 13.
    meta = FeatureMeta("image", "image", (1, 28, 28), "float32")
    encoder = build_encoder(meta, CNNOptions())
    assert encoder.output_size == 5408
    assert encoder(torch.rand(2, 1, 28, 28)).shape == (2, 5408)


@pytest.mark.parametrize(("kernel", "stride"), [(3, 1), (4, 1), (3, 2), (4, 3), (5, 4)])
def test_cnn_same_padding_gives_ceil_side_over_stride(kernel: int, stride: int) -> None:
    meta = FeatureMeta("image", "image", (2, 28, 17), "float32")
    layer = {"filters": 3, "kernel_size": kernel, "stride": stride, "padding": "same"}
    encoder = build_encoder(meta, CNNOptions(conv_layers=[layer]))  # type: ignore[list-item]
    side_h, side_w = math.ceil(28 / stride), math.ceil(17 / stride)
    assert encoder.output_size == 3 * side_h * side_w
    assert encoder(torch.rand(1, 2, 28, 17)).shape == (1, 3 * side_h * side_w)


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ([{"filters": 4, "kernel_size": 9}], r"conv_layers\[0\]: kernel_size 9"),
        # 8 → conv 6 → pool 3 → conv 1: no room for the second pool.
        ([{"filters": 4, "kernel_size": 3, "pool_size": 2}] * 2, r"conv_layers\[1\]: pool_size 2"),
    ],
)
def test_cnn_rejects_layers_larger_than_their_input(
    layers: list[dict[str, Any]], message: str
) -> None:
    meta = FeatureMeta("image", "image", (1, 8, 8), "float32")
    with pytest.raises(ConfigError, match=message):
        build_encoder(meta, CNNOptions(conv_layers=layers))  # type: ignore[arg-type]


# ---------------------------------------------------------------- config validation

CONFIG = """
data: {{source: builtin:mnist}}
input_features:
  - {{name: image, type: image, encoder: {encoder}}}
output_features:
  - {{name: label, type: category}}
"""


def test_config_resolves_encoder_options() -> None:
    config = parse_config(CONFIG.format(encoder="{name: cnn}"))
    assert config.input_features[0].encoder == CNNOptions()


@pytest.mark.parametrize(
    ("encoder", "message"),
    [
        ("{name: cnn, outptu: flatten}", "did you mean 'output'"),
        ("{name: cnnn}", "did you mean 'cnn'"),
        ("{name: cnn, filtrs: 3}", "unknown option 'filtrs'.*conv_layers"),
        ("{name: cnn, conv_layers: [{filtrs: 32, kernel_size: 3}]}", "filtrs"),
        ("{name: cnn, output: flat}", "output"),
        ("{name: transformer, num_heads: 3}", "not divisible by num_heads 3"),
    ],
)
def test_config_rejects_bad_encoder_options(encoder: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(CONFIG.format(encoder=encoder))
