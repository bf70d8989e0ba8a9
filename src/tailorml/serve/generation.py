"""The text-generation service: what ``create_app`` serves for a generator's run.

Routes: ``POST /generate``, ``GET /health``, ``GET /ready``, ``GET /metrics``
(Prometheus), ``GET /`` (the playground) and the OpenAPI document at
``/openapi.json``. The API key (401), the body limit (413) and the request
series are the prediction service's (``guard.py``, ``metrics.py``). There is
no ``/predict``: it answers 404, pointing to ``/generate``.

``POST /generate`` takes ``{"text": …}`` and optional decoding overrides
(``GenerateRequest``) and answers ``{"text", "tokens", "source_truncated",
"latency_ms"}`` (``GenerateResponse``). With ``"stream": true`` it answers
server-sent events (``text/event-stream``): one ``data: {"text": piece}`` per
decoded piece, then ``data: {"done": true, "tokens": n, "latency_ms": ms}``;
should the generator fail midway (the 200 is sent by then), ``data: {"error":
message}`` ends the stream instead. Joined, the pieces are the whole answer's
text for greedy decoding (and for sampling with the same seed). A stream's
``tokens`` counts its text as the generator reads text (``source_tokens``): the
whole answer's count for greedy text, about it for sampled text.

Refusals, each one sentence naming the value and the limit:

- 413: the body is over ``max_body_bytes`` (checked by the guard, unparsed).
- 422: an empty text; an unknown key, a missing ``text``, a value of the wrong
  type or out of range; ``max_new_tokens`` above the model's
  ``generation.max_target_tokens``; a prompt over the token limit — the
  model's ``generation.max_source_tokens``, or a lower ``max_prompt_tokens``.
  413 is kept for bytes: a prompt's tokens are a property of its content, as
  an audio clip's seconds are (422 there too).
- 503: shutting down, or ``max_queue_rows`` generations already in flight.

The generator runs on worker threads, never on the event loop: a whole answer
in one call, a stream one piece per call, at most ``model_threads`` calls at a
time. Streams therefore interleave piece by piece, and the probes and other
requests are answered meanwhile. A stream whose client goes away stops at the
piece being decoded: the generator is closed and decodes nothing more.
"""

from __future__ import annotations

import copy
import csv
import functools
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Generator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal, TypeVar

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter, ValidationError
from typing_extensions import TypedDict

import tailorml
from tailorml.config import GenerationConfig
from tailorml.errors import TailorError, dash_hint
from tailorml.models.generation import Generator as TextGenerator
from tailorml.runs.generation import GenerationRun, load_generation
from tailorml.serve.generation_page import generation_page
from tailorml.serve.guard import GuardMiddleware
from tailorml.serve.metrics import GenerationMetrics, MetricsMiddleware
from tailorml.serve.responses import json_response, openapi
from tailorml.serve.rows import ApiError, where
from tailorml.serve.schema import REF, ErrorResponse, Health, Ready, components
from tailorml.serve.settings import ServeSettings

log = logging.getLogger("tailorml.serve")
T = TypeVar("T")
WARM_UP = "Hello."


class GenerateRequest(BaseModel):
    """A text to generate from, and how: each decoding field left out keeps the
    model's ``generation:`` config."""

    model_config = ConfigDict(extra="forbid", strict=True)

    text: str = Field(description="The prompt (the model's input text); not empty.")
    stream: bool = Field(
        default=False, description="Answer as server-sent events, a piece as it is decoded."
    )
    strategy: Literal["greedy", "beam", "sample"] | None = Field(
        default=None, description="Decoding: greedy, beam search, or sampling."
    )
    max_new_tokens: int | None = Field(default=None, ge=1, description="Most tokens written.")
    temperature: float | None = Field(default=None, gt=0, description="sample: temperature.")
    top_k: int | None = Field(default=None, ge=1, description="sample: keep the k likeliest.")
    top_p: float | None = Field(
        default=None, gt=0, le=1, description="sample: keep the smallest set reaching p."
    )
    seed: int | None = Field(default=None, description="sample: the random generator's seed.")
    beam_size: int | None = Field(default=None, ge=1, le=32, description="beam: hypotheses kept.")


KEYS = tuple(GenerateRequest.model_fields)
DECODING = ("strategy", "temperature", "top_k", "top_p", "seed", "beam_size")


class GenerateResponse(TypedDict):
    text: str
    tokens: int  # written, EOS not counted
    source_truncated: bool  # the prompt was cut to the model's limit
    latency_ms: float  # from the request's arrival to the answer


class StreamPiece(TypedDict):
    text: str


class StreamDone(TypedDict):
    done: Literal[True]
    tokens: int
    latency_ms: float


class StreamError(TypedDict):
    error: str


GenerateEvent = StreamPiece | StreamDone | StreamError


def create_generation_app(run_dir: Path, settings: ServeSettings) -> FastAPI:
    """The service for a generator's run folder (or bare bundle folder).

    Raises:
        TailorError: the run cannot be loaded, or ``max_prompt_tokens`` is above
            the model's ``generation.max_source_tokens``.
    """
    service = GenerationService(load_generation(run_dir), settings, example_text(run_dir))
    service.warm_up()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        service.closing = True  # uvicorn has let the requests in flight finish

    config = service.run.config
    app = FastAPI(title=f"tailorml: generate '{config.output.name}'",
                  version=tailorml.__version__, description=api_description(service, settings),
                  lifespan=lifespan, docs_url=None, redoc_url=None)  # fmt: skip
    app.state.metrics = service.metrics
    app.state.service = service
    add_generation_routes(app, service, settings)

    @app.exception_handler(ApiError)
    async def refused(request: Request, err: ApiError) -> Response:
        return json_response(err.body(), err.status)

    page = generation_page(service.run, service.prompt_limit, service.example,
                           settings.api_key is not None)  # fmt: skip

    @app.get("/", include_in_schema=False)
    async def playground() -> HTMLResponse:
        return HTMLResponse(page)

    types: dict[str, Any] = {"GenerateResponse": GenerateResponse, "GenerateEvent": GenerateEvent,
                             "ErrorResponse": ErrorResponse, "Health": Health,
                             "Ready": Ready}  # fmt: skip
    schemas = components(types)
    schemas["GenerateRequest"] = request_schema(service)
    app.openapi = lambda: openapi(app, schemas, settings)  # type: ignore[method-assign]
    app.add_middleware(GuardMiddleware, api_key=settings.api_key,
                       max_body_bytes=settings.max_body_bytes)  # fmt: skip
    app.add_middleware(MetricsMiddleware, metrics=service.metrics)
    return app


class GenerationService:
    """Checks requests against the limits and runs the generator off the event loop.

    Attributes:
        run: the generator and its config (``generation:`` holds the limits).
        prompt_limit: the longest prompt, in the generator's tokens.
        closing: set once the server shuts down: /ready and /generate say 503.
    """

    def __init__(self, run: GenerationRun, settings: ServeSettings, example: str = ""):
        self.run = run
        self.limits = run.config.generation
        self.prompt_limit, self.prompt_origin = prompt_limit(self.limits, settings)
        self.max_in_flight = settings.max_queue_rows
        self.threads = model_threads(settings)
        self.metrics = GenerationMetrics("torch", "generator")
        self.closing = False
        self.in_flight = 0
        self.example = example
        self._limiter: RunVar[anyio.CapacityLimiter] = RunVar("tailor_generation_threads")

    def warm_up(self) -> None:
        """One generation at start-up: a broken bundle (or a missing personal-data
        recogniser, under ``output_pii: redact``) fails now, not on the first request."""
        short = self.limits.model_copy(
            update={"max_target_tokens": min(8, self.limits.max_target_tokens)}
        )
        run = GenerationRun(limited(self.run.generator, short), self.run.path)
        run.generate([self.example or WARM_UP], short)

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` on a worker thread; a cancelled request waits for it
        to return (a generator is never closed mid-step)."""
        try:
            limiter = self._limiter.get()
        except LookupError:  # one per event loop
            limiter = anyio.CapacityLimiter(self.threads)
            self._limiter.set(limiter)
        return await anyio.to_thread.run_sync(functools.partial(function, *args), limiter=limiter)

    async def accept(self, body: bytes) -> tuple[GenerateRequest, GenerationRun, GenerationConfig]:
        """The request, the run that writes its answer and its decoding.

        Raises:
            ApiError: 422 for a bad body, an empty or too long prompt, or
                ``max_new_tokens`` over the model's limit; 503 while shutting
                down or with ``max_queue_rows`` generations in flight.
        """
        if self.closing:
            raise ApiError(503, "the service is shutting down; retry on another instance.")
        request = read_request(body)
        if not request.text.strip():
            raise ApiError(422, "text is empty: send the text to generate from.",
                           [{"loc": ["text"], "msg": "text is empty."}])  # fmt: skip
        decoding = self.decoding(request)
        tokens = await self.call(self.run.generator.source_tokens, request.text)
        if tokens > self.prompt_limit:
            detail = (f"text is {tokens:,} tokens long, over the limit of {self.prompt_limit:,} "
                      f"tokens ({self.prompt_origin}); shorten it.")  # fmt: skip
            raise ApiError(422, detail, [{"loc": ["text"], "msg": detail}])
        if self.in_flight >= self.max_in_flight:
            raise ApiError(503, "the service is busy: too many generations are in flight; "
                           "retry shortly.")  # fmt: skip
        return (
            request,
            GenerationRun(limited(self.run.generator, decoding), self.run.path),
            decoding,
        )

    def decoding(self, request: GenerateRequest) -> GenerationConfig:
        """The model's ``generation:`` config with the request's overrides.

        Raises:
            ApiError: 422, ``max_new_tokens`` above ``generation.max_target_tokens``.
        """
        limit = self.limits.max_target_tokens
        if request.max_new_tokens is not None and request.max_new_tokens > limit:
            detail = (f"max_new_tokens is {request.max_new_tokens:,}, above this model's limit "
                      f"of {limit:,} tokens (generation.max_target_tokens).")  # fmt: skip
            raise ApiError(422, detail, [{"loc": ["max_new_tokens"], "msg": detail}])
        chosen = request.model_dump(include=set(DECODING), exclude_none=True)
        if request.max_new_tokens is not None:
            chosen["max_target_tokens"] = request.max_new_tokens
        return GenerationConfig.model_validate(self.limits.model_dump() | chosen)

    async def whole(
        self, run: GenerationRun, request: GenerateRequest, decoding: GenerationConfig,
        started: float,
    ) -> GenerateResponse:  # fmt: skip
        """The whole answer, as ``GenerationRun.generate`` writes it."""
        self.in_flight += 1
        outcome, tokens = "error", 0
        try:
            written = (await self.call(run.generate, [request.text], decoding))[0]
            outcome, tokens = "ok", written.tokens
        except BaseException as err:
            outcome = "cancelled" if isinstance(err, anyio.get_cancelled_exc_class()) else "error"
            raise
        finally:
            self.in_flight -= 1
            self.metrics.observe_generation("whole", outcome, tokens, time.perf_counter() - started)
        return {"text": written.text, "tokens": written.tokens,
                "source_truncated": written.source_truncated,
                "latency_ms": milliseconds(started)}  # fmt: skip

    async def events(
        self, run: GenerationRun, request: GenerateRequest, decoding: GenerationConfig,
        started: float,
    ) -> AsyncIterator[bytes]:  # fmt: skip
        """Server-sent events: each piece ``GenerationRun.stream`` gives, then the
        done (or error) event. Closing this iterator (the client left) closes
        the generator."""
        self.in_flight += 1
        pieces = run.stream(request.text, decoding)
        written: list[str] = []
        outcome, tokens = "cancelled", 0
        try:
            while (piece := await self.call(next, pieces, None)) is not None:
                if not written:
                    self.metrics.first_piece.observe(time.perf_counter() - started)
                written.append(piece)
                yield event({"text": piece})
            tokens = await self.call(run.generator.source_tokens, "".join(written))
            outcome = "ok"
            yield event({"done": True, "tokens": tokens, "latency_ms": milliseconds(started)})
        except Exception as err:  # the 200 is sent: the stream says what went wrong
            outcome = "error"
            log.exception("generation failed")
            yield event({"error": f"the generator failed ({type(err).__name__}); see the "
                         "service's log."})  # fmt: skip
        finally:
            if isinstance(pieces, Generator):  # decodes nothing more
                pieces.close()
            self.in_flight -= 1
            self.metrics.observe_generation(
                "stream", outcome, tokens, time.perf_counter() - started
            )


def event(data: dict[str, JsonValue]) -> bytes:
    """One server-sent event; JSON keeps the text on one line (newlines escaped)."""
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


def milliseconds(started: float) -> float:
    return round(1000 * (time.perf_counter() - started), 1)


def limited(generator: TextGenerator, decoding: GenerationConfig) -> TextGenerator:
    """The generator writing at most ``decoding.max_target_tokens``.

    Generators cut their output at their own ``limits.max_target_tokens``, so a
    request's lower ``max_new_tokens`` needs a view with those limits: a shallow
    copy, weights and tokenizer shared, made per request (thread-safe).
    """
    if decoding.max_target_tokens == generator.limits.max_target_tokens:
        return generator
    view = copy.copy(generator)
    view.limits = decoding
    return view


def prompt_limit(limits: GenerationConfig, settings: ServeSettings) -> tuple[int, str]:
    """The longest prompt in tokens, and where that limit comes from.

    Raises:
        TailorError: ``max_prompt_tokens`` is above the model's ``max_source_tokens``.
    """
    model = limits.max_source_tokens
    if settings.max_prompt_tokens is None:
        return model, "this model's generation.max_source_tokens"
    if settings.max_prompt_tokens > model:
        raise TailorError(
            f"--max-prompt-tokens {settings.max_prompt_tokens} is above this model's "
            f"generation.max_source_tokens of {model}: it can only lower the limit."
        )
    return settings.max_prompt_tokens, "the service's --max-prompt-tokens"


def model_threads(settings: ServeSettings) -> int:
    """Generator calls at a time: the cores per worker process, at least 2 so that
    one long whole answer never stalls every stream."""
    return max(2, (os.cpu_count() or 1) // settings.workers)


def read_request(body: bytes) -> GenerateRequest:
    """The validated body.

    Raises:
        ApiError: 422 naming the first bad key (and listing every problem).
    """
    try:
        return GenerateRequest.model_validate_json(body)
    except ValidationError as err:
        items = err.errors(include_url=False, include_context=False, include_input=False)
        problems = [{"loc": list(i["loc"]), "msg": problem(i["type"], i["loc"], i["msg"])}
                    for i in items]  # fmt: skip
        raise ApiError(422, problems[0]["msg"], problems) from None  # type: ignore[arg-type]


def problem(kind: str, loc: tuple[str | int, ...], text: str) -> str:
    """One sentence for one pydantic error."""
    keys = ", ".join(KEYS)
    if kind == "json_invalid":
        return f"the body is not valid JSON: {text.removeprefix('Invalid JSON: ')}."
    if kind == "model_type" or not loc:
        return 'the body must be a JSON object: {"text": "…"}.'
    name = str(loc[0])
    if kind == "extra_forbidden":
        return f"unknown key '{name}'{dash_hint(name, KEYS) or '.'} The keys are {keys}."
    if kind == "missing":
        return 'the body needs "text": the text to generate from.'
    return f"{where(loc)}: {text[0].lower()}{text[1:]}."


def example_text(run_dir: Path) -> str:
    """The first test input of the run's ``samples.csv`` (the playground's text), or ""."""
    try:
        with open(run_dir / "samples.csv", newline="", encoding="utf-8") as file:
            first = next(csv.DictReader(file), None)
    except (OSError, csv.Error, UnicodeDecodeError):
        return ""
    return str(first.get("input") or "") if first else ""


def add_generation_routes(
    app: FastAPI, service: GenerationService, settings: ServeSettings
) -> None:
    """The routes, documented in OpenAPI: every one but the probes needs the API key."""
    locked: dict[str, Any] = (
        {"security": [{"ApiKey": []}, {"Bearer": []}]} if settings.api_key else {}
    )
    example = {"text": service.example or WARM_UP}
    schema = {"$ref": REF.format(model="GenerateRequest")}
    content = {"application/json": {"schema": schema, "example": example}}
    body_doc = {"requestBody": {"required": True, "content": content}, **locked}

    @app.post("/generate", openapi_extra=body_doc, responses=generate_responses(settings),
              summary="Generate text")  # fmt: skip
    async def generate(request: Request) -> Response:
        """Write the model's text for a prompt: the whole answer as JSON, or with
        ``"stream": true`` server-sent events, a piece as it is decoded."""
        started = time.perf_counter()
        body, run, decoding = await service.accept(await request.body())
        if not body.stream:
            return json_response(await service.whole(run, body, decoding, started))
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(service.events(run, body, decoding, started),
                                 media_type="text/event-stream", headers=headers)  # fmt: skip

    @app.post("/predict", include_in_schema=False)
    async def predict() -> Response:
        raise ApiError(404, 'this service writes text: POST /generate {"text": "…"}; /predict '
                       "serves classifiers and regressors.")  # fmt: skip

    @app.get("/health", responses=documented("Health", ()), summary="Liveness")
    async def health() -> Response:
        """200 while the process is up (no API key needed)."""
        return json_response({"status": "ok"})

    @app.get("/ready", responses=documented("Ready", (503,)), summary="Readiness")
    async def ready() -> Response:
        """200 while the model takes requests; 503 once shutting down (no API key
        needed)."""
        state = "draining" if service.closing else "ready"
        body = {"status": state, "backend": "torch", "family": "generator"}
        return json_response(body, 503 if service.closing else 200)

    text = {"content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "Prometheus text format."}  # fmt: skip

    @app.get("/metrics", summary="Prometheus metrics", openapi_extra=locked,
             responses={**documented("", (401,)), 200: text})  # fmt: skip
    async def prometheus() -> Response:
        """Requests and errors by path and status, latency; generations by mode and
        outcome, tokens written, time per generation, per token, to the first piece."""
        return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)


ERRORS = {
    401: "Missing or wrong API key (when the service has one).",
    413: "The body is larger than the service's limit (--max-body-bytes).",
    422: "Not a JSON object, an unknown key, a missing or empty text, a value of the wrong "
    "type or range, max_new_tokens above the model's generation.max_target_tokens, or a "
    "prompt over the token limit; the message names the key, the value and the limit.",
    503: "Shutting down, or too many generations in flight.",
}


def documented(name: str, errors: tuple[int, ...]) -> dict[int | str, Any]:
    """OpenAPI responses: ``name`` for 200 and the error body for each error."""
    error = {"application/json": {"schema": {"$ref": REF.format(model="ErrorResponse")}}}
    ok = {"application/json": {"schema": {"$ref": REF.format(model=name)}}}
    return {
        200: {"description": "OK", "content": ok},
        **{status: {"description": ERRORS[status], "content": error} for status in errors},
    }


def generate_responses(settings: ServeSettings) -> dict[int | str, Any]:
    """/generate's answers: JSON, or (``stream``) server-sent events."""
    responses = documented("GenerateResponse", (401, 413, 422, 503))
    responses[200]["description"] = (
        'The whole answer; with "stream": true, server-sent events: `data: {"text": piece}` '
        'per piece, then `data: {"done": true, "tokens": n, "latency_ms": ms}` (or '
        '`data: {"error": message}`), each event a GenerateEvent as JSON.'
    )
    responses[200]["content"]["text/event-stream"] = {
        "schema": {"type": "string"},
        "x-event-schema": {"$ref": REF.format(model="GenerateEvent")},
    }
    return responses


def request_schema(service: GenerationService) -> dict[str, JsonValue]:
    """GenerateRequest's schema, with this model's limits in its descriptions."""
    schema = TypeAdapter(GenerateRequest).json_schema(ref_template=REF)
    properties: Any = schema["properties"]
    limits = service.limits
    properties["text"]["description"] += f" At most {service.prompt_limit:,} tokens."
    properties["max_new_tokens"]["description"] += (
        f" At most {limits.max_target_tokens:,} (generation.max_target_tokens), the default."
    )
    for name in DECODING:
        value = getattr(limits, name)
        properties[name]["description"] += f" Default: {'off' if value is None else value}."
    return schema


def api_description(service: GenerationService, settings: ServeSettings) -> str:
    key = (
        "Every route except `/health`, `/ready`, `/` and `/openapi.json` needs the "
        "API key, as `X-API-Key: KEY` or `Authorization: Bearer KEY`. "
        if settings.api_key
        else ""
    )
    limits = service.limits
    return (
        f"Text from a tailorml generator ({service.run.generator.name}). {key}Bodies above "
        f"{settings.max_body_bytes:,} bytes get 413; prompts over {service.prompt_limit:,} "
        f"tokens, max_new_tokens above {limits.max_target_tokens:,}, empty texts and unknown "
        "keys get 422 with a message naming the key and the limit."
    )
