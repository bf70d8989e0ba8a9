"""The prediction service: predictions as Run.predict makes them, every bad
input a clear 4xx, adaptive batching, metrics, OpenAPI, PII and shutdown."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import torch
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

import tailorml
from serve_runs import PLANTED_EMAIL, Server, digit_images, trained
from tailorml.errors import TailorError
from tailorml.serve import ServeSettings, create_app
from tailorml.serve.batching import Batcher, Chunk
from tailorml.serve.rows import ApiError

TABLE_ROWS = [
    {"income": 72.5, "city": "Oslo", "member": "no", "note": "steady job long history"},
    {"income": 31.0, "city": "Lyon", "member": "no", "note": "late payments new account"},
    {"income": None, "city": "Madrid", "member": "yes", "note": None},
]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.getbasetemp()


@pytest.fixture(scope="module")
def table_run(base: Path) -> Path:
    return trained("table", base)


@pytest.fixture(scope="module")
def digits_run(base: Path) -> Path:
    return trained("digits", base)


@pytest.fixture(scope="module")
def table(table_run: Path) -> Iterator[TestClient]:
    with TestClient(create_app(table_run)) as client:
        yield client


@pytest.fixture(scope="module")
def digits(digits_run: Path) -> Iterator[TestClient]:
    with TestClient(create_app(digits_run)) as client:
        yield client


def png_base64(image: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def expected(run: Path, rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame({k: [r[k] for r in rows] for k in rows[0]})
    return tailorml.load(run).predict(frame)


def assert_same(predictions: list[dict[str, Any]], frame: pd.DataFrame) -> None:
    assert [p["label"] for p in predictions] == list(frame["prediction"])
    for p, (_, row) in zip(predictions, frame.iterrows(), strict=True):
        for label, probability in p["probabilities"].items():
            assert probability == pytest.approx(row[f"probability_{label}"], abs=1e-6)


def metric(app: FastAPI, name: str, **labels: str) -> float:
    value = app.state.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else float(value)


# ---------------------------------------------------------------- predictions


def test_table_predictions_are_run_predict(table: TestClient, table_run: Path) -> None:
    response = table.post("/predict", json={"rows": TABLE_ROWS})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert len(predictions) == 3 and set(predictions[0]["probabilities"]) == {"no", "yes"}
    assert_same(predictions, expected(table_run, TABLE_ROWS))


def test_digits_from_nested_lists_and_base64_png(digits: TestClient, digits_run: Path) -> None:
    images = digit_images(3)
    rows = [
        {"image": images[0].tolist()},  # H×W
        {"image": images[1][:, :, None].tolist()},  # H×W×C
        {"image": png_base64(images[2])},
        {"image": "data:image/png;base64," + png_base64(images[0])},
    ]
    response = digits.post("/predict", json={"rows": rows})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    truth = expected(digits_run, [{"image": images[i]} for i in (0, 1, 2, 0)])
    assert_same(predictions, truth)
    assert predictions[0] == predictions[3]


def test_regression_answers_values(base: Path) -> None:
    run = trained("regression", base)
    rows = [{"x1": 1.0, "x2": 2.0}, {"x1": 9, "x2": 0.5}]
    with TestClient(create_app(run)) as client:
        response = client.post("/predict", json={"rows": rows})
    assert response.status_code == 200, response.text
    values = [p["value"] for p in response.json()["predictions"]]
    assert values == pytest.approx(list(expected(run, rows)["prediction"]), abs=1e-5)
    assert values[1] > values[0]  # y = 3 x1 − 2 x2


def test_explain_attributes_each_feature(table: TestClient) -> None:
    response = table.post("/explain", json={"rows": TABLE_ROWS[:2]})
    assert response.status_code == 200, response.text
    explanations = response.json()["explanations"]
    assert [e["row"] for e in explanations] == [0, 1]
    assert set(explanations[0]["features"]) == {"income", "city", "member", "note"}
    assert explanations[0]["features"]["note"]["tokens"][:2] == ["steady", "job"]


# ---------------------------------------------------------------- bad input: 4xx, never 500


def bad_image(shape: tuple[int, ...]) -> list[Any]:
    return np.zeros(shape).tolist()


def png_of_size(h: int, w: int) -> str:
    return png_base64(np.zeros((h, w), dtype=np.uint8))


NAN_IMAGE = json.dumps({"rows": [{"image": [[0.0] * 28] * 27 + [[0.0] * 27 + [np.nan]]}]})


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"rows": [{"image": bad_image((27, 28))}]}, ["rows[0].image", "27×28", "28×28"]),
        ({"rows": [{"image": bad_image((28, 28, 5))}]}, ["rows[0].image", "5 channels"]),
        ({"rows": [{"image": bad_image((28, 28, 2, 2))}]}, ["rows[0].image"]),
        ({"rows": [{"image": [[1, 2], [3]]}]}, ["rows[0].image"]),
        ({"rows": [{"image": [["a"] * 28] * 28}]}, ["rows[0].image"]),
        (NAN_IMAGE, ["rows[0].image", "finite"]),
        ({"rows": [{"image": png_of_size(20, 20)}]}, ["rows[0].image", "20×20", "28×28"]),
        ({"rows": [{"image": "bm90IGFuIGltYWdl"}]}, ["rows[0].image", "PNG"]),
        ({"rows": [{"image": "%%%"}]}, ["rows[0].image", "base64"]),
        ({"rows": [{"image": 7}]}, ["rows[0].image", "nested list"]),
        ({"rows": [{"picture": []}]}, ["rows[0]", "'image' is missing"]),
        ({"rows": [{"image": bad_image((28, 28)), "imag": 1}]}, ["'imag'", "did you mean"]),
        ({"rows": []}, ["rows", "at least 1"]),
        ({"row": []}, ['"rows"']),
        ([1, 2], ["body"]),
        ("{not json", ["not valid JSON"]),
        ("", ["not valid JSON"]),
    ],
)
def test_bad_image_requests_get_422_naming_the_field(
    digits: TestClient, body: Any, words: list[str]
) -> None:
    data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    response = digits.post("/predict", content=data)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert all(w in detail for w in words), detail
    assert response.json()["errors"][0]["msg"] == detail


@pytest.mark.parametrize(
    ("row", "words"),
    [
        ({"income": "NaN"}, ["rows[1].income", "number"]),
        ({"income": "12"}, ["rows[1].income", "number"]),
        ({"income": True}, ["rows[1].income", "number"]),
        ({"member": "maybe"}, ["rows[1].member", "'no', 'yes'"]),
        ({"note": 5}, ["rows[1].note", "text"]),
        ({"city": [1]}, ["rows[1].city", "text or a number"]),
        ({"income": None, "extra": 1}, ["rows[1]", "unknown field 'extra'", "'income'"]),
    ],
)
def test_bad_table_rows_get_422_naming_row_and_field(
    table: TestClient, row: dict[str, Any], words: list[str]
) -> None:
    rows = [TABLE_ROWS[0], {**TABLE_ROWS[0], **row}]
    response = table.post("/predict", json={"rows": rows})
    assert response.status_code == 422, response.text
    assert all(w in response.json()["detail"] for w in words), response.json()


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_get_422(table: TestClient, value: str) -> None:
    row = json.dumps(TABLE_ROWS[0]).replace("72.5", value)
    response = table.post("/predict", content=f'{{"rows": [{row}]}}'.encode())
    assert response.status_code == 422, response.text
    assert "rows[0].income" in response.json()["detail"]
    assert "finite" in response.json()["detail"]


def test_missing_field_is_named_with_its_row(table: TestClient) -> None:
    row = {k: v for k, v in TABLE_ROWS[0].items() if k != "city"}
    response = table.post("/predict", json={"rows": [TABLE_ROWS[0], TABLE_ROWS[1], row]})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("rows[2]: the field 'city' is missing")


def test_rows_the_model_overflows_on_fail_alone(table_run: Path) -> None:
    app = create_app(table_run, ServeSettings(max_wait_ms=300))
    predictor = app.state.predictor
    real = predictor.outputs

    def overflowing(table: pd.DataFrame) -> torch.Tensor:  # as if income 1234.5 overflowed
        out = real(table).clone()
        out[torch.from_numpy(table["income"].to_numpy() == 1234.5)] = float("inf")
        return out

    predictor.outputs = overflowing
    poisoned = [TABLE_ROWS[0], TABLE_ROWS[1], {**TABLE_ROWS[0], "income": 1234.5}]
    good, bad = asyncio.run(concurrently(app, [{"rows": TABLE_ROWS}, {"rows": poisoned}]))
    assert metric(app, "tailor_batch_requests_sum") >= 2  # they shared the first batch
    assert good.status_code == 200 and len(good.json()["predictions"]) == 3
    assert bad.status_code == 422
    assert bad.json()["detail"].startswith("rows[2]: the model's output is not finite")


# ---------------------------------------------------------------- key and size limits


def test_api_key_is_required_except_for_probes(table_run: Path) -> None:
    app = create_app(table_run, ServeSettings(api_key="s3cret"))
    body = {"rows": TABLE_ROWS[:1]}
    with TestClient(app) as client:
        assert client.post("/predict", json=body).status_code == 401
        assert client.post("/predict", json=body, headers={"X-API-Key": "wrong"}).status_code == 401
        assert client.get("/metrics").status_code == 401
        denied = client.post("/explain", json=body, headers={"Authorization": "Basic s3cret"})
        assert denied.status_code == 401 and "X-API-Key" in denied.json()["detail"]
        assert (
            client.post("/predict", json=body, headers={"X-API-Key": "s3cret"}).status_code == 200
        )
        bearer = {"Authorization": "Bearer s3cret"}
        assert client.post("/predict", json=body, headers=bearer).status_code == 200
        assert client.get("/metrics", headers=bearer).status_code == 200
        for path in ("/health", "/ready", "/", "/openapi.json"):
            assert client.get(path).status_code == 200, path
    assert metric(app, "tailor_errors_total", path="/predict", status="401") == 2


def test_oversized_bodies_get_413_by_length_and_by_bytes(digits_run: Path) -> None:
    app = create_app(digits_run, ServeSettings(max_body_bytes=5000))
    small = json.dumps({"rows": [{"image": digit_images(1)[0].tolist()}]}).encode()
    big = json.dumps({"rows": [{"image": digit_images(1)[0].tolist()}] * 3}).encode()
    assert len(small) < 5000 < len(big)

    def chunked() -> Iterator[bytes]:  # no Content-Length: the bytes are counted
        for start in range(0, len(big), 1000):
            yield big[start : start + 1000]

    with TestClient(app) as client:
        assert client.post("/predict", content=small).status_code == 200
        response = client.post("/predict", content=big)
        assert response.status_code == 413 and "5,000 bytes" in response.json()["detail"]
        assert client.post("/predict", content=chunked()).status_code == 413


# ---------------------------------------------------------------- batching


async def concurrently(app: FastAPI, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://serve") as client:
        return await asyncio.gather(*[client.post("/predict", json=b) for b in bodies])


def test_concurrent_requests_share_a_batch(digits_run: Path) -> None:
    app = create_app(digits_run, ServeSettings(max_wait_ms=300, max_batch_size=64))
    images = digit_images(8)
    bodies = [{"rows": [{"image": image.tolist()}]} for image in images]
    responses = asyncio.run(concurrently(app, bodies))
    assert [r.status_code for r in responses] == [200] * 8
    labels = [r.json()["predictions"][0]["label"] for r in responses]
    assert labels == list(expected(digits_run, [{"image": i} for i in images])["prediction"])
    assert metric(app, "tailor_batch_size_sum") == 8
    assert metric(app, "tailor_batch_size_count") <= 2  # 8 requests, one or two model calls


def test_a_lone_request_waits_about_max_wait(digits_run: Path) -> None:
    app = create_app(digits_run, ServeSettings(max_wait_ms=150))
    body = {"rows": [{"image": digit_images(1)[0].tolist()}]}
    with TestClient(app) as client:
        client.post("/predict", json=body)  # first-call costs out of the timing
        started = time.perf_counter()
        assert client.post("/predict", json=body).status_code == 200
        elapsed = time.perf_counter() - started
    assert 0.14 <= elapsed < 0.15 + 0.6


def test_a_full_batch_goes_without_waiting(digits_run: Path) -> None:
    app = create_app(digits_run, ServeSettings(max_wait_ms=30_000, max_batch_size=4))
    body = {"rows": [{"image": image.tolist()} for image in digit_images(4)]}
    with TestClient(app) as client:
        started = time.perf_counter()
        assert client.post("/predict", json=body).status_code == 200
        assert time.perf_counter() - started < 5


def test_a_request_larger_than_a_batch_is_split_in_order(digits_run: Path) -> None:
    app = create_app(digits_run, ServeSettings(max_batch_size=4, max_wait_ms=1))
    images = digit_images(10)
    with TestClient(app) as client:
        response = client.post("/predict", json={"rows": [{"image": i.tolist()} for i in images]})
    assert response.status_code == 200, response.text
    assert_same(
        response.json()["predictions"], expected(digits_run, [{"image": i} for i in images])
    )
    assert metric(app, "tailor_batch_size_count") == 3  # 4 + 4 + 2 rows
    assert metric(app, "tailor_batch_size_bucket", le="4.0") == 3


def test_batcher_routes_results_per_request_in_order() -> None:
    seen: list[list[int]] = []

    def process(chunks: Any) -> list[Any]:
        seen.append([len(c.items) for c in chunks])
        return [[x * 10 for x in c.items] if c.items[0] >= 0 else ApiError(422, "negative")
                for c in chunks]  # fmt: skip

    async def scenario() -> list[Any]:
        batcher = Batcher(process, max_rows=4, max_wait=0.05)
        jobs = [batcher.submit([1, 2]), batcher.submit([3]), batcher.submit([-1]),
                batcher.submit(list(range(9)))]  # fmt: skip
        results = await asyncio.gather(*jobs, return_exceptions=True)
        await batcher.close()
        with pytest.raises(ApiError) as closed:
            await batcher.submit([1])
        assert closed.value.status == 503
        return results

    results = asyncio.run(scenario())
    assert results[0] == [10, 20] and results[1] == [30]
    assert isinstance(results[2], ApiError) and results[2].status == 422
    assert results[3] == [x * 10 for x in range(9)]
    assert all(sum(batch) <= 4 for batch in seen)
    assert seen[0] == [2, 1, 1]  # the first three requests shared a batch


def test_a_full_queue_answers_503() -> None:
    async def scenario() -> None:
        batcher = Batcher(lambda chunks: [list(c.items) for c in chunks], max_rows=2,
                          max_wait=0.2, max_queue_rows=3)  # fmt: skip
        first = asyncio.ensure_future(batcher.submit([1, 2]))
        await asyncio.sleep(0)
        with pytest.raises(ApiError) as busy:
            await batcher.submit([3, 4])
        assert busy.value.status == 503
        assert await first == [1, 2]
        await batcher.close()

    asyncio.run(scenario())


def test_chunk_start_offsets_row_numbers() -> None:
    assert Chunk([1], 4).start == 4


def test_after_shutdown_not_ready_and_new_requests_get_503(digits_run: Path) -> None:
    app = create_app(digits_run)
    body = {"rows": [{"image": digit_images(1)[0].tolist()}]}
    with TestClient(app) as client:
        assert client.get("/ready").json()["status"] == "ready"
    client = TestClient(app)  # the lifespan has ended: the batcher is closed
    assert client.get("/ready").status_code == 503
    assert client.get("/health").status_code == 200
    assert client.post("/predict", json=body).status_code == 503


# ---------------------------------------------------------------- metrics and OpenAPI


def test_metrics_have_requests_errors_latency_and_batches(digits_run: Path) -> None:
    app = create_app(digits_run)
    body = {"rows": [{"image": digit_images(1)[0].tolist()}]}
    with TestClient(app) as client:
        client.post("/predict", json=body)
        client.post("/predict", json={"rows": []})
        text = client.get("/metrics").text
    assert 'tailor_requests_total{path="/predict",status="200"} 1.0' in text
    assert 'tailor_requests_total{path="/predict",status="422"} 1.0' in text
    assert 'tailor_errors_total{path="/predict",status="422"} 1.0' in text
    assert 'tailor_request_duration_seconds_bucket{le="0.05",path="/predict"}' in text
    assert "tailor_batch_size_bucket" in text and "tailor_batch_size_count 1.0" in text
    assert 'tailor_model_info{backend="torch",family="deep"} 1.0' in text


def test_openapi_documents_every_input_field_with_its_type(table: TestClient) -> None:
    document = table.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    row = schemas["PredictRow"]
    assert row["required"] == ["income", "city", "member", "note"]
    assert row["additionalProperties"] is False
    fields = row["properties"]
    assert {s["type"] for s in fields["income"]["anyOf"]} == {"number", "null"}
    assert "training range" in fields["income"]["description"]
    assert {s["type"] for s in fields["city"]["anyOf"]} == {"string", "number", "null"}
    assert "'Lyon', 'Oslo', 'Porto'" in fields["city"]["description"]
    assert fields["member"]["anyOf"][0]["enum"] == ["no", "yes"]
    assert {s["type"] for s in fields["note"]["anyOf"]} == {"string", "null"}
    predict = document["paths"]["/predict"]["post"]
    body = predict["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/PredictRequest"}
    assert body["example"]["rows"][0]["city"] == "Lyon"
    assert predict["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ErrorResponse"
    )
    prediction = schemas["Prediction"]["properties"]
    assert prediction["label"]["enum"] == ["no", "yes"]


def test_openapi_documents_the_image_shape(digits: TestClient) -> None:
    image = digits.get("/openapi.json").json()["components"]["schemas"]["PredictRow"]
    variants = image["properties"]["image"]["anyOf"]
    assert variants[0]["type"] == "string"
    assert variants[1]["minItems"] == variants[1]["maxItems"] == 28
    assert variants[1]["items"]["items"]["type"] == "number"


# ---------------------------------------------------------------- PII, ONNX, errors


def test_requests_are_redacted_as_training_was(base: Path) -> None:
    run = trained("pii", base)
    text = f"slow rude awful wait contact {PLANTED_EMAIL}"
    with TestClient(create_app(run)) as client:
        explained = client.post("/explain", json={"rows": [{"text": text}]})
        predicted = client.post("/predict", json={"rows": [{"text": text}]})
    assert explained.status_code == 200, explained.text
    tokens = explained.json()["explanations"][0]["features"]["text"]["tokens"]
    assert "email_address" in tokens and "jane" not in tokens and "example" not in tokens
    assert_same(predicted.json()["predictions"], expected(run, [{"text": text}]))


def test_requests_with_personal_data_are_refused_when_training_refused_it(base: Path) -> None:
    run = trained("pii_fail", base)
    with TestClient(create_app(run)) as client:
        clean = client.post("/predict", json={"rows": [{"text": "slow rude awful wait"}]})
        rows = [{"text": "great service"}, {"text": f"mail {PLANTED_EMAIL}"}]
        refused = client.post("/predict", json={"rows": rows})
    assert clean.status_code == 200
    assert refused.status_code == 422
    assert "EMAIL_ADDRESS" in refused.json()["detail"] and "'fail'" in refused.json()["detail"]


def test_onnx_backend_when_the_bundle_has_an_export(digits_run: Path, base: Path) -> None:
    from tailorml.ship.onnx import export_onnx

    run = base / "serve-runs" / "digits-onnx"
    if not run.exists():
        shutil.copytree(digits_run, run)
        export_onnx(run)
    images = digit_images(5)
    body = {"rows": [{"image": image.tolist()} for image in images]}
    with TestClient(create_app(run)) as client:
        assert client.get("/ready").json()["backend"] == "onnx"
        onnx = client.post("/predict", json=body).json()["predictions"]
    with TestClient(create_app(run, ServeSettings(backend="torch"))) as client:
        assert client.get("/ready").json()["backend"] == "torch"
        torch_ = client.post("/predict", json=body).json()["predictions"]
    assert [p["label"] for p in onnx] == [p["label"] for p in torch_]
    for a, b in zip(onnx, torch_, strict=True):
        assert list(a["probabilities"].values()) == pytest.approx(
            list(b["probabilities"].values()), abs=1e-5
        )


def test_no_model_and_onnx_without_export_are_clear_errors(
    tmp_path: Path, digits_run: Path
) -> None:
    with pytest.raises(TailorError, match="does not exist"):
        create_app(tmp_path / "nothing")
    with pytest.raises(TailorError, match="tailor export"):
        create_app(digits_run, ServeSettings(backend="onnx"))
    with pytest.raises(TailorError, match="max_batch_size"):
        ServeSettings(max_batch_size=0)


def test_serve_binds_to_localhost_by_default() -> None:
    assert ServeSettings().host == "127.0.0.1"


def test_cli_serve_reports_a_missing_key_variable(cli, digits_run: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("serve", str(digits_run), "--api-key-env", "TAILOR_TEST_UNSET_KEY")
    assert result.returncode == 2
    assert "TAILOR_TEST_UNSET_KEY" in result.stderr and "Traceback" not in result.stderr


# ---------------------------------------------------------------- a real server


def test_tailor_serve_answers_and_drains_on_sigterm(digits_run: Path) -> None:
    server = Server(digits_run, "--max-wait-ms", "2000", env={"TAILOR_KEY": "k"})
    try:
        server.wait_healthy()
        body = {"rows": [{"image": digit_images(1)[0].tolist()}]}
        answer: dict[str, Any] = {}

        def request() -> None:  # waits ~2 s in the batcher: in flight at SIGTERM
            answer["response"] = httpx.post(f"{server.url}/predict", json=body, timeout=30)

        thread = threading.Thread(target=request)
        thread.start()
        time.sleep(0.7)
        server.process.send_signal(signal.SIGTERM)
        thread.join(timeout=30)
        code = server.process.wait(timeout=30)
    finally:
        code = server.stop()
    output = server.output()
    assert answer["response"].status_code == 200, output
    assert answer["response"].json()["predictions"][0]["label"] in {str(d) for d in range(10)}
    # uvicorn re-raises the SIGTERM it handled once it has shut down cleanly
    assert code in (0, -signal.SIGTERM), output
    assert "127.0.0.1" in output and "Finished server process" in output
