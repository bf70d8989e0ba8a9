"""The text-generation service: answers as GenerationRun writes them, streams
that join to the same text, every bad request a clear 4xx, the API key,
metrics, personal data redacted, and a stream stopped when its client leaves."""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from serve_runs import PLANTED_EMAIL, free_port
from tailorml.config import GenerationConfig
from tailorml.errors import TailorError
from tailorml.pipelines.generate import train_generator
from tailorml.runs.generation import GenerationRun, load_generation
from tailorml.serve import ServeSettings, create_app

WORDS = {"red": "rouge", "blue": "bleu", "green": "vert", "cat": "chat", "dog": "chien",
         "bird": "oiseau", "runs": "court", "jumps": "saute", "sleeps": "dort"}  # fmt: skip
TEXTS = ["red cat runs", "blue dog jumps", "green bird sleeps red"]


def pairs_csv(folder: Path, rows: int = 200) -> Path:
    """English word strings and their word-by-word French: a task a tiny model
    learns enough of in seconds to write several tokens."""
    rng = random.Random(0)
    english = [[rng.choice(list(WORDS)) for _ in range(rng.randint(2, 5))] for _ in range(rows)]
    frame = pd.DataFrame({"english": [" ".join(e) for e in english],
                          "french": [" ".join(WORDS[w] for w in e) for e in english]})  # fmt: skip
    path = folder / "pairs.csv"
    frame.to_csv(path, index=False)
    return path


def generator_config(data: Path, kind: str) -> dict[str, Any]:
    config: dict[str, Any] = {
        "data": {"source": str(pairs_csv(data)), "target": "french"},
        "input_features": [{"name": "english", "type": "text"}],
        "output_features": [{"name": "french", "type": "text"}],
    }
    if kind == "seq2seq":
        config["generator"] = {"name": "seq2seq", "width": 32, "encoder_layers": 1,
                               "decoder_layers": 1, "vocab_size": 300}  # fmt: skip
        config["training"] = {"epochs": 3, "batch_size": 32, "learning_rate": 0.005, "seed": 0}
    else:  # copy writes the input back: instant, and it echoes personal data
        config["generator"] = {"name": "copy"}
        config["generation"] = {"max_source_tokens": 8, "max_target_tokens": 8}
        if kind == "redact":
            config["generation"]["output_pii"] = "redact"
    return config


def trained_generator(kind: str, base: Path) -> Path:
    """A tiny generator's folder (``seq2seq``, ``copy`` or ``redact``: copy under
    ``output_pii: redact``), trained on first use in this test session. The copy
    generators are served from their bundle folder (``RUN/model``)."""
    run = base / "generate-runs" / kind
    if not (run / "model" / "model.json").is_file():
        data = base / "generate-data" / kind
        data.mkdir(parents=True, exist_ok=True)
        train_generator(generator_config(data, kind), run, quiet=True)
    return run if kind == "seq2seq" else run / "model"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.getbasetemp()


@pytest.fixture(scope="module")
def seq2seq_run(base: Path) -> Path:
    return trained_generator("seq2seq", base)


@pytest.fixture(scope="module")
def copy_run(base: Path) -> Path:
    return trained_generator("copy", base)


@pytest.fixture(scope="module")
def seq2seq(seq2seq_run: Path) -> Iterator[TestClient]:
    with TestClient(create_app(seq2seq_run)) as client:
        yield client


@pytest.fixture(scope="module")
def copier(copy_run: Path) -> Iterator[TestClient]:
    with TestClient(create_app(copy_run)) as client:
        yield client


def events(response: Any) -> list[dict[str, Any]]:
    """The JSON of each server-sent event, in order."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    blocks = [b for b in response.text.split("\n\n") if b.strip()]
    assert all(b.startswith("data: ") and "\n" not in b for b in blocks), blocks
    return [json.loads(b.removeprefix("data: ")) for b in blocks]


def streamed(client: TestClient, body: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """The pieces of a stream, and its final event (which must be the done event)."""
    sent = events(client.post("/generate", json={**body, "stream": True}))
    *pieces, done = sent
    assert all(set(p) == {"text"} for p in pieces), pieces
    assert done["done"] is True and done["latency_ms"] > 0, done
    return [p["text"] for p in pieces], done


def metric(app: FastAPI, name: str, **labels: str) -> float:
    value = app.state.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else float(value)


# ---------------------------------------------------------------- answers


def test_whole_answer_is_generation_run_generate(seq2seq: TestClient, seq2seq_run: Path) -> None:
    expected = load_generation(seq2seq_run).generate(TEXTS)
    for text, written in zip(TEXTS, expected, strict=True):
        response = seq2seq.post("/generate", json={"text": text})
        assert response.status_code == 200, response.text
        answer = response.json()
        assert set(answer) == {"text", "tokens", "source_truncated", "latency_ms"}
        assert answer["text"] == written.text and answer["tokens"] == written.tokens
        assert answer["source_truncated"] is False and answer["latency_ms"] > 0
    assert max(w.tokens for w in expected) > 2  # the model writes several tokens


def test_stream_pieces_join_to_the_whole_answer(seq2seq: TestClient) -> None:
    for text in TEXTS:
        whole = seq2seq.post("/generate", json={"text": text}).json()
        pieces, done = streamed(seq2seq, {"text": text})
        assert "".join(pieces) == whole["text"]
        assert 1 < len(pieces) <= whole["tokens"]  # a piece per token, as decoded
        assert done["tokens"] == whole["tokens"]


def test_decoding_overrides_apply(seq2seq: TestClient, seq2seq_run: Path) -> None:
    run = load_generation(seq2seq_run)
    sampling = {"strategy": "sample", "temperature": 1.5, "seed": 3, "top_k": 50}
    decoding = GenerationConfig.model_validate(run.config.generation.model_dump() | sampling)
    expected = run.generate([TEXTS[0]], decoding)[0]
    answer = seq2seq.post("/generate", json={"text": TEXTS[0], **sampling}).json()
    assert (answer["text"], answer["tokens"]) == (expected.text, expected.tokens)
    pieces, _ = streamed(seq2seq, {"text": TEXTS[0], **sampling})
    assert "".join(pieces) == expected.text  # the same seed, the same text
    greedy = seq2seq.post("/generate", json={"text": TEXTS[0]}).json()
    assert greedy["text"] != expected.text
    short = seq2seq.post("/generate", json={"text": TEXTS[0], "max_new_tokens": 2}).json()
    assert short["tokens"] == 2 and greedy["text"].startswith(short["text"])
    pieces, done = streamed(seq2seq, {"text": TEXTS[0], "max_new_tokens": 2})
    assert "".join(pieces) == short["text"] and done["tokens"] == 2
    beam = seq2seq.post("/generate", json={"text": TEXTS[0], "strategy": "beam", "beam_size": 2})
    assert beam.status_code == 200 and beam.json()["tokens"] >= 1


# ---------------------------------------------------------------- limits


def refusal(response: Any, status: int, *words: str) -> str:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert all(w in detail for w in words), detail
    return str(detail)


def test_prompt_over_the_token_limit_is_refused(copier: TestClient, copy_run: Path) -> None:
    at_limit = " ".join(["word"] * 8)
    assert copier.post("/generate", json={"text": at_limit}).json()["text"] == at_limit
    over = copier.post("/generate", json={"text": at_limit + " more", "stream": True})
    refusal(over, 422, "9 tokens", "limit of 8", "generation.max_source_tokens")
    with TestClient(create_app(copy_run, ServeSettings(max_prompt_tokens=4))) as client:
        assert client.post("/generate", json={"text": "one two three four"}).status_code == 200
        lowered = client.post("/generate", json={"text": "one two three four five"})
        refusal(lowered, 422, "5 tokens", "limit of 4", "--max-prompt-tokens")
    with pytest.raises(TailorError, match="max-prompt-tokens 9 .*max_source_tokens of 8"):
        create_app(copy_run, ServeSettings(max_prompt_tokens=9))


def test_bad_requests_get_a_clear_422(copier: TestClient) -> None:
    for empty in ("", "  \n "):
        refusal(copier.post("/generate", json={"text": empty}), 422, "text is empty")
    unknown = copier.post("/generate", json={"text": "hi", "temprature": 0.5})
    refusal(unknown, 422, "unknown key 'temprature'", "did you mean 'temperature'")
    assert unknown.json()["errors"][0]["loc"] == ["temprature"]
    over = copier.post("/generate", json={"text": "hi", "max_new_tokens": 9, "stream": True})
    refusal(over, 422, "max_new_tokens is 9", "limit of 8", "generation.max_target_tokens")
    refusal(copier.post("/generate", json={"text": 5}), 422, "text:", "string")
    refusal(copier.post("/generate", json={"text": "hi", "stream": "yes"}), 422, "stream:")
    refusal(copier.post("/generate", json={"text": "hi", "temperature": 0}), 422, "temperature")
    refusal(copier.post("/generate", json={"text": "hi", "strategy": "best"}), 422, "strategy")
    refusal(copier.post("/generate", json={}), 422, 'needs "text"')
    refusal(copier.post("/generate", json=["hi"]), 422, "JSON object")
    refusal(copier.post("/generate", content=b'{"text": '), 422, "not valid JSON")
    refusal(copier.post("/predict", json={"rows": [{}]}), 404, "/generate")


def test_body_over_the_limit_gets_413(copy_run: Path) -> None:
    with TestClient(create_app(copy_run, ServeSettings(max_body_bytes=100))) as client:
        big = client.post("/generate", json={"text": "x" * 200})
        refusal(big, 413, "100 bytes")
        assert client.post("/generate", json={"text": "x"}).status_code == 200


def test_api_key_is_required_except_for_probes(copy_run: Path) -> None:
    app = create_app(copy_run, ServeSettings(api_key="s3cret"))
    with TestClient(app) as client:
        body = {"text": "hello there"}
        refusal(client.post("/generate", json=body), 401, "API key")
        wrong = client.post("/generate", json={**body, "stream": True},
                            headers={"X-API-Key": "wrong"})  # fmt: skip
        assert wrong.status_code == 401
        assert client.get("/metrics").status_code == 401
        for path in ("/health", "/ready", "/", "/openapi.json"):
            assert client.get(path).status_code == 200, path
        ok = client.post("/generate", json=body, headers={"X-API-Key": "s3cret"})
        assert ok.status_code == 200 and ok.json()["text"] == "hello there"
        bearer = {"Authorization": "Bearer s3cret"}
        pieces, _ = streamed_with(client, body, bearer)
        assert "".join(pieces) == "hello there"
        assert client.get("/metrics", headers=bearer).status_code == 200
        document = client.get("/openapi.json").json()
        assert "ApiKey" in document["components"]["securitySchemes"]
    assert metric(app, "tailor_errors_total", path="/generate", status="401") == 2


def streamed_with(client: TestClient, body: dict[str, Any],
                  headers: dict[str, str]) -> tuple[list[str], dict[str, Any]]:  # fmt: skip
    sent = events(client.post("/generate", json={**body, "stream": True}, headers=headers))
    assert sent[-1]["done"] is True
    return [e["text"] for e in sent[:-1]], sent[-1]


# ---------------------------------------------------------------- service


def test_metrics_count_generations(copy_run: Path) -> None:
    app = create_app(copy_run)
    with TestClient(app) as client:
        for text in ("one two", "three four five"):
            assert client.post("/generate", json={"text": text}).status_code == 200
        streamed(client, {"text": "six seven"})
        assert client.post("/generate", json={"text": ""}).status_code == 422
        text = client.get("/metrics").text
    assert metric(app, "tailor_generation_requests_total", mode="whole", outcome="ok") == 2
    assert metric(app, "tailor_generation_requests_total", mode="stream", outcome="ok") == 1
    assert metric(app, "tailor_generated_tokens_total") == 2 + 3 + 2
    assert metric(app, "tailor_generation_duration_seconds_count", mode="whole") == 2
    assert metric(app, "tailor_generation_seconds_per_token_count") == 3
    assert metric(app, "tailor_generation_first_piece_seconds_count") == 1
    assert 'tailor_requests_total{path="/generate",status="200"} 3.0' in text
    assert 'tailor_requests_total{path="/generate",status="422"} 1.0' in text
    assert 'tailor_generation_requests_total{mode="stream",outcome="ok"} 1.0' in text


def test_personal_data_is_redacted_streamed_or_not(base: Path) -> None:
    text = f"mail {PLANTED_EMAIL} today"
    with TestClient(create_app(trained_generator("redact", base))) as client:
        answer = client.post("/generate", json={"text": text})
        assert answer.status_code == 200, answer.text
        assert answer.json()["text"] == "mail <EMAIL_ADDRESS> today"
        pieces, _ = streamed(client, {"text": text})
        assert "".join(pieces) == "mail <EMAIL_ADDRESS> today"
        assert PLANTED_EMAIL not in answer.text + "".join(pieces)


def test_openapi_documents_generate(copier: TestClient) -> None:
    document = copier.get("/openapi.json").json()
    assert set(document["paths"]) == {"/generate", "/health", "/ready", "/metrics"}
    operation = document["paths"]["/generate"]["post"]
    body = operation["requestBody"]["content"]["application/json"]
    assert body["schema"]["$ref"] == "#/components/schemas/GenerateRequest"
    answers = operation["responses"]["200"]["content"]
    assert answers["application/json"]["schema"]["$ref"].endswith("/GenerateResponse")
    assert "text/event-stream" in answers
    assert {"401", "413", "422", "503"} <= set(operation["responses"])
    schemas = document["components"]["schemas"]
    request = schemas["GenerateRequest"]
    assert request["additionalProperties"] is False and request["required"] == ["text"]
    assert {"text", "stream", "strategy", "max_new_tokens", "temperature", "top_k", "top_p",
            "seed", "beam_size"} == set(request["properties"])  # fmt: skip
    assert "At most 8" in request["properties"]["max_new_tokens"]["description"]
    assert set(schemas["GenerateResponse"]["properties"]) == {
        "text", "tokens", "source_truncated", "latency_ms"}  # fmt: skip
    assert {"StreamPiece", "StreamDone", "StreamError", "ErrorResponse"} <= set(schemas)


def test_ready_says_503_while_draining(copy_run: Path) -> None:
    app = create_app(copy_run)
    with TestClient(app) as client:
        assert client.get("/ready").json()["family"] == "generator"
        app.state.service.closing = True
        assert client.get("/ready").status_code == 503
        refusal(client.post("/generate", json={"text": "hi"}), 503, "shutting down")
        assert client.get("/health").status_code == 200


# ---------------------------------------------------------------- off the event loop


class SlowStream:
    """A generator's ``stream`` that writes ``pieces`` pieces, ``delay`` seconds
    each, and records how many it wrote and whether it was closed."""

    def __init__(self, pieces: int, delay: float):
        self.pieces, self.delay = pieces, delay
        self.written = 0
        self.closed = False

    def __call__(self, source: str, decoding: GenerationConfig | None = None) -> Iterator[str]:
        try:
            for _ in range(self.pieces):
                time.sleep(self.delay)
                self.written += 1
                yield "x "
        finally:
            self.closed = True


def slow_app(copy_run: Path, stream: SlowStream) -> FastAPI:
    app = create_app(copy_run)
    run: GenerationRun = app.state.service.run
    run.generator.stream = stream
    return app


async def call_until(app: FastAPI, body: dict[str, Any], chunks: int) -> list[bytes]:
    """Send a request to the ASGI app and go away once ``chunks`` body chunks
    have arrived (``http.disconnect``, as a server says when a client leaves)."""
    received: list[bytes] = []
    enough = asyncio.Event()
    raw = json.dumps(body).encode()
    asked = False

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": raw, "more_body": False}
        await enough.wait()
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            received.append(message["body"])
            if len(received) >= chunks:
                enough.set()

    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
             "http_version": "1.1", "method": "POST", "scheme": "http", "path": "/generate",
             "raw_path": b"/generate", "query_string": b"", "root_path": "",
             "headers": [(b"content-type", b"application/json"),
                         (b"content-length", str(len(raw)).encode())],
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}  # fmt: skip
    await asyncio.wait_for(app(scope, receive, send), timeout=30)
    return received


def test_a_client_that_leaves_stops_the_generation(copy_run: Path) -> None:
    stream = SlowStream(pieces=500, delay=0.01)
    app = slow_app(copy_run, stream)
    started = time.perf_counter()
    received = asyncio.run(call_until(app, {"text": "go on", "stream": True}, chunks=3))
    assert time.perf_counter() - started < 3  # not the 5 s of the whole stream
    assert received[:3] == [b'data: {"text":"x "}\n\n'] * 3
    assert stream.closed and stream.written <= 5  # stopped at the piece being decoded
    assert metric(app, "tailor_generation_requests_total", mode="stream", outcome="cancelled") == 1
    assert app.state.service.in_flight == 0


def test_a_client_that_leaves_a_real_server_stops_the_generation(copy_run: Path) -> None:
    stream = SlowStream(pieces=500, delay=0.01)
    app = slow_app(copy_run, stream)
    server = uvicorn.Server(uvicorn.Config(app, port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.02)
        url = f"http://127.0.0.1:{server.config.port}/generate"
        with httpx.stream("POST", url, json={"text": "go on", "stream": True}) as response:
            lines = response.iter_lines()
            assert [next(lines) for _ in range(6)] == ['data: {"text":"x "}', ""] * 3
        deadline = time.monotonic() + 5
        while not stream.closed and time.monotonic() < deadline:
            time.sleep(0.02)
        assert stream.closed and stream.written < 100  # not the 500 pieces
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    assert metric(app, "tailor_generation_requests_total", mode="stream", outcome="cancelled") == 1


def test_a_stream_does_not_hold_up_other_requests(copy_run: Path) -> None:
    stream = SlowStream(pieces=3, delay=1.0)  # decoding a piece takes a second
    app = slow_app(copy_run, stream)
    with TestClient(app) as client:
        answers: list[Any] = []
        slow = threading.Thread(target=lambda: answers.append(
            client.post("/generate", json={"text": "go on", "stream": True})))  # fmt: skip
        slow.start()
        while stream.written == 0:  # the second piece is being decoded now
            time.sleep(0.01)
        started = time.perf_counter()
        assert client.get("/health").status_code == 200
        whole = client.post("/generate", json={"text": "quick one"})
        assert whole.status_code == 200 and whole.json()["text"] == "quick one"
        assert time.perf_counter() - started < 0.5 and stream.written < 3  # meanwhile
        slow.join(timeout=30)
    pieces = [e["text"] for e in events(answers[0])[:-1]]
    assert pieces == ["x "] * 3
