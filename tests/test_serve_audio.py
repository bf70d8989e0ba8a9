"""The prediction service for audio models: clips as base64 in JSON or as files in a
multipart upload, answered as ``Run.predict`` answers them; every bad clip a 4xx
naming the field (and the file); the size and duration limits; the API key,
metrics and batching as for JSON; the OpenAPI schema; the playground's recorder
in a real browser (Chromium with a fake microphone playing a spoken digit)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import schemathesis
import soundfile
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from PIL import Image
from schemathesis import GenerationMode

import tailorml
from serve_runs import Server
from tailorml.data import load_builtin
from tailorml.errors import TailorError
from tailorml.serve import ServeSettings, create_app
from tailorml.serve.rows import ApiError, RowReader, Upload
from tailorml.serve.schema import AudioSpec, InputField

RATE = 8000  # FSDD's rate, and the models'
PER_DIGIT = 12  # training clips per digit: 120 in all, enough for a tiny model


# ---------------------------------------------------------------- runs and clips


def wav(samples: np.ndarray, rate: int = RATE, fmt: str = "WAV") -> bytes:
    """A 16-bit file of float samples (L,) or (L, channels)."""
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format=fmt, subtype="PCM_16")
    return buffer.getvalue()


def tone(seconds: float, rate: int = RATE, channels: int = 1, hz: float = 440.0) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    wave = (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    return wave if channels == 1 else np.stack([wave] * channels, axis=1)


@pytest.fixture(scope="module")
def clips() -> list[bytes]:
    """Spoken digits from FSDD's test split, 8 kHz mono, as WAV files: 0, 1, 2, …"""
    test = load_builtin("fsdd").frames["test"]
    chosen = test.groupby("digit").head(1).sort_values("digit")
    return [wav(soundfile.read(io.BytesIO(b), dtype="float32")[0]) for b in chosen["audio"]]


def audio_config(source: Path, resample: bool) -> dict[str, Any]:
    return {
        "data": {"source": str(source), "target": "digit"},
        "input_features": [{
            "name": "audio", "type": "audio",
            "preprocessing": {"sample_rate": RATE, "duration": 0.5, "resample": resample},
            "encoder": {"name": "frames", "channels": [8]},
        }],
        "output_features": [{"name": "digit", "type": "category"}],
        "training": {"epochs": 2, "seed": 0},
    }  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two tiny runs on 120 FSDD clips written as WAV files (a CSV of their paths):
    ``strict`` refuses other rates and stereo (resample: false), ``resampling``
    converts them."""
    base = tmp_path_factory.mktemp("audio-serve")
    train = load_builtin("fsdd").frames["train"]
    picked = train.groupby("digit").head(PER_DIGIT).reset_index(drop=True)
    paths = []
    for i, flac in enumerate(picked["audio"]):
        samples, rate = soundfile.read(io.BytesIO(flac), dtype="int16")
        path = base / "clips" / f"{i}.wav"
        path.parent.mkdir(exist_ok=True)
        soundfile.write(path, samples, rate)
        paths.append(str(path))
    source = base / "clips.csv"
    pd.DataFrame({"audio": paths, "digit": picked["digit"]}).to_csv(source, index=False)
    out = {}
    for name, resample in (("strict", False), ("resampling", True)):
        out[name] = base / name
        tailorml.train(audio_config(source, resample), out[name], quiet=True)
    return out


@pytest.fixture(scope="module")
def strict(runs: dict[str, Path]) -> Iterator[TestClient]:
    with TestClient(create_app(runs["strict"])) as client:
        yield client


@pytest.fixture(scope="module")
def resampling(runs: dict[str, Path]) -> Iterator[TestClient]:
    with TestClient(create_app(runs["resampling"])) as client:
        yield client


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def upload(data: bytes, name: str = "clip.wav") -> dict[str, Any]:
    return {"audio": (name, data, "audio/wav")}


def expected(run: Path, clips: list[bytes]) -> pd.DataFrame:
    return tailorml.load(run).predict(pd.DataFrame({"audio": pd.Series(clips, dtype=object)}))


def assert_same(predictions: list[dict[str, Any]], frame: pd.DataFrame) -> None:
    assert [p["label"] for p in predictions] == [str(v) for v in frame["prediction"]]
    for p, (_, row) in zip(predictions, frame.iterrows(), strict=True):
        for label, probability in p["probabilities"].items():
            assert probability == pytest.approx(row[f"probability_{label}"], abs=1e-5)


def detail(response: httpx.Response, status: int = 422) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail", "errors"} and "Traceback" not in response.text
    return str(body["detail"])


def metric(app: FastAPI, name: str, **labels: str) -> float:
    value = app.state.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else float(value)


# ---------------------------------------------------------------- predictions


def test_base64_json_predictions_are_run_predict(
    strict: TestClient, runs: dict[str, Path], clips: list[bytes]
) -> None:
    flac = wav(soundfile.read(io.BytesIO(clips[3]))[0], fmt="FLAC")
    rows = [{"audio": b64(clips[0])}, {"audio": b64(flac)},
            {"audio": "data:audio/wav;base64," + b64(clips[7])}]  # fmt: skip
    response = strict.post("/predict", json={"rows": rows})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert len(predictions) == 3 and len(predictions[0]["probabilities"]) == 10
    assert_same(predictions, expected(runs["strict"], [clips[0], flac, clips[7]]))


def test_multipart_upload_answers_as_json_does(strict: TestClient, clips: list[bytes]) -> None:
    by_json = strict.post("/predict", json={"rows": [{"audio": b64(clips[5])}]})
    by_upload = strict.post("/predict", files=upload(clips[5], "five.wav"))
    assert by_upload.status_code == 200, by_upload.text
    assert by_upload.json() == by_json.json()
    explained = strict.post("/explain", files=upload(clips[5]))
    assert explained.status_code == 200, explained.text
    assert explained.json()["explanations"][0]["features"]["audio"]["type"] == "audio"


def test_a_44khz_stereo_clip_is_converted_when_the_model_resamples(
    resampling: TestClient, runs: dict[str, Path], clips: list[bytes]
) -> None:
    samples = soundfile.read(io.BytesIO(clips[2]), dtype="float32")[0]
    up = np.interp(np.arange(len(samples) * 441 // 80) * 80 / 441, np.arange(len(samples)), samples)
    stereo = wav(np.stack([up, up], axis=1), 44100)
    response = resampling.post("/predict", files=upload(stereo, "two.wav"))
    assert response.status_code == 200, response.text
    assert_same(response.json()["predictions"], expected(runs["resampling"], [stereo]))
    as_json = resampling.post("/predict", json={"rows": [{"audio": b64(stereo)}]})
    assert as_json.json() == response.json()


def test_ogg_vorbis_is_read_too(strict: TestClient, clips: list[bytes]) -> None:
    samples = soundfile.read(io.BytesIO(clips[6]), dtype="float32")[0]
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, RATE, format="OGG", subtype="VORBIS")
    response = strict.post("/predict", files={"audio": ("six.ogg", buffer.getvalue(), "audio/ogg")})
    assert response.status_code == 200, response.text


# ---------------------------------------------------------------- bad clips


def truncated(clip: bytes) -> bytes:
    return clip[: len(clip) // 2]


BAD_CLIPS = {  # what is wrong → (the file's bytes from a good clip, what the message says)
    "empty": (lambda clip: b"", "empty (0 bytes)"),
    "text named .wav": (lambda clip: b"these are not the samples you want\n" * 4,
                        "not a readable audio file"),
    "truncated WAV": (truncated, "truncated"),
    "stereo": (lambda clip: wav(tone(0.5, channels=2)), "2 channel(s) at 8,000 Hz"),
    "44.1 kHz": (lambda clip: wav(tone(0.5, 44100), 44100), "1 channel(s) at 44,100 Hz"),
    "header only": (lambda clip: wav(np.zeros(0, np.float32)), "no samples"),
}  # fmt: skip


@pytest.mark.parametrize("problem", list(BAD_CLIPS))
def test_bad_clips_get_422_naming_the_field_and_file(
    strict: TestClient, clips: list[bytes], problem: str
) -> None:
    make, says = BAD_CLIPS[problem]
    data = make(clips[1])
    message = detail(strict.post("/predict", files=upload(data, "bad.wav")))
    assert message.startswith("audio (file 'bad.wav'): ") and says in message, message
    rows = [{"audio": b64(clips[0])}, {"audio": b64(data)}]
    response = strict.post("/predict", json={"rows": rows})
    message = detail(response)
    assert message.startswith("rows[1].audio: ") and says in message, message
    assert response.json()["errors"][0]["loc"] == ["rows", 1, "audio"]
    assert "\n" not in message


def test_a_model_that_does_not_resample_says_how_to_convert(
    strict: TestClient, resampling: TestClient
) -> None:
    clip = wav(tone(0.5, 44100, channels=2), 44100)
    message = detail(strict.post("/predict", files=upload(clip, "loud.wav")))
    assert "mono 8,000 Hz" in message and "resample: false" in message
    assert resampling.post("/predict", files=upload(clip)).status_code == 200


@pytest.mark.parametrize(
    ("value", "says"),
    [("not base64!", "not valid base64"), ("QUJD=x", "not valid base64"),
     (12, "expected an audio file"), (None, "expected an audio file")],
)  # fmt: skip
def test_bad_base64_values_get_422_naming_row_and_field(
    strict: TestClient, clips: list[bytes], value: Any, says: str
) -> None:
    rows = [{"audio": b64(clips[0])}, {"audio": value}]
    message = detail(strict.post("/predict", json={"rows": rows}))
    assert message.startswith("rows[1].audio: ") and says in message, message


def test_a_text_value_is_never_read_as_a_path(strict: TestClient, runs: dict[str, Path]) -> None:
    on_server = next((runs["strict"].parent / "clips").glob("*.wav"))
    for value in (str(on_server), b64(str(on_server).encode())):
        message = detail(strict.post("/predict", json={"rows": [{"audio": value}]}))
        assert message.startswith("rows[0].audio: ")


def test_bad_forms_get_422_naming_the_form_field(strict: TestClient, clips: list[bytes]) -> None:
    extra = strict.post("/predict", files=upload(clips[0]), data={"audoi": "x"})
    assert "unknown form field 'audoi'" in detail(extra) and "'audio'" in detail(extra)
    text_part = strict.post("/predict", files={"audio": (None, b64(clips[0]))})
    assert detail(text_part).startswith("audio: send the audio as a file part")
    empty = strict.post("/predict", content=b"--xyz--\r\n",
                        headers={"Content-Type": "multipart/form-data; boundary=xyz"})  # fmt: skip
    assert detail(empty).startswith("the form has no field 'audio'")
    twice = strict.post("/predict", files=[("audio", ("a.wav", clips[0])),
                                           ("audio", ("b.wav", clips[1]))])  # fmt: skip
    assert "comes twice" in detail(twice)
    urlencoded = strict.post("/predict", data={"audio": "x"})
    assert "url-encoded form cannot hold a file" in detail(urlencoded)
    broken = strict.post("/predict", content=b"--xyz\r\nnonsense",
                         headers={"Content-Type": "multipart/form-data; boundary=xyz"})  # fmt: skip
    assert detail(broken)


# ---------------------------------------------------------------- limits


def test_clips_over_the_size_limit_get_413_naming_the_field(
    runs: dict[str, Path], clips: list[bytes]
) -> None:
    small, over, huge = wav(tone(0.2)), wav(tone(0.53)), wav(tone(1.0))
    assert (len(small), len(over), len(huge)) == (3244, 8524, 16044)
    app = create_app(runs["strict"], ServeSettings(max_audio_bytes=8000, max_body_bytes=1000))
    with TestClient(app) as client:
        assert client.post("/predict", files=upload(small)).status_code == 200
        assert client.post("/predict", json={"rows": [{"audio": b64(small)}]}).status_code == 200
        # the body limit has room for one clip as base64: the clip's own limit speaks
        message = detail(client.post("/predict", files=upload(over, "long.wav")), 413)
        assert message == ("audio (file 'long.wav'): the clip is 8,524 bytes, above the "
                           "service's limit of 8,000 bytes per clip.")  # fmt: skip
        message = detail(client.post("/predict", json={"rows": [{"audio": b64(over)}]}), 413)
        assert message.startswith("rows[0].audio: the clip is 8,524 bytes")
        # a body beyond even that (1,000 + 4 × ⌈8,000 / 3⌉ bytes) is refused unread
        message = detail(client.post("/predict", files=upload(huge)), 413)
        assert "11,668 bytes" in message
    assert metric(app, "tailor_errors_total", path="/predict", status="413") == 3


def test_clips_over_the_duration_limit_get_422_naming_the_field(runs: dict[str, Path]) -> None:
    app = create_app(runs["strict"], ServeSettings(max_audio_seconds=1.5))
    silence = wav(np.zeros(RATE * 600, np.float32), fmt="FLAC")  # 10 minutes, a few kB
    assert len(silence) < 100_000
    with TestClient(app) as client:
        assert client.post("/predict", files=upload(wav(tone(1.4)))).status_code == 200
        message = detail(client.post("/predict", files=upload(wav(tone(2.0)), "two.wav")))
        assert message == ("audio (file 'two.wav'): the clip lasts 2.0 s; the service takes "
                           "clips of at most 1.5 s.")  # fmt: skip
        message = detail(client.post("/predict", json={"rows": [{"audio": b64(silence)}]}))
        assert message.startswith("rows[0].audio: the clip lasts 600.0 s")


def test_settings_check_the_audio_limits() -> None:
    with pytest.raises(TailorError, match="max_audio_bytes"):
        ServeSettings(max_audio_bytes=0)
    with pytest.raises(TailorError, match="max_audio_seconds"):
        ServeSettings(max_audio_seconds=0)
    assert ServeSettings().max_audio_bytes == 10 * 1024 * 1024
    assert ServeSettings().max_audio_seconds == 30


# ---------------------------------------------------------------- key, metrics, batching


def test_uploads_need_the_api_key(runs: dict[str, Path], clips: list[bytes]) -> None:
    app = create_app(runs["strict"], ServeSettings(api_key="s3cret"))
    with TestClient(app) as client:
        assert client.post("/predict", files=upload(clips[0])).status_code == 401
        wrong = client.post("/predict", files=upload(clips[0]), headers={"X-API-Key": "nope"})
        assert wrong.status_code == 401
        assert client.post("/explain", files=upload(clips[0])).status_code == 401
        bearer = {"Authorization": "Bearer s3cret"}
        assert client.post("/predict", files=upload(clips[0]), headers=bearer).status_code == 200
        assert "API key" in client.get("/").text
    assert metric(app, "tailor_errors_total", path="/predict", status="401") == 2
    assert metric(app, "tailor_requests_total", path="/predict", status="200") == 1


async def concurrently(app: FastAPI, clips: list[bytes]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://serve") as client:
        calls = [
            client.post("/predict", files=upload(clip)) if i % 2
            else client.post("/predict", json={"rows": [{"audio": b64(clip)}]})
            for i, clip in enumerate(clips)
        ]  # fmt: skip
        return await asyncio.gather(*calls)


def test_uploads_and_json_requests_share_a_batch(runs: dict[str, Path], clips: list[bytes]) -> None:
    app = create_app(runs["strict"], ServeSettings(max_wait_ms=300))
    responses = asyncio.run(concurrently(app, clips[:6]))
    assert [r.status_code for r in responses] == [200] * 6
    labels = [r.json()["predictions"][0]["label"] for r in responses]
    assert labels == [str(v) for v in expected(runs["strict"], clips[:6])["prediction"]]
    assert metric(app, "tailor_batch_size_sum") == 6
    assert metric(app, "tailor_batch_size_count") <= 2


# ---------------------------------------------------------------- documentation


def test_openapi_documents_the_audio_field_and_the_upload(strict: TestClient) -> None:
    document = strict.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    audio = schemas["PredictRow"]["properties"]["audio"]
    assert audio["type"] == "string" and audio["format"] == "byte"
    assert audio["contentEncoding"] == "base64"
    assert (audio["x-sample-rate"], audio["x-model-seconds"], audio["x-resample"]) == (
        RATE, 0.5, False)  # fmt: skip
    assert (audio["x-max-seconds"], audio["x-max-bytes"]) == (30, 10 * 1024 * 1024)
    assert "8,000 Hz" in audio["description"] and "at most 30 s" in audio["description"]
    assert schemas["PredictRow"]["required"] == ["audio"]
    content = document["paths"]["/predict"]["post"]["requestBody"]["content"]
    assert set(content) == {"application/json", "multipart/form-data"}
    upload_schema = schemas["PredictUpload"]
    assert content["multipart/form-data"]["schema"]["$ref"].endswith("/PredictUpload")
    assert upload_schema["properties"]["audio"]["format"] == "binary"
    assert upload_schema["required"] == ["audio"]
    example = content["application/json"]["example"]["rows"][0]["audio"]
    samples, rate = soundfile.read(io.BytesIO(base64.b64decode(example)))
    assert rate == RATE and len(samples) > 0  # a valid clip: the documented request works
    assert strict.post("/predict", json=content["application/json"]["example"]).status_code == 200
    assert "multipart/form-data" in document["info"]["description"]


def test_the_playground_offers_upload_and_record(strict: TestClient) -> None:
    page = strict.get("/").text
    config = json.loads(page.split('<script type="application/json" id="config">')[1]
                        .split("</script>")[0])  # fmt: skip
    field = config["fields"][0]
    assert field["kind"] == "audio" and field["default"] is None and field["example"] is None
    assert field["audio"]["sample_rate"] == RATE and field["audio"]["max_seconds"] == 30
    for piece in ('accept: "audio/*"', "MediaRecorder", "decodeAudioData", '"RIFF"',
                  "Record or upload a clip"):  # fmt: skip
        assert piece in page, piece


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors_from_generated_requests(runs: dict[str, Path], mode: Any) -> None:
    """schemathesis sends JSON and multipart requests made from the document; a
    random base64 string is rightly refused (the schema cannot say it must be audio)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(runs["strict"]))
    accepted = [schemathesis.checks.positive_data_acceptance]

    @given(case=schema.as_strategy(mode))
    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(excluded_checks=accepted)

    check()


# ---------------------------------------------------------------- the playground in a browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def test_record_in_the_playground_and_predict(
    runs: dict[str, Path], clips: list[bytes], tmp_path: Path
) -> None:
    """Chromium's fake microphone plays a spoken digit; Record, Stop, play back,
    Predict must show a label, as must an uploaded file. Chromium and its driver
    are required (as for tests/test_playground.py): without them this fails."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    for binary in (CHROMIUM, CHROMEDRIVER):
        if not binary.exists() or shutil.which(str(binary)) is None:
            pytest.fail(f"{binary} is missing: install Debian's chromium and chromium-driver.")
    spoken = tmp_path / "spoken.wav"
    spoken.write_bytes(wav(np.concatenate([soundfile.read(io.BytesIO(clips[4]))[0]] * 3)))
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--window-size=1280,900", "--use-fake-ui-for-media-stream",
             "--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={spoken}",
             f"--user-data-dir={tmp_path / 'profile'}"]  # fmt: skip
    for flag in flags:
        options.add_argument(flag)
    server = Server(runs["resampling"])
    try:
        server.wait_healthy()
        driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
        try:
            driver.get(server.url + "/")
            wait = WebDriverWait(driver, 30)
            driver.find_element(By.ID, "predict").click()  # no clip yet: a message, no request
            wait.until(lambda d: "record a clip" in d.find_element(By.ID, "error").text)
            driver.find_element(By.ID, "record-audio").click()
            wait.until(lambda d: d.find_element(By.ID, "stop-audio").is_enabled())
            driver.execute_script("return new Promise((done) => setTimeout(done, 1500));")
            driver.find_element(By.ID, "stop-audio").click()
            wait.until(lambda d: "recording.wav" in d.find_element(By.ID, "clip-audio").text)
            assert not driver.find_element(By.ID, "error").text
            header = driver.execute_script(
                "const a = document.getElementById('player-audio');"
                "return fetch(a.src).then((r) => r.arrayBuffer()).then((b) => {"
                "  const v = new DataView(b); return [v.getUint32(24, true),"
                "  v.getUint16(22, true), v.getUint16(34, true), b.byteLength]; });"
            )
            assert header[:3] == [RATE, 1, 16] and header[3] > 44 + 2 * RATE // 10
            assert label_after_predict(driver) in {str(d) for d in range(10)}
            heat = "#explanation canvas.heat.audio"  # the time × band attribution map
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, heat))
            driver.find_element(By.ID, "upload-audio").send_keys(str(spoken))
            wait.until(lambda d: "spoken.wav" in d.find_element(By.ID, "clip-audio").text)
            assert label_after_predict(driver) in {str(d) for d in range(10)}
            shot = tmp_path / "playground-audio.png"
            assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
        finally:
            driver.quit()
    finally:
        server.stop()


def label_after_predict(driver: Any) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script("document.getElementById('label').textContent = '';")
    driver.find_element(By.ID, "predict").click()
    WebDriverWait(driver, 30).until(
        lambda d: (
            d.find_element(By.ID, "label").text.strip()
            or d.find_element(By.ID, "error").text.strip()
        )
    )
    error = driver.find_element(By.ID, "error").text
    assert not error, error
    return str(driver.find_element(By.ID, "label").text.strip())


def test_a_form_row_holds_numbers_categories_images_and_audio(clips: list[bytes]) -> None:
    """The form reader alone, for a model with every kind of input."""
    spec = AudioSpec(RATE, 0.5, False, 30.0, 1_000_000)
    reader = RowReader([
        InputField("age", "number", True, "a number"),
        InputField("city", "category", True, "a city", ("Lyon", "Oslo")),
        InputField("photo", "image", False, "an image", image=(4, 4, 1)),
        InputField("voice", "audio", False, "a clip", audio=spec),
    ])  # fmt: skip
    png = io.BytesIO()
    Image.fromarray(np.full((4, 4), 200, np.uint8)).save(png, format="PNG")
    photo, voice = Upload("p.png", png.getvalue()), Upload("v.wav", clips[0])
    row = reader.read_form([("age", "41.5"), ("city", ""), ("photo", photo), ("voice", voice)])[0]
    assert row["age"] == 41.5 and row["city"] is None
    assert isinstance(row["photo"], np.ndarray) and row["photo"].shape == (4, 4, 1)
    expected_samples = soundfile.read(io.BytesIO(clips[0]), dtype="float32")[0]
    assert np.allclose(row["voice"], expected_samples)
    row = reader.read_form([("photo", photo), ("voice", voice)])[0]  # nullable: may be left out
    assert row["age"] is None and row["city"] is None
    with pytest.raises(ApiError, match=r"^age: expected a number or null\.$"):
        reader.read_form([("age", "old"), ("photo", photo), ("voice", voice)])
    with pytest.raises(ApiError, match=r"^photo \(file 'x.png'\): the bytes are not a PNG"):
        reader.read_form([("photo", Upload("x.png", b"nope")), ("voice", voice)])
    with pytest.raises(ApiError, match=r"^age: expected a form value \(expected a number"):
        reader.read_form([("age", Upload("a.txt", b"4")), ("photo", photo), ("voice", voice)])
