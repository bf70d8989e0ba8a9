"""One conformance test for every registered preprocessor, plus the target."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import soundfile
import torch

from tailorml.config.model import (
    AudioPreprocessing,
    BinaryPreprocessing,
    CategoryPreprocessing,
    ImagePreprocessing,
    NumberPreprocessing,
    TextPreprocessing,
)
from tailorml.errors import DataError
from tailorml.features import PREPROCESSORS, Preprocessor, Target

rng = np.random.default_rng(0)


def wav(seconds: float) -> bytes:
    """A WAV file of noise at 8 kHz."""
    buffer = io.BytesIO()
    soundfile.write(buffer, rng.uniform(-0.5, 0.5, int(8000 * seconds)), 8000, format="WAV")
    return buffer.getvalue()


SAMPLES: dict[str, tuple[object, pd.Series]] = {
    "number": (NumberPreprocessing(), pd.Series([1.0, 2.5, None, 4.0, 10.0])),
    "category": (CategoryPreprocessing(), pd.Series(["a", "b", "a", None, "c"])),
    "binary": (BinaryPreprocessing(), pd.Series(["yes", "no", "yes", "no", None])),
    "text": (TextPreprocessing(max_length=6), pd.Series(["Good film!", "bad", "", None, "ok ok"])),
    # a text feature read by a pretrained encoder: the checkpoint's own tokenizer
    "text:pretrained": (
        TextPreprocessing(max_length=6).model_dump() | {"checkpoint": "all-MiniLM-L6-v2"},
        pd.Series(["Good film!", "bad", "", None, "ok ok, a very long review"]),
    ),
    "image": (
        ImagePreprocessing(),
        pd.Series([rng.integers(0, 255, (8, 8), dtype=np.uint8) for _ in range(5)]),
    ),
    "audio": (AudioPreprocessing(), pd.Series([wav(s) for s in (0.3, 0.5, 0.1, 0.4, 0.2)])),
}


def test_every_registered_type_has_a_sample() -> None:
    assert set(PREPROCESSORS) == set(SAMPLES)


@pytest.mark.parametrize("kind", sorted(PREPROCESSORS))
def test_preprocessor_conformance(kind: str) -> None:
    options, column = SAMPLES[kind]
    dumped = options if isinstance(options, dict) else options.model_dump()  # type: ignore[attr-defined]
    pre = Preprocessor.from_dict({"type": kind, "name": "f", "options": dumped, "state": {}})
    pre.fit(column)
    out = pre.transform(column)
    meta = pre.meta()
    assert tuple(out.shape) == (len(column), *meta.shape)
    assert str(out.dtype) == f"torch.{meta.dtype}"
    if out.is_floating_point():
        assert torch.isfinite(out).all()
    else:
        assert meta.vocab_size is not None and int(out.max()) < meta.vocab_size
    # the fitted state is plain JSON and rebuilds an equal preprocessor
    again = Preprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    assert torch.equal(again.transform(column), out)
    assert again.meta() == meta


def test_numbers_are_standardised_on_training_values() -> None:
    pre = Preprocessor.from_dict(
        {"type": "number", "name": "x", "options": NumberPreprocessing().model_dump(), "state": {}}
    )
    pre.fit(pd.Series([0.0, 2.0, 4.0]))
    assert pre.transform(pd.Series([2.0, None])).flatten().tolist() == [0.0, 0.0]


def test_text_in_a_number_column_is_an_error_not_a_missing_value() -> None:
    pre = Preprocessor.from_dict(
        {"type": "number", "name": "x", "options": NumberPreprocessing().model_dump(), "state": {}}
    )
    with pytest.raises(DataError, match="row 2"):
        pre.fit(pd.Series(["1", "two", "3"]))


def test_unknown_categories_go_to_the_unknown_bucket() -> None:
    pre = Preprocessor.from_dict(
        {
            "type": "category",
            "name": "c",
            "options": CategoryPreprocessing().model_dump(),
            "state": {},
        }
    )
    pre.fit(pd.Series(["a", "b"]))
    assert pre.transform(pd.Series(["b", "zzz", None])).tolist() == [2, 0, 0]


def test_target_rejects_unseen_labels_and_round_trips() -> None:
    target = Target("y", "category")
    target.fit(pd.Series(["cat", "dog", "cat"]))
    assert target.labels == ["cat", "dog"]
    with pytest.raises(DataError, match="never seen in training: 'eel'"):
        target.encode(pd.Series(["cat", "eel"]), "test")
    again = Target.from_dict(json.loads(json.dumps(target.to_dict())))
    assert again.encode(pd.Series(["dog"])).tolist() == [1]


def test_binary_target_puts_the_positive_label_second() -> None:
    target = Target("y", "binary")
    target.fit(pd.Series(["bad", "good", "good"]), positive="bad")
    assert target.labels == ["good", "bad"]
    proba = target.probabilities(torch.tensor([[0.0], [10.0]]))
    assert proba[0].tolist() == [0.5, 0.5] and proba[1, 1] > 0.99
