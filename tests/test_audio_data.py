"""Audio data: the built-in Free Spoken Digit Dataset and audio folders (by class or by
a file-name pattern)."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile

from tailorml.data import builtin as builtin_module
from tailorml.data import load_builtin, read_source
from tailorml.data.readers import read_audio_folder
from tailorml.errors import DataError

# ---------------------------------------------------------------- builtin:fsdd


@pytest.fixture(scope="module")
def fsdd() -> dict[str, pd.DataFrame]:
    return read_source("builtin:fsdd").frames


def test_fsdd_official_split_and_columns(fsdd: dict[str, pd.DataFrame]) -> None:
    train, test = fsdd["train"], fsdd["test"]
    assert (len(train), len(test)) == (2100, 300)
    for frame in (train, test):
        assert list(frame.columns) == ["audio", "digit", "speaker", "index"]
        assert frame["digit"].dtype == np.int64 and frame["index"].dtype == np.int64
        assert all(isinstance(clip, bytes) and clip[:4] == b"fLaC" for clip in frame["audio"])
        assert all(isinstance(name, str) for name in frame["speaker"])
    both = pd.concat([train, test], ignore_index=True)
    assert sorted(both["digit"].unique()) == list(range(10))
    assert both["speaker"].nunique() == 6
    assert both.groupby(["digit", "speaker"]).size().eq(40).all()  # recordings 0-39 ship
    assert set(test["index"]) == set(range(5)) and set(train["index"]) == set(range(5, 40))
    assert not both.duplicated(["digit", "speaker", "index"]).any()


def test_fsdd_clip_decodes_to_8khz_mono(fsdd: dict[str, pd.DataFrame]) -> None:
    row = fsdd["test"].iloc[0]
    samples, rate = soundfile.read(io.BytesIO(row["audio"]), dtype="int16")
    assert rate == 8000 and samples.ndim == 1 and samples.size > 0
    assert np.abs(samples).max() > 0  # not silence


def test_fsdd_credit_names_the_licence() -> None:
    data = load_builtin("fsdd")
    assert data.name == "builtin:fsdd" and "CC BY-SA 4.0" in data.notes[0]
    licences = (builtin_module.FILES_DIR / "LICENSES.md").read_text()
    assert "## fsdd" in licences and "Jakobovski" in licences


def test_corrupt_fsdd_file_fails_sha_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "files"
    copy.mkdir()
    for name in ("MANIFEST.json", "fsdd.npz"):
        shutil.copy(builtin_module.FILES_DIR / name, copy / name)
    raw = bytearray((copy / "fsdd.npz").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (copy / "fsdd.npz").write_bytes(bytes(raw))
    monkeypatch.setattr(builtin_module, "FILES_DIR", copy)
    with pytest.raises(DataError, match=r"fsdd\.npz.*SHA-256.*corrupt"):
        load_builtin("fsdd")


# -------------------------------------------------------------- audio folders


def clip(path: Path, seconds: float = 0.1, rate: int = 8000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    samples = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
    soundfile.write(path, samples, rate, format=path.suffix.lstrip(".").upper())
    return path


def test_audio_folder_by_class(tmp_path: Path) -> None:
    for name in ("yes/b.wav", "yes/a.flac", "no/c.WAV", "no/.hidden.wav"):
        clip(tmp_path / name)
    (tmp_path / "no" / "notes.txt").write_text("not a clip")
    frame = read_audio_folder(tmp_path)
    assert list(frame.columns) == ["audio", "label"]
    assert frame["label"].tolist() == ["no", "yes", "yes"]
    assert [Path(p).name for p in frame["audio"]] == ["c.WAV", "a.flac", "b.wav"]
    assert all(Path(p).is_absolute() and isinstance(p, str) for p in frame["audio"])
    # format auto: class folders of clips are read as audio, not as images
    data = read_source(str(tmp_path))
    pd.testing.assert_frame_equal(data.frames["all"], frame)
    forced = read_source(str(tmp_path), format="audio").frames["all"]
    pd.testing.assert_frame_equal(forced, frame)


def test_audio_folder_by_pattern(tmp_path: Path) -> None:
    for name in ("3_theo_12.wav", "0_jackson_7.wav", "3_theo_2.wav"):
        clip(tmp_path / name)
    (tmp_path / "README.md").write_text("clips")
    (tmp_path / ".9_x_1.wav").write_bytes(b"hidden")
    pattern = "{digit}_{speaker}_{index}.wav"
    frame = read_source(str(tmp_path), format="audio", pattern=pattern).frames["all"]
    assert list(frame.columns) == ["audio", "digit", "speaker", "index"]
    assert [Path(p).name for p in frame["audio"]] == ["0_jackson_7.wav", "3_theo_12.wav",
                                                      "3_theo_2.wav"]  # fmt: skip
    assert frame["digit"].dtype == np.int64 and frame["index"].dtype == np.int64
    assert frame["digit"].tolist() == [0, 3, 3] and frame["index"].tolist() == [7, 12, 2]
    assert frame["speaker"].tolist() == ["jackson", "theo", "theo"]
    # with a pattern, format auto reads the folder as audio too
    auto = read_source(str(tmp_path), pattern=pattern).frames["all"]
    pd.testing.assert_frame_equal(auto, frame)


def test_pattern_field_with_mixed_values_stays_text(tmp_path: Path) -> None:
    for name in ("a-01.wav", "a-x2.wav"):
        clip(tmp_path / name)
    frame = read_audio_folder(tmp_path, "{group}-{take}.wav")
    assert frame["take"].tolist() == ["01", "x2"] and frame["group"].tolist() == ["a", "a"]


def test_name_not_matching_pattern_names_file_and_pattern(tmp_path: Path) -> None:
    clip(tmp_path / "1_theo_0.wav")
    clip(tmp_path / "recording.wav")
    with pytest.raises(DataError, match=r"recording\.wav.*\{digit\}_\{speaker\}_\{index\}"):
        read_audio_folder(tmp_path, "{digit}_{speaker}_{index}.wav")


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("clip.wav", "no {field}"),
        ("{digit}{index}.wav", "no text between"),
        ("{digit}_{digit}.wav", "twice"),
        ("{audio}_{index}.wav", "'audio'"),
        ("{0}_{index}.wav", "field"),
        ("{digit:02d}.wav", "format"),
        ("{digit.wav", "malformed"),
        ("sub/{digit}.wav", "separator"),
    ],
)
def test_bad_pattern_is_a_clear_error(tmp_path: Path, pattern: str, why: str) -> None:
    clip(tmp_path / "1_theo_0.wav")
    with pytest.raises(DataError, match=re.escape(f"pattern '{pattern}'") + ".*" + re.escape(why)):
        read_audio_folder(tmp_path, pattern)


def test_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "yes").mkdir()
    (tmp_path / "yes" / "notes.txt").write_text("no clips")
    named = re.escape(f"'{tmp_path.resolve()}' holds no audio files")
    with pytest.raises(DataError, match=named):
        read_audio_folder(tmp_path)
    with pytest.raises(DataError, match=named):
        read_audio_folder(tmp_path, "{digit}.wav")
    with pytest.raises(DataError, match="does not exist"):
        read_audio_folder(tmp_path / "missing")


def test_clips_outside_class_folders_suggest_a_pattern(tmp_path: Path) -> None:
    clip(tmp_path / "1_theo_0.wav")
    with pytest.raises(DataError, match=r"1_theo_0\.wav.*sub-folder per class.*pattern"):
        read_audio_folder(tmp_path)
    with pytest.raises(DataError, match="pattern"):
        read_source(str(tmp_path))  # format auto: read as audio, so the same advice


def test_auto_format_keeps_image_folders(tmp_path: Path) -> None:
    from PIL import Image

    (tmp_path / "cat").mkdir()
    Image.new("L", (4, 4)).save(tmp_path / "cat" / "a.png")
    assert list(read_source(str(tmp_path)).frames["all"].columns) == ["image", "label"]
    with pytest.raises(DataError, match="pattern.*read as images"):
        read_source(str(tmp_path), format="images", pattern="{digit}.wav")


def test_audio_format_needs_a_folder(tmp_path: Path) -> None:
    path = clip(tmp_path / "one.wav")
    with pytest.raises(DataError, match="format 'audio' needs a folder"):
        read_source(str(path), format="audio")
