"""Audio clips (file paths, the bytes of a file, or sample arrays) to spectrogram
frames ``(1, T, F)``: log-mel energies or MFCCs, one row per 10 ms hop by default.

Files are decoded with soundfile (libsndfile: WAV, FLAC, OGG, MP3, AIFF),
resampled with SciPy's polyphase filter when their rate differs, mixed down to
mono, padded with silence or trimmed to one length, and turned into frames in
batches with ``torch.stft``. A WAV file whose data chunk is shorter than its
header says is refused: libsndfile would read the part that is there.
"""

from __future__ import annotations

import io
import struct
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import soundfile
import torch
from scipy.fft import dct
from scipy.signal import resample_poly

from tailorml.errors import DataError
from tailorml.features.base import Preprocessor, register_preprocessor
from tailorml.features.meta import FeatureMeta

LOG_FLOOR = 1e-6  # added to mel energies before the log: silence stays finite
CHUNK_ROWS = 256  # clips per STFT batch: bounds memory on long columns


def clip_name(value: Any, row: int) -> str:
    """How an error names a clip: its path, or its row when it came as bytes."""
    return f"'{value}'" if isinstance(value, str | Path) else f"the clip in row {row + 1}"


def truncation(data: bytes) -> str | None:
    """Why a RIFF/WAVE file is cut short, or None when it is whole (or not a WAV).

    Walks the chunks after the ``WAVE`` tag to the ``data`` chunk and compares
    the size its header declares with the bytes that follow.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    at = 12
    while at + 8 <= len(data):
        tag, size = data[at : at + 4], struct.unpack("<I", data[at + 4 : at + 8])[0]
        if tag == b"data":
            held = len(data) - at - 8
            if size not in (0, 0xFFFFFFFF) and held < size:
                return (
                    f"truncated: its header declares {size:,} bytes of samples, it holds {held:,}"
                )
            return None
        at += 8 + size + size % 2  # chunks are padded to an even size
    return None


def decode(value: Any, name: str, row: int) -> tuple[np.ndarray, int]:
    """One clip as float32 samples ``(L, channels)`` and its sample rate.

    Raises:
        DataError: the file is missing, empty, not audio, truncated or silent-empty.
    """
    where = f"column '{name}', {clip_name(value, row)}"
    if isinstance(value, str | Path):
        try:
            data = Path(value).read_bytes()
        except OSError as err:
            raise DataError(f"{where}: cannot read the audio file ({err.strerror}).") from None
    elif isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
    else:
        got = type(value).__name__
        raise DataError(f"{where}: expected an audio file path or its bytes, got {got}.")
    if not data:
        raise DataError(f"{where}: the audio file is empty (0 bytes).")
    cut = truncation(data)
    if cut:
        raise DataError(f"{where}: the WAV file is {cut}.")
    try:
        samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (soundfile.SoundFileError, RuntimeError, TypeError) as err:
        reason = str(err).split(": ", 1)[-1]
        raise DataError(f"{where}: not a readable audio file ({reason}).") from None
    if len(samples) == 0:
        raise DataError(f"{where}: the audio file holds no samples.")
    return samples, int(rate)


def to_mono(samples: np.ndarray, rate: int, target: int, resample: bool, where: str) -> np.ndarray:
    """Samples ``(L, channels)`` at ``rate`` → mono ``(L',)`` at ``target`` Hz.

    Raises:
        DataError: another rate or several channels while ``resample`` is off.
    """
    if not resample and (rate != target or samples.shape[1] != 1):
        raise DataError(
            f"{where}: {samples.shape[1]} channel(s) at {rate:,} Hz, but the model takes mono "
            f"{target:,} Hz audio (set preprocessing.resample: true to convert clips)."
        )
    mono = samples.mean(axis=1)  # (L,)
    if rate != target:
        ratio = Fraction(target, rate).limit_denominator(1000)
        mono = resample_poly(mono, ratio.numerator, ratio.denominator).astype(np.float32)
    return mono


def mel_filterbank(n_mels: int, n_fft: int, rate: int) -> torch.Tensor:
    """Triangular filters on the HTK mel scale, 0 Hz to Nyquist: ``(n_fft // 2 + 1, n_mels)``."""
    mel = np.linspace(0.0, 2595.0 * np.log10(1.0 + rate / 2 / 700.0), n_mels + 2)
    edges = 700.0 * (10.0 ** (mel / 2595.0) - 1.0)  # (n_mels + 2,) Hz
    bins = np.linspace(0.0, rate / 2, n_fft // 2 + 1)[:, None]  # (n_fft // 2 + 1, 1)
    rising = (bins - edges[:-2]) / (edges[1:-1] - edges[:-2])
    falling = (edges[2:] - bins) / (edges[2:] - edges[1:-1])
    return torch.from_numpy(np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32))


def frames(waves: torch.Tensor, options: dict[str, Any], rate: int) -> torch.Tensor:
    """Waveforms ``(N, L)`` at ``rate`` Hz → log-mel or MFCC frames ``(N, T, F)``
    (not normalised)."""
    window = round(rate * options["window_ms"] / 1000)
    hop = max(1, round(rate * options["hop_ms"] / 1000))
    n_fft = 1 << max(0, (window - 1).bit_length())
    spectrum = torch.stft(
        waves, n_fft, hop_length=hop, win_length=window, window=torch.hann_window(window),
        center=True, return_complex=True,
    )  # (N, n_fft // 2 + 1, T)  # fmt: skip
    power = spectrum.abs().pow(2).transpose(1, 2)  # (N, T, n_fft // 2 + 1)
    log_mel = torch.log(power @ mel_filterbank(options["n_mels"], n_fft, rate) + LOG_FLOOR)
    if options["features"] == "log_mel":
        return log_mel  # (N, T, n_mels)
    coefficients = dct(log_mel.numpy(), type=2, norm="ortho", axis=-1)[..., : options["n_mfcc"]]
    return torch.from_numpy(np.ascontiguousarray(coefficients, dtype=np.float32))  # (N, T, n_mfcc)


@register_preprocessor
class AudioPreprocessor(Preprocessor):
    """Decodes, converts and frames clips; pads or trims them to one length.

    State: ``sample_rate`` (configured, or the first training clip's),
    ``samples`` (the length every clip is brought to, with ``length_from``
    ``config`` or ``training``, and the training clips it trimmed), and with
    ``normalize`` the per-feature ``mean`` / ``std`` of the training frames.
    """

    type = "audio"

    def clips(self, column: pd.Series) -> list[np.ndarray]:
        """Each clip as mono samples at the model's rate; while fitting with no
        rate configured, the first clip's rate becomes the model's.

        Raises:
            DataError: a clip cannot be read or converted (named), or sample
                arrays come with no rate configured.
        """
        out = []
        for row, value in enumerate(column):
            where = f"column '{self.name}', {clip_name(value, row)}"
            if isinstance(value, np.ndarray):  # samples, taken as at the model's rate
                if "sample_rate" not in self.state:
                    raise DataError(f"{where}: sample arrays need preprocessing.sample_rate.")
                out.append(np.asarray(value, dtype=np.float32).reshape(-1))
                continue
            samples, rate = decode(value, self.name, row)
            target = int(self.state.setdefault("sample_rate", rate))
            out.append(to_mono(samples, rate, target, self.options["resample"], where))
        return out

    def spectra(self, clips: list[np.ndarray]) -> torch.Tensor:
        """Clips padded with silence or trimmed to ``state["samples"]`` → frames
        ``(N, T, F)``, normalised where fitted."""
        width = int(self.state["samples"])
        waves = np.zeros((len(clips), width), dtype=np.float32)  # (N, L)
        for row, clip in enumerate(clips):
            waves[row, : min(width, len(clip))] = clip[:width]
        parts = [waves[i : i + CHUNK_ROWS] for i in range(0, max(len(waves), 1), CHUNK_ROWS)]
        feats = torch.cat([frames(torch.from_numpy(p), self.options, self.rate) for p in parts])
        if "mean" in self.state:
            feats = (feats - torch.tensor(self.state["mean"])) / torch.tensor(self.state["std"])
        return feats

    def fit(self, column: pd.Series) -> None:
        if len(column) == 0:
            raise DataError(f"column '{self.name}': no audio clips to learn from.")
        rate, duration = self.options["sample_rate"], self.options["duration"]
        self.state = {} if rate is None else {"sample_rate": rate}
        clips = self.clips(column)
        lengths = [len(c) for c in clips]
        if duration is None:
            samples, source = int(np.ceil(np.percentile(lengths, 99))), "training"
        else:
            samples, source = round(duration * self.rate), "config"
        trimmed = sum(n > samples for n in lengths)
        self.state |= {"samples": samples, "length_from": source, "trimmed_rows": trimmed}
        if self.options["normalize"]:
            feats = self.spectra(clips)  # (N, T, F)
            self.state["mean"] = feats.mean(dim=(0, 1)).tolist()
            self.state["std"] = feats.std(dim=(0, 1)).clamp(min=1e-5).tolist()

    def transform(self, column: pd.Series) -> torch.Tensor:
        return self.spectra(self.clips(column)).unsqueeze(1).contiguous()  # (N, 1, T, F)

    def meta(self) -> FeatureMeta:
        hop = max(1, round(self.rate * self.options["hop_ms"] / 1000))
        width = self.options["n_mels" if self.options["features"] == "log_mel" else "n_mfcc"]
        steps = 1 + int(self.state["samples"]) // hop  # torch.stft with center=True
        augment = self.options.get("spec_augment")
        return FeatureMeta(self.name, self.type, (1, steps, width), "float32", augment=augment)

    @property
    def rate(self) -> int:
        """The sample rate (Hz) the model hears."""
        return int(self.state["sample_rate"])

    @property
    def seconds(self) -> float:
        """The length every clip is brought to, in seconds."""
        return int(self.state["samples"]) / self.rate
