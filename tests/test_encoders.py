"""Encoder specifics; every registered encoder's conformance (shapes, gradients,
save/load, determinism, padding) is in ``test_conformance.py``, by the kit."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from tailorml.config import parse_config
from tailorml.errors import ConfigError
from tailorml.features.meta import FeatureMeta
from tailorml.models.encoders import CNNOptions
from tailorml.models.registry import build_encoder
from tailorml.testing import METAS, build, encoder_entry, sample_input, text_batch
from test_conformance import ENCODER_VARIANTS

# ---------------------------------------------------------------- rnn


@pytest.mark.parametrize("overrides", [{}, *ENCODER_VARIANTS["rnn"]], ids=str)
def test_rnn_export_path_matches_the_packed_one(overrides: dict[str, Any]) -> None:
    """``forward_padded`` (taken under torch.export) computes what packing does."""
    meta = next(m for m in METAS if m.type == "text")
    encoder = build(encoder_entry("rnn"), meta, overrides).eval()
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
