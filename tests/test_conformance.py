"""Every registered plug-in passes the conformance kit (``tailorml.testing``):
each encoder on every feature type it takes, each model family, each output
type. Registering one is enough to get it tested here."""

from __future__ import annotations

from typing import Any

import pytest

import tailorml.testing as kit
from tailorml.features.outputs import OUTPUT_TYPES
from tailorml.models import ENCODERS, FAMILIES

# fairlearn 0.15 sets Series values with ``.at`` on new keys, which pandas 3 deprecates
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:fairlearn")

# Option sets checked besides the defaults; an encoder missing here runs with defaults only.
ENCODER_VARIANTS: dict[str, list[dict[str, Any]]] = {
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
# Variants whose ONNX export (rnn: its own unpacked path) and DP-SGD training are
# checked too, besides the defaults'.
EXPORT_VARIANTS: dict[str, list[dict[str, Any]]] = {
    "rnn": [
        {"cell": "gru", "bidirectional": True, "num_layers": 2, "hidden_size": 8},
        {"pooling": "mean", "hidden_size": 8},
        {"pooling": "max", "bidirectional": True, "hidden_size": 8},
    ],
    "transformer": [{"pooling": "cls", "num_layers": 1}],
}
PRIVATE_VARIANTS: dict[str, list[dict[str, Any]]] = {
    "embed_mlp": [{"hidden": [8], "dropout": 0.1}],
    "cnn": [{"conv_layers": [{"filters": 4, "kernel_size": 3, "pool_size": 2, "dropout": 0.1}]}],
    "rnn": [{"cell": "gru", "bidirectional": True, "num_layers": 2, "pooling": "mean"}],
    "transformer": [{"pooling": "cls", "dropout": 0.0, "num_layers": 1}],
}
# A family's params to fit with (a network: one quick epoch); missing: its defaults.
FAMILY_PARAMS: dict[str, list[dict[str, Any]]] = {
    "fair_reductions": [{}, {"base": "lightgbm", "n_estimators": 20}],
    "deep": [{"decoder": {"hidden": [16]}, "training": {"epochs": 2, "batch_size": 256}}],
}


def encoder_cases(variants: dict[str, list[dict[str, Any]]], defaults: bool = True) -> list[Any]:
    return [
        pytest.param(name, overrides, id=f"{name}-{'defaults' if not overrides else f'variant{i}'}")
        for name in sorted(ENCODERS)
        for i, overrides in enumerate([{}] * defaults + variants.get(name, []), start=not defaults)
    ]


@pytest.mark.parametrize(("name", "overrides"), encoder_cases(ENCODER_VARIANTS))
def test_encoder_conforms(name: str, overrides: dict[str, Any]) -> None:
    """With its defaults an encoder is checked whole (options, shapes, gradients,
    save/load, determinism, ONNX, DP-SGD); a variant's network maths alone."""
    variant = bool(overrides)
    kit.check_encoder(name, [overrides], onnx=not variant, private=not variant)


@pytest.mark.parametrize(("name", "overrides"), encoder_cases(EXPORT_VARIANTS, defaults=False))
def test_encoder_variant_exports(name: str, overrides: dict[str, Any]) -> None:
    kit.check_encoder(name, [overrides], private=False)


@pytest.mark.parametrize(("name", "overrides"), encoder_cases(PRIVATE_VARIANTS, defaults=False))
def test_encoder_variant_trains_privately_or_is_refused_by_name(
    name: str, overrides: dict[str, Any]
) -> None:
    kit.check_encoder(name, [overrides], onnx=False)


def family_cases() -> list[Any]:
    return [
        pytest.param(name, params, id=f"{name}-{i}")
        for name in FAMILIES
        for i, params in enumerate(FAMILY_PARAMS.get(name, [{}]))
    ]


@pytest.mark.parametrize(("name", "params"), family_cases())
def test_family_conforms(name: str, params: dict[str, Any]) -> None:
    kit.check_family(name, params)


@pytest.mark.parametrize("name", sorted(OUTPUT_TYPES))
def test_output_type_conforms(name: str) -> None:
    kit.check_output(name)
