"""ONNX export and ``tailor serve`` of runs with the pretrained text encoder.

The export keeps PyTorch's outputs (fp32, to 1e-4) with a dynamic token axis
and quantizes to int8; the service tokenizes request text with the bundle's own
tokenizer and answers what ``Run.predict`` does, on either backend, running
rows in order of length, each network call cut to its longest text.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import onnx
import pandas as pd
import pytest
import torch
from fastapi.testclient import TestClient

import tailorml
from serve_runs import Server
from tailorml.data.readers import read_source
from tailorml.pipelines.train import train
from tailorml.serve import ServeSettings, create_app
from tailorml.serve.predictor import TEXT_BATCH
from tailorml.serve.schema import EXAMPLE_TEXT
from tailorml.ship import onnx as ship
from tailorml.ship.onnx import OnnxModel, export_onnx

ROWS = 200
MAX_LENGTH = 48
LONG_TEXT = "the food was cold and the waiter never came back " * 12  # > MAX_LENGTH tokens


@pytest.fixture(scope="module")
def sentiment() -> pd.DataFrame:
    return read_source("builtin:sentiment").frames["all"][["text", "sentiment"]]


@pytest.fixture(scope="module")
def texts(sentiment: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Training rows as parquet (some texts hold bare \\r)."""
    path = tmp_path_factory.mktemp("ship-texts") / "texts.parquet"
    sentiment.sample(ROWS, random_state=0).reset_index(drop=True).to_parquet(path)
    return path


@pytest.fixture(scope="module")
def request_rows(sentiment: pd.DataFrame) -> list[dict[str, Any]]:
    """Unseen texts of every length, plus an empty, a missing and an over-long one."""
    unseen = sentiment.drop(sentiment.sample(ROWS, random_state=0).index)
    picked = list(unseen["text"].sample(45, random_state=1))
    return [{"text": t} for t in [*picked, "", None, LONG_TEXT, "Très bien 👍\r merci"]]


def config(texts: Path, checkpoint: str | Path, **encoder: Any) -> dict[str, Any]:
    precision = encoder.pop("precision", "fp32")
    return {
        "data": {"source": str(texts), "target": "sentiment",
                 "split": {"method": "stratified", "test_fraction": 0.2,
                           "validation_fraction": 0.1, "seed": 0}},
        "input_features": [{"name": "text", "type": "text",
                            "preprocessing": {"max_length": MAX_LENGTH},
                            "encoder": {"name": "pretrained", "checkpoint": str(checkpoint),
                                        **encoder}}],
        "decoder": {"hidden": [16]},
        "output_features": [{"name": "sentiment", "type": "category"}],
        "training": {"epochs": 1, "batch_size": 16, "seed": 0, "precision": precision},
    }  # fmt: skip


@pytest.fixture(scope="module")
def tiny_run(
    tiny_checkpoint: Path, texts: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    """A fine-tuned tiny-checkpoint run ([CLS] pooling, fp32), exported with int8."""
    folder = tmp_path_factory.mktemp("ship-tiny") / "run"
    train(config(texts, tiny_checkpoint, mode="finetune", pooling="cls"), folder, quiet=True)
    return folder, export_onnx(folder, quantize="int8")


@pytest.fixture(scope="module")
def minilm_run(
    texts: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    """all-MiniLM-L6-v2, frozen, mean pooling, trained in bf16; exported in fp32."""
    folder = tmp_path_factory.mktemp("ship-minilm") / "run"
    options = {"mode": "frozen", "pooling": "mean", "precision": "bf16"}
    train(config(texts, "all-MiniLM-L6-v2", **options), folder, quiet=True)
    return folder, export_onnx(folder)


@pytest.fixture(scope="module")
def tiny_torch(tiny_run: tuple[Path, dict[str, Any]]) -> Iterator[TestClient]:
    with TestClient(create_app(tiny_run[0], ServeSettings(backend="torch"))) as client:
        yield client


@pytest.fixture(scope="module")
def tiny_onnx(tiny_run: tuple[Path, dict[str, Any]]) -> Iterator[TestClient]:
    with TestClient(create_app(tiny_run[0], ServeSettings(backend="onnx"))) as client:
        yield client


def probabilities(predictions: list[dict[str, Any]], labels: list[str]) -> np.ndarray:
    return np.array([[p["probabilities"][label] for label in labels] for p in predictions])


def run_predict(run_dir: Path, rows: list[dict[str, Any]]) -> tuple[list[str], np.ndarray]:
    """``Run.predict``'s labels and probabilities for request rows."""
    run = tailorml.load(run_dir)
    frame = run.predict(pd.DataFrame({"text": [row["text"] for row in rows]}))
    labels = run.bundle.features.target.labels
    return list(frame["prediction"]), frame[[f"probability_{k}" for k in labels]].to_numpy()


def real_tokens(ids: torch.Tensor | np.ndarray) -> np.ndarray:
    return np.asarray((np.asarray(ids) != 0).sum(1))  # MiniLM's tokenizer pads with id 0


# ---------------------------------------------------------------- export


def test_tiny_export_has_parity_at_every_width_and_a_dynamic_token_axis(
    tiny_run: tuple[Path, dict[str, Any]],
) -> None:
    folder, report = tiny_run
    assert report["inputs"] == [{"name": "text", "feature": "text", "dtype": "int64",
                                 "shape": ["batch", "text_tokens"], "pad_id": 0,
                                 "max_tokens": MAX_LENGTH}]  # fmt: skip
    assert report["parity"]["rows"] == 40 and report["parity"]["max_abs_diff"] <= 1e-4
    graph = onnx.load(folder / "model" / "model.onnx").graph
    dims = [d.dim_param or d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", "text_tokens"]

    run = tailorml.load(folder)
    ids = run.bundle.features.encode(ship.held_out_rows(run, 40), "test").inputs["text"]
    model = OnnxModel(folder / "model", threads=1)
    for width in (2, 9, MAX_LENGTH):  # one graph, any width
        cut = ids[:, :width].contiguous()
        with torch.no_grad():
            expected = run.bundle.model.eval()({"text": cut}).numpy()
        got = ship.run_session(model.session, model.specs, {"text": cut}, trim=False)
        assert np.max(np.abs(got - expected)) <= 1e-4


def test_tiny_int8_export_is_quantized_and_reports_its_accuracy_change(
    tiny_run: tuple[Path, dict[str, Any]],
) -> None:
    folder, report = tiny_run
    int8 = report["int8"]
    assert int8["metric"] == "accuracy" and int8["rows"] == 40
    assert int8["change"] == pytest.approx(int8["int8"] - int8["fp32"])
    ops = {name: [n.op_type for n in onnx.load(folder / "model" / name).graph.node]
           for name in ("model.onnx", "model.int8.onnx")}  # fmt: skip
    assert "MatMulInteger" not in ops["model.onnx"]
    assert ops["model.int8.onnx"].count("MatMulInteger") >= 12  # 6 dense layers × 2 BERT layers
    run = tailorml.load(folder)
    inputs = run.bundle.features.encode(ship.held_out_rows(run, 40), "test").inputs
    fp32 = OnnxModel(folder / "model").outputs(inputs)
    quantized = OnnxModel(folder / "model", quantized=True).outputs(inputs)
    diff = float(np.max(np.abs(quantized - fp32)))
    assert 0 < diff < 1 and diff == pytest.approx(int8["max_abs_diff"], rel=1e-3)


def test_minilm_export_keeps_pytorch_outputs(minilm_run: tuple[Path, dict[str, Any]]) -> None:
    folder, report = minilm_run
    assert report["parity"] == {"rows": 40, "max_abs_diff": pytest.approx(0, abs=1e-4),
                                "tolerance": 1e-4}  # fmt: skip
    assert report["inputs"][0]["shape"] == ["batch", "text_tokens"]
    assert "int8" not in report and not (folder / "model" / "model.int8.onnx").exists()
    assert (folder / "model" / "model.onnx").stat().st_size > 80_000_000  # 22M fp32 weights


# ---------------------------------------------------------------- serve


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_served_text_predictions_are_run_predict(
    backend: str,
    request: pytest.FixtureRequest,
    tiny_run: tuple[Path, dict[str, Any]],
    request_rows: list[dict[str, Any]],
) -> None:
    client: TestClient = request.getfixturevalue(f"tiny_{backend}")
    assert client.get("/ready").json()["backend"] == backend
    response = client.post("/predict", json={"rows": request_rows})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    labels, expected = run_predict(tiny_run[0], request_rows)
    served = probabilities(predictions, tailorml.load(tiny_run[0]).bundle.features.target.labels)
    np.testing.assert_allclose(served, expected, atol=1e-4)
    assert [p["label"] for p in predictions] == labels


def batch_sizes(rows: int, size: int = TEXT_BATCH) -> list[int]:
    """Rows per network call for one served batch of ``rows`` texts."""
    return [min(size, rows - start) for start in range(0, rows, size)]


def assert_sorted_and_cut(widths: list[int], tokens: list[np.ndarray]) -> None:
    """Each call's width is its longest text; calls go shortest texts first."""
    assert widths == [int(t.max()) for t in tokens]  # no column of padding only
    assert all(a.max() <= b.min() for a, b in zip(tokens, tokens[1:], strict=False))
    assert widths[0] < widths[-1] == MAX_LENGTH


def test_onnx_calls_are_sorted_and_cut_to_their_longest_text(
    tiny_onnx: TestClient, request_rows: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    session = tiny_onnx.app.state.predictor.onnx.session  # type: ignore[attr-defined]
    fed: list[np.ndarray] = []

    def recorded(outputs: Any, feeds: dict[str, np.ndarray]) -> Any:
        fed.append(feeds["text"])
        return real(outputs, feeds)

    real = session.run
    monkeypatch.setattr(session, "run", recorded)
    assert tiny_onnx.post("/predict", json={"rows": request_rows}).status_code == 200
    assert [len(ids) for ids in fed] == batch_sizes(len(request_rows), ship.TEXT_BATCH)
    assert_sorted_and_cut([ids.shape[1] for ids in fed], [real_tokens(ids) for ids in fed])


def served_by_torch(
    run_dir: Path, rows: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """What the served torch network saw on each call (ids, inference mode,
    autocast dtype), and the probabilities the service answered."""
    app = create_app(run_dir, ServeSettings(backend="torch"))
    network = app.state.predictor.run.bundle.model.encoders["text"].network
    calls: list[dict[str, Any]] = []

    def record(module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        autocast = torch.is_autocast_enabled("cpu")
        dtype = torch.get_autocast_dtype("cpu") if autocast else None
        calls.append({"ids": kwargs["input_ids"], "inference": torch.is_inference_mode_enabled(),
                      "autocast": dtype})  # fmt: skip

    network.register_forward_pre_hook(record, with_kwargs=True)
    with TestClient(app) as client:
        response = client.post("/predict", json={"rows": rows})
    assert response.status_code == 200, response.text
    labels = app.state.predictor.labels
    return calls, probabilities(response.json()["predictions"], labels)


def test_torch_serving_runs_sorted_trimmed_batches_in_inference_mode(
    tiny_run: tuple[Path, dict[str, Any]], request_rows: list[dict[str, Any]]
) -> None:
    calls, _ = served_by_torch(tiny_run[0], request_rows)
    assert [len(c["ids"]) for c in calls] == batch_sizes(len(request_rows))
    assert_sorted_and_cut(
        [c["ids"].shape[1] for c in calls], [real_tokens(c["ids"]) for c in calls]
    )
    assert all(c["inference"] and c["autocast"] is None for c in calls)  # trained in fp32


def test_a_bf16_run_is_served_in_bf16_as_run_predict(
    minilm_run: tuple[Path, dict[str, Any]], request_rows: list[dict[str, Any]]
) -> None:
    calls, served = served_by_torch(minilm_run[0], request_rows)
    assert len(calls) == len(batch_sizes(len(request_rows)))
    assert all(c["inference"] for c in calls)
    assert all(c["autocast"] == torch.bfloat16 for c in calls)
    _, expected = run_predict(minilm_run[0], request_rows)
    # bf16 rounds each batch at its own width: close to Run.predict, not bitwise
    np.testing.assert_allclose(served, expected, atol=5e-3)


def test_explain_attributes_the_subword_tokens(tiny_torch: TestClient) -> None:
    rows = [{"text": "great friendly staff"}, {"text": None}]
    response = tiny_torch.post("/explain", json={"rows": rows})
    assert response.status_code == 200, response.text
    explanations = response.json()["explanations"]
    assert [e["row"] for e in explanations] == [0, 1]
    text = explanations[0]["features"]["text"]
    assert {"great", "friendly", "staff"} <= set(text["tokens"])
    assert len(text["scores"]) == len(text["tokens"])


def test_openapi_documents_the_text_field(tiny_torch: TestClient) -> None:
    document = tiny_torch.get("/openapi.json").json()
    field = document["components"]["schemas"]["PredictRow"]["properties"]["text"]
    assert {s["type"] for s in field["anyOf"]} == {"string", "null"}
    assert f"first {MAX_LENGTH} tokens, [CLS] and [SEP] included" in field["description"]
    assert "words" not in field["description"]
    body = document["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert body["example"] == {"rows": [{"text": EXAMPLE_TEXT}]}
    assert tiny_torch.post("/predict", json=body["example"]).status_code == 200


def test_tailor_serve_answers_text_rows(
    tiny_run: tuple[Path, dict[str, Any]], request_rows: list[dict[str, Any]]
) -> None:
    server = Server(tiny_run[0], "--backend", "onnx")
    try:
        server.wait_healthy()
        response = httpx.post(f"{server.url}/predict", json={"rows": request_rows}, timeout=60)
    finally:
        server.stop()
    assert response.status_code == 200, response.text
    labels, _ = run_predict(tiny_run[0], request_rows)
    assert [p["label"] for p in response.json()["predictions"]] == labels
