"""The prediction service as a FastAPI app: ``create_app(run_dir, settings)``
(for a text generator's run, the generation service of ``generation.py``).

Routes: ``POST /predict``, ``POST /explain``, ``GET /health`` (alive),
``GET /ready`` (taking requests), ``GET /metrics`` (Prometheus), ``GET /``
(the playground) and the OpenAPI document at ``/openapi.json``. There is no
Swagger ``/docs`` page: FastAPI's loads its script from a CDN, and nothing this
service serves may reach outside.
The request bodies are read raw and validated by ``RowReader`` (pydantic's JSON
parser, numpy for pixels) rather than by FastAPI's own body handling, which
would validate every pixel twice; their schemas still go into OpenAPI.

A model with audio inputs takes each clip as base64 text in JSON, or one row
as a ``multipart/form-data`` upload on the same routes (a file per audio input,
the form field named as the feature; the other features as form fields): same
key, limits, metrics, batching and answer. Its body limit grows by room for
one clip of ``max_audio_bytes`` per audio input (as base64), and its clips are
decoded off the event loop.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

import tailorml
from tailorml.runs.generation import is_generator
from tailorml.serve.batching import Batcher, Chunk
from tailorml.serve.guard import GuardMiddleware
from tailorml.serve.metrics import Metrics, MetricsMiddleware
from tailorml.serve.playground import playground_html
from tailorml.serve.predictor import Predictor
from tailorml.serve.responses import json_response, openapi
from tailorml.serve.rows import ApiError, Row, RowReader, Upload
from tailorml.serve.schema import (
    InputField,
    components,
    example_row,
    input_fields,
    request_type,
    response_types,
    upload_schema,
)
from tailorml.serve.settings import ServeSettings


def create_app(run_dir: str | Path, settings: ServeSettings | None = None) -> FastAPI:
    """The service for what ``tailor train`` wrote (or ``RUN/model``); ``settings``
    default as ``tailor serve``'s.

    A text generator's run gets the generation service (``generation.py``).

    Raises:
        TailorError: the folder holds no model, or ``backend="onnx"`` without
            an ONNX export.
    """
    settings = settings or ServeSettings()
    run_dir = Path(run_dir)
    if is_generator(run_dir):  # a text generator: POST /generate instead (generation.py)
        from tailorml.serve.generation import create_generation_app

        return create_generation_app(run_dir, settings)
    run = tailorml.load(run_dir)
    fields = input_fields(run, settings)
    bundle_dir = run_dir / "model" if run.path is not None else run_dir  # else a bare bundle
    predictor = Predictor(run, fields, bundle_dir, settings.backend)
    reader = RowReader(fields)
    metrics = Metrics(predictor.backend, run.bundle.family)
    batcher = Batcher(predictor.predict, max_rows=settings.max_batch_size,
                      max_wait=settings.max_wait_ms / 1000, max_queue_rows=settings.max_queue_rows,
                      on_batch=metrics.observe_batch)  # fmt: skip
    warm_up(predictor, reader, fields)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        batcher.start()
        yield
        await batcher.close()  # the server has drained its requests; finish the queue

    app = FastAPI(title=f"tailorml: predict '{run.bundle.features.target.name}'",
                  version=tailorml.__version__, description=api_description(settings, fields),
                  lifespan=lifespan, docs_url=None, redoc_url=None)  # fmt: skip
    app.state.metrics = metrics
    app.state.predictor = predictor
    add_routes(app, reader, batcher, predictor, settings)

    @app.exception_handler(ApiError)
    async def refused(request: Request, err: ApiError) -> Response:
        return json_response(err.body(), err.status)

    page = playground_html(run, fields, predictor.can_explain, settings.api_key is not None)

    @app.get("/", include_in_schema=False)
    async def playground() -> HTMLResponse:
        return HTMLResponse(page)

    schemas = components({"PredictRequest": request_type(fields), **response_types(run)})
    if reader.audio:
        schemas["PredictUpload"] = upload_schema(fields)
    app.openapi = lambda: openapi(app, schemas, settings)  # type: ignore[method-assign]
    app.add_middleware(GuardMiddleware, api_key=settings.api_key,
                       max_body_bytes=body_limit(settings, fields))  # fmt: skip
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


def body_limit(settings: ServeSettings, fields: list[InputField]) -> int:
    """The largest body: ``max_body_bytes``, plus for each audio input one clip
    of ``max_audio_bytes`` as base64 (4 bytes per 3)."""
    clips = sum(f.kind == "audio" for f in fields)
    return settings.max_body_bytes + clips * 4 * math.ceil(settings.max_audio_bytes / 3)


async def request_rows(request: Request, reader: RowReader) -> list[Row]:
    """The rows of a JSON body, or the one row of a multipart form (for a model
    with audio inputs); audio is decoded on a worker thread.

    Raises:
        ApiError: 413 or 422 naming the field (``RowReader``).
    """
    if not reader.audio:
        return reader.read(await request.body())
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        audio = reader.audio[0].name
        raise ApiError(422, "a url-encoded form cannot hold a file: send JSON, or a "
                       "multipart/form-data upload with each audio input as a file (as curl "
                       f"-F '{audio}=@clip.wav' sends it).")  # fmt: skip
    if kind != "multipart/form-data":
        return await run_in_threadpool(reader.read, await request.body())
    parts: list[tuple[str, str | Upload]] = []
    try:  # a part with no file name is a form value; one with a name, a file
        async with request.form(max_files=64, max_fields=1000) as form:
            for name, value in form.multi_items():
                if isinstance(value, UploadFile):
                    parts.append((name, Upload(value.filename or "", await value.read())))
                else:
                    parts.append((name, value))
    except (HTTPException, MultiPartException) as err:  # the multipart parser's complaint
        detail = err.detail if isinstance(err, HTTPException) else err.message
        raise ApiError(422, f"the multipart form cannot be read: {detail}") from None
    return await run_in_threadpool(reader.read_form, parts)


def warm_up(predictor: Predictor, reader: RowReader, fields: list[InputField]) -> None:
    """One prediction at start-up: a broken bundle fails now, not on the first request."""
    rows = reader.read(json.dumps({"rows": [example_row(fields)]}).encode())
    result = predictor.predict([Chunk(rows)])[0]
    if isinstance(result, Exception):
        raise result


def add_routes(
    app: FastAPI, reader: RowReader, batcher: Batcher, predictor: Predictor, settings: ServeSettings
) -> None:
    """The routes, documented in OpenAPI: every one but the probes needs the API key."""
    locked: dict[str, Any] = (
        {"security": [{"ApiKey": []}, {"Bearer": []}]} if settings.api_key else {}
    )
    content: dict[str, Any] = {"application/json": {
        "schema": {"$ref": "#/components/schemas/PredictRequest"},
        "example": {"rows": [example_row(predictor.fields)]}}}  # fmt: skip
    if reader.audio:
        content["multipart/form-data"] = {"schema": {"$ref": "#/components/schemas/PredictUpload"}}
    body_doc = {"requestBody": {"required": True, "content": content}, **locked}

    @app.post("/predict", openapi_extra=body_doc, responses=documented("PredictResponse"),
              summary="Predict rows")  # fmt: skip
    async def predict(request: Request) -> Response:
        """Predict each row: its label and class probabilities, or its value for a
        regression model. Rows are batched with other requests' rows."""
        rows = await request_rows(request, reader)
        return json_response({"predictions": await batcher.submit(rows)})

    if predictor.can_explain:

        @app.post("/explain", openapi_extra=body_doc, responses=documented("ExplainResponse"),
                  summary="Explain rows")  # fmt: skip
        async def explain(request: Request) -> Response:
            """Attribute each row's decision to its input features (Integrated
            Gradients for deep models, exact contributions for linear models and
            trees)."""
            rows = await request_rows(request, reader)
            explanations = []
            for start in range(0, len(rows), batcher.max_rows):
                part = rows[start : start + batcher.max_rows]
                explanations += await batcher.call(predictor.explain, part, start)
            return json_response({"explanations": explanations})

    @app.get("/health", responses=documented("Health", errors=()), summary="Liveness")
    async def health() -> Response:
        """200 while the process is up (no API key needed)."""
        return json_response({"status": "ok"})

    @app.get("/ready", responses=documented("Ready", errors=(503,)), summary="Readiness")
    async def ready() -> Response:
        """200 while the model takes requests; 503 once shutting down (no API key
        needed)."""
        state = "draining" if batcher.closing else "ready"
        body = {"status": state, "backend": predictor.backend, "family": predictor.family}
        return json_response(body, 503 if batcher.closing else 200)

    text = {"content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "Prometheus text format."}  # fmt: skip

    @app.get("/metrics", summary="Prometheus metrics", openapi_extra=locked,
             responses={**documented("", errors=(401,)), 200: text})  # fmt: skip
    async def prometheus() -> Response:
        """Requests and errors by path and status, latency and batch sizes."""
        return Response(generate_latest(app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


ERRORS = {
    401: "Missing or wrong API key (when the service has one).",
    413: "The body (or an audio clip in it) is larger than the service's limit.",
    422: "A field is missing, unknown, of the wrong type or shape, or not finite; the "
    "message names the row and the field.",
    503: "Shutting down, or too many rows waiting.",
}


def documented(name: str, errors: tuple[int, ...] = (401, 413, 422, 503)) -> dict[int | str, Any]:
    """OpenAPI responses: ``name`` for 200 and the error body for each error."""
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    ok = {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}
    return {
        200: {"description": "OK", "content": ok},
        **{status: {"description": ERRORS[status], "content": error} for status in errors},
    }


def api_description(settings: ServeSettings, fields: list[InputField]) -> str:
    key = (
        "Every route except `/health`, `/ready`, `/` and `/openapi.json` needs the "
        "API key, as `X-API-Key: KEY` or `Authorization: Bearer KEY`. "
        if settings.api_key
        else ""
    )
    audio = [f.name for f in fields if f.kind == "audio"]
    clips = (
        f"Audio ({', '.join(repr(n) for n in audio)}) comes as base64 text in JSON, or as "
        "files in a `multipart/form-data` upload of one row (form field name = feature "
        f"name); clips above {settings.max_audio_bytes:,} bytes get 413, clips longer than "
        f"{settings.max_audio_seconds:g} s or that are not readable audio get 422. "
        if audio
        else ""
    )
    return (
        "Predictions from a tailorml model, batched adaptively across requests. "
        f"{key}Bodies above {body_limit(settings, fields):,} bytes get 413; invalid rows get 422 "
        f"with a message naming the row and the field. {clips}"
    ).strip()
