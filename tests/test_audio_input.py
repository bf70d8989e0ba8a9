"""Audio input: decoding, conversion, frames, the state saved with the model,
and bad clips refused with a message that names them."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import soundfile
import torch
import yaml

from tailorml.config.model import AudioPreprocessing
from tailorml.errors import DataError
from tailorml.features import Preprocessor
from tailorml.features.audio import AudioPreprocessor, mel_filterbank, truncation

RATE = 8000


def tone(hz: float, seconds: float = 0.5, rate: int = RATE, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wave = (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    return np.repeat(wave[:, None], channels, axis=1) if channels > 1 else wave


def wav_bytes(samples: np.ndarray, rate: int = RATE, format: str = "WAV") -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format=format, subtype="PCM_16")
    return buffer.getvalue()


def preprocessor(**options: Any) -> AudioPreprocessor:
    return AudioPreprocessor("clip", AudioPreprocessing(**options).model_dump())


def test_frames_have_the_configured_shape_and_are_normalised_on_training_rows() -> None:
    column = pd.Series([wav_bytes(tone(300 + 100 * i)) for i in range(6)])
    pre = preprocessor(sample_rate=RATE, duration=0.5, n_mels=32)
    pre.fit(column)
    frames = pre.transform(column)
    hop = RATE // 100
    assert frames.shape == (6, 1, 1 + 4000 // hop, 32)
    assert pre.meta().shape == tuple(frames.shape[1:])
    flat = frames[:, 0].reshape(-1, 32)
    assert torch.allclose(flat.mean(0), torch.zeros(32), atol=1e-4)
    assert pre.state["length_from"] == "config" and pre.state["trimmed_rows"] == 0


def test_mfcc_and_log_mel_widths() -> None:
    column = pd.Series([wav_bytes(tone(440))])
    pre = preprocessor(features="mfcc", n_mels=40, n_mfcc=13, normalize=False)
    pre.fit(column)
    assert pre.transform(column).shape[-1] == 13
    filters = mel_filterbank(40, 256, RATE)
    assert filters.shape == (129, 40) and bool((filters.sum(0) > 0).all())


def test_a_louder_band_shows_in_its_mel_bins() -> None:
    pre = preprocessor(sample_rate=RATE, normalize=False, n_mels=20)
    low, high = wav_bytes(tone(200)), wav_bytes(tone(3000))
    pre.fit(pd.Series([low, high]))
    frames = pre.transform(pd.Series([low, high]))[:, 0].mean(1)  # (2, F)
    assert int(frames[0].argmax()) < int(frames[1].argmax())


def test_dynamic_length_is_the_99th_percentile_and_recorded() -> None:
    lengths = [0.2] * 99 + [2.0]
    column = pd.Series([wav_bytes(tone(440, s)) for s in lengths])
    pre = preprocessor()
    pre.fit(column)
    assert pre.state["sample_rate"] == RATE  # from the first clip
    assert pre.state["length_from"] == "training"
    assert pre.state["samples"] < 2.0 * RATE and pre.state["trimmed_rows"] == 1


def test_state_round_trips_as_json() -> None:
    column = pd.Series([wav_bytes(tone(440)), wav_bytes(tone(880))])
    pre = preprocessor(spec_augment={})
    pre.fit(column)
    back = Preprocessor.from_dict(pre.to_dict())
    assert torch.equal(back.transform(column), pre.transform(column))
    assert back.meta() == pre.meta() and pre.meta().augment is not None


def test_other_rates_and_stereo_are_converted_when_resample_is_on() -> None:
    pre = preprocessor(sample_rate=RATE, duration=0.5)
    pre.fit(pd.Series([wav_bytes(tone(440))]))
    stereo = wav_bytes(tone(440, rate=44100, channels=2), rate=44100)
    converted = pre.transform(pd.Series([stereo]))
    original = pre.transform(pd.Series([wav_bytes(tone(440))]))
    assert converted.shape == original.shape
    assert float((converted - original).abs().mean()) < 0.2


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty"),
        (b"this is a text file, not audio " * 10, "not a readable audio file"),
        (wav_bytes(tone(440))[:2000], "truncated"),
        (wav_bytes(np.zeros(0, dtype=np.float32)), "no samples"),
    ],
    ids=["empty", "not-audio", "truncated", "no-samples"],
)
def test_bad_clips_are_refused_with_their_name(tmp_path: Path, data: bytes, expected: str) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(data)
    pre = preprocessor(sample_rate=RATE)
    with pytest.raises(DataError, match=expected) as err:
        pre.fit(pd.Series([wav_bytes(tone(440)), str(path)]))
    assert str(path) in str(err.value) and "column 'clip'" in str(err.value)


def test_wrong_rate_or_stereo_refused_when_resample_is_off() -> None:
    pre = preprocessor(sample_rate=RATE, resample=False)
    pre.fit(pd.Series([wav_bytes(tone(440))]))
    for clip in (wav_bytes(tone(440, rate=44100), 44100), wav_bytes(tone(440, channels=2))):
        with pytest.raises(DataError, match="resample: true") as err:
            pre.transform(pd.Series([clip]))
        assert "row 1" in str(err.value)


def test_truncation_reads_the_data_chunk_size() -> None:
    whole = wav_bytes(tone(440))
    assert truncation(whole) is None
    assert truncation(whole[:-10]) is not None
    assert truncation(wav_bytes(tone(440), format="FLAC")) is None  # not a WAV: not judged


def test_spec_augment_masks_in_training_only() -> None:
    from tailorml.config.model import SpecAugmentOptions
    from tailorml.models.augment import SpecAugment

    options = SpecAugmentOptions(freq_masks=1, freq_width=3, time_masks=1, time_width=4)
    augment = SpecAugment(options)
    x = torch.ones(8, 1, 20, 10)
    torch.manual_seed(0)
    masked = augment.train()(x)
    zero_bins = (masked[:, 0] == 0).all(dim=1).sum(dim=1)  # (B,) fully masked bins
    zero_frames = (masked[:, 0] == 0).all(dim=2).sum(dim=1)  # (B,) fully masked frames
    assert bool((zero_bins <= 3).all()) and bool((zero_frames <= 4).all())
    assert not torch.equal(masked, x)
    assert torch.equal(augment.eval()(x), x)


BROKEN = {
    "empty": (b"", "empty"),
    "not-audio": (b"<html>not audio at all</html>" * 20, "not a readable audio file"),
    "truncated": (wav_bytes(tone(440))[:1000], "truncated"),
    "stereo-44k": (wav_bytes(tone(440, rate=44100, channels=2), 44100), "resample: true"),
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_train_cli_names_a_broken_clip_and_exits_2(tmp_path: Path, cli: Any, kind: str) -> None:
    clips = []
    for i in range(20):
        path = tmp_path / f"{i % 2}_{i}.wav"
        path.write_bytes(wav_bytes(tone(300 if i % 2 else 900)))
        clips.append((str(path), i % 2))
    data, expected = BROKEN[kind]
    broken = tmp_path / "broken.wav"
    broken.write_bytes(data)
    clips.append((str(broken), 0))
    pd.DataFrame(clips, columns=["audio", "label"]).to_csv(tmp_path / "clips.csv", index=False)
    preprocessing = {"sample_rate": RATE, "resample": False}
    config = {
        "data": {"source": str(tmp_path / "clips.csv"), "target": "label"},
        "input_features": [{"name": "audio", "type": "audio", "preprocessing": preprocessing,
                            "encoder": {"name": "frames"}}],
        "output_features": [{"name": "label", "type": "category"}],
        "training": {"epochs": 1},
    }  # fmt: skip
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = cli("train", str(tmp_path / "config.yaml"), "--output", str(tmp_path / "run"))
    assert result.returncode == 2, result.stderr
    assert "broken.wav" in result.stderr and expected in result.stderr
    assert "Traceback" not in result.stderr
