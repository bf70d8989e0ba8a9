"""Audio networks shipped and explained: ONNX parity of the frames, cnn and rnn
encoders on spectrograms, Integrated Gradients over time × frequency and their
page, the linear model on MFCC statistics, SpecAugment in training only, and
seeded training with SpecAugment that repeats itself.

The clips are synthetic: 200 WAV files of a noisy tone whose pitch is the class.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import soundfile
import torch

import tailorml
from tailorml.audit.explain import AUDIO_CELLS, explain_rows, feature_entry
from tailorml.config import as_config
from tailorml.config.model import SpecAugmentOptions
from tailorml.features import FeatureSet
from tailorml.models import family_named
from tailorml.models.augment import SpecAugment
from tailorml.records.explanations import AudioAttribution, ExplanationsRecord
from tailorml.report.explain import write_explanations
from tailorml.runs.bundle import Bundle
from tailorml.runs.run import Run, load
from tailorml.ship.onnx import OnnxModel, export_onnx

RATE = 8000
TONES = (300, 700, 1100, 1500)  # Hz, one per class
N_MELS, STEPS = 16, 51  # 0.5 s at a 10 ms hop, centred frames: 1 + 4000 // 80
AUGMENT = {"freq_masks": 2, "freq_width": 3, "time_masks": 2, "time_width": 5}
ENCODERS: dict[str, dict[str, Any]] = {
    "frames": {"name": "frames", "channels": [8, 8]},
    "cnn": {"name": "cnn", "output": "global_avg",
            "conv_layers": [{"filters": 4, "kernel_size": 3, "pool_size": 2}]},
    "rnn": {"name": "rnn", "cell": "gru", "embedding_size": 8, "hidden_size": 8},
}  # fmt: skip


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CSV of 200 clips (0.3-0.5 s, 8 kHz mono WAV) and their class."""
    folder = tmp_path_factory.mktemp("clips")
    rng = np.random.default_rng(0)
    rows = []
    for i in range(200):
        label = i % len(TONES)
        t = np.arange(int(RATE * rng.uniform(0.3, 0.5))) / RATE
        wave = 0.5 * np.sin(2 * np.pi * TONES[label] * t) + 0.05 * rng.standard_normal(len(t))
        path = folder / f"clip{i:03d}.wav"
        soundfile.write(path, wave.astype(np.float32), RATE, subtype="PCM_16")
        rows.append({"audio": str(path), "tone": f"t{label}"})
    pd.DataFrame(rows).to_csv(folder / "clips.csv", index=False)
    return folder / "clips.csv"


def audio_config(source: Path, encoder: dict[str, Any]) -> dict[str, Any]:
    return {
        "data": {"source": str(source), "target": "tone"},
        "input_features": [{
            "name": "audio", "type": "audio", "encoder": encoder,
            "preprocessing": {"sample_rate": RATE, "duration": 0.5, "n_mels": N_MELS,
                              "spec_augment": AUGMENT},
        }],
        "output_features": [{"name": "tone", "type": "category"}],
        "decoder": {"hidden": [8]},
        "training": {"epochs": 2, "batch_size": 32, "learning_rate": 0.01, "seed": 0},
    }  # fmt: skip


@pytest.fixture(scope="module")
def runs(clips: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """One 2-epoch run per encoder, trained when first asked for."""
    folder = tmp_path_factory.mktemp("runs")

    class Runs(dict[str, Run]):
        def __missing__(self, name: str) -> Run:
            config = audio_config(clips, ENCODERS[name])
            self[name] = tailorml.train(config, folder / name, quiet=True)
            return self[name]

    return Runs()


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
def test_export_matches_pytorch(encoder: str, runs: dict[str, Run], clips: Path) -> None:
    run = runs[encoder]
    assert run.path is not None
    report = export_onnx(run.path, quantize="int8")
    assert report["inputs"][0]["shape"] == ["batch", 1, STEPS, N_MELS]
    assert report["parity"]["rows"] == 40  # the test split
    assert report["parity"]["max_abs_diff"] <= 1e-4
    assert report["int8"]["rows"] == 40 and abs(report["int8"]["change"]) <= 0.2
    # the exported network read back gives the bundle's outputs on other clips
    rows = pd.read_csv(clips).iloc[:9]
    encoded = load(run.path).bundle.features.encode(rows, "check", with_target=False)
    onnx = OnnxModel(run.path / "model").outputs(encoded.inputs)
    expected = run.outputs(encoded).detach().numpy()
    np.testing.assert_allclose(onnx, expected, rtol=0, atol=1e-4)


def test_integrated_gradients_cover_time_and_frequency(runs: dict[str, Run], clips: Path) -> None:
    rows = pd.read_csv(clips).iloc[:4]
    explanations = explain_rows(runs["frames"], rows, n_steps=50)
    for explanation in explanations:
        audio = explanation.features["audio"]
        assert isinstance(audio, AudioAttribution) and audio.band_kind == "mel"
        scores = np.asarray(audio.map)
        assert scores.shape == np.asarray(audio.frames).shape == (STEPS, N_MELS)
        assert audio.step_seconds == pytest.approx(0.01)
        np.testing.assert_allclose(audio.bands, scores.sum(0), rtol=1e-4, atol=1e-6)
        # completeness, as for images: the map adds up to the output minus the baseline's
        gain = explanation.output - explanation.baseline_output
        assert scores.sum() == pytest.approx(gain, rel=0.05)
        assert audio.score == pytest.approx(scores.sum(), rel=1e-4)
    assert [e.prediction for e in explanations] == list(runs["frames"].predict(rows)["prediction"])


def test_page_draws_a_heatmap_per_clip(runs: dict[str, Run], clips: Path) -> None:
    run = runs["frames"]
    assert run.path is not None
    record = ExplanationsRecord(
        rows=explain_rows(run, pd.read_csv(clips).iloc[:2], n_steps=10),
        permutation_importance=None,
    )
    text = write_explanations(run.path, record).read_text()
    assert text.count("<svg") == 2
    assert "time (s)" in text and "mel band" in text and "log-mel spectrogram" in text
    saved = ExplanationsRecord.read(run.path / "explanations.json")
    assert isinstance(saved.rows[0].features["audio"], AudioAttribution)


def test_a_long_clip_map_is_summed_into_fewer_steps(runs: dict[str, Run]) -> None:
    """Steps grouped so that a row keeps at most AUDIO_CELLS values; the total stays."""
    pre = runs["frames"].bundle.features.inputs[0]
    attribution = np.random.default_rng(0).standard_normal((1, 1000, N_MELS))  # 10 s
    frames = np.ones((1, 1000, N_MELS))
    audio = feature_entry(pre, None, frames, attribution)
    assert isinstance(audio, AudioAttribution)
    group = -(-1000 * N_MELS // AUDIO_CELLS)  # 2
    assert np.asarray(audio.map).shape == (-(-1000 // group), N_MELS)
    assert np.asarray(audio.map).size <= AUDIO_CELLS
    assert np.asarray(audio.map).sum() == pytest.approx(attribution.sum(), abs=1e-3)
    assert np.asarray(audio.frames) == pytest.approx(1.0)  # frames averaged, not summed
    assert audio.step_seconds == pytest.approx(0.01 * group)


def test_linear_model_on_mfcc_statistics_scores_the_clip(clips: Path, tmp_path: Path) -> None:
    """The match's baseline: one exact score per clip, split over the coefficients."""
    rows = pd.read_csv(clips)
    family = family_named("linear")
    params = {"C": 1.0, "preprocessing": {"audio": {"features": "mfcc", "n_mfcc": 13}}}
    config = family.config_for(as_config(audio_config(clips, ENCODERS["frames"])), params, 0)
    features = FeatureSet.fit(config, rows)
    model = family.build(config, features, params)
    family.fit(model, features.encode(rows, "train"), None, config, None)
    run = Run(Bundle(config, features, model, "linear", params), tmp_path)
    for explanation in explain_rows(run, rows.iloc[:3]):
        audio = explanation.features["audio"]
        assert isinstance(audio, AudioAttribution) and audio.map is None and audio.frames is None
        assert audio.band_kind == "mfcc" and len(audio.bands) == 13
        assert explanation.convergence_delta is None  # exact
        assert audio.score + explanation.baseline_output == pytest.approx(explanation.output)
        assert sum(audio.bands) == pytest.approx(audio.score, rel=1e-4, abs=1e-6)
    record = ExplanationsRecord(rows=explain_rows(run, rows.iloc[:1]), permutation_importance=None)
    assert "MFCC coefficient" in write_explanations(tmp_path, record).read_text()


def masked(before: torch.Tensor, after: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Which frames ``(B, T)`` and bands ``(B, F)`` of each clip were zeroed whole."""
    zero = (after == 0) & (before != 0)  # (B, 1, T, F)
    return zero[:, 0].all(2), zero[:, 0].all(1)


def longest_run(flags: torch.Tensor) -> int:
    """The longest stretch of True in a 1-D mask."""
    best = run = 0
    for flag in flags.tolist():
        run = run + 1 if flag else 0
        best = max(best, run)
    return best


def test_spec_augment_masks_in_training_only_within_its_widths() -> None:
    x = torch.rand(64, 1, STEPS, N_MELS) + 1.0  # no zero before masking
    augment = SpecAugment(SpecAugmentOptions.model_validate(AUGMENT))
    torch.manual_seed(0)
    first, second = augment.train()(x), augment(x)
    assert not torch.equal(first, second)  # new masks each call
    assert torch.equal(augment.eval()(x), x) and torch.equal(augment(x), augment(x))
    frames, bands = masked(x, first)
    assert bands.any() and frames.any()
    # a zero is inside a masked frame or band: masks are whole spans
    assert torch.equal(first == 0, (frames[:, :, None] | bands[:, None, :]).unsqueeze(1))
    assert int(bands.sum(1).max()) <= AUGMENT["freq_masks"] * AUGMENT["freq_width"]
    assert int(frames.sum(1).max()) <= AUGMENT["time_masks"] * AUGMENT["time_width"]
    single = SpecAugment(SpecAugmentOptions(freq_masks=1, freq_width=3, time_masks=1, time_width=5))
    frames, bands = masked(x, single.train()(x))
    assert max(longest_run(row) for row in bands) <= 3
    assert max(longest_run(row) for row in frames) <= 5


def test_the_network_augments_in_training_only(runs: dict[str, Run], clips: Path) -> None:
    run = runs["frames"]
    model = run.bundle.model
    encoded = run.bundle.features.encode(pd.read_csv(clips).iloc[:8], "check")
    x = encoded.inputs["audio"]
    try:
        model.train()
        assert not torch.equal(model.augmented("audio", x), model.augmented("audio", x))
        model.eval()
        assert torch.equal(model.augmented("audio", x), x)
        assert torch.equal(run.outputs(encoded), run.outputs(encoded))
    finally:
        model.eval()


def test_seeded_training_with_spec_augment_repeats_itself(
    runs: dict[str, Run], clips: Path, tmp_path: Path
) -> None:
    first = runs["frames"]
    again = tailorml.train(audio_config(clips, ENCODERS["frames"]), tmp_path / "again", quiet=True)
    assert first.path is not None

    def metrics(folder: Path) -> dict[str, Any]:
        saved = json.loads((folder / "metrics.json").read_text())
        timing = ("seconds", "wall_seconds", "samples_per_s")
        saved["train"] = {k: v for k, v in saved["train"].items() if k not in timing}
        return saved

    assert metrics(first.path) == metrics(tmp_path / "again")
    weights, other = first.bundle.model.state_dict(), again.bundle.model.state_dict()
    assert all(torch.equal(weights[k], other[k]) for k in weights)
