"""Prometheus metrics of one service instance, in a registry of its own."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
TOKEN_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
PATHS = ("/predict", "/explain", "/generate", "/health", "/ready", "/metrics", "/",
         "/openapi.json")  # fmt: skip


class Metrics:
    """Request, error, latency and batch series.

    Each app has its own ``CollectorRegistry``, so two services in one
    process (or one per test) never share counts. With ``--workers N`` each
    worker process counts its own requests.
    """

    def __init__(self, backend: str, family: str):
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "tailor_requests", "HTTP requests answered, by path and status.",
            ["path", "status"], registry=self.registry,
        )  # fmt: skip
        self.errors = Counter(
            "tailor_errors", "HTTP requests answered with a 4xx or 5xx status, by path and status.",
            ["path", "status"], registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "tailor_request_duration_seconds", "Time from request to the last response byte.",
            ["path"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.batch_rows = Histogram(
            "tailor_batch_size", "Rows per model call (adaptive batching).",
            buckets=BATCH_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.batch_requests = Histogram(
            "tailor_batch_requests", "Requests (or chunks of large ones) sharing a model call.",
            buckets=BATCH_BUCKETS, registry=self.registry,
        )  # fmt: skip
        Gauge(
            "tailor_model_info", "The model served: backend and family.",
            ["backend", "family"], registry=self.registry,
        ).labels(backend, family).set(1)  # fmt: skip

    def observe_batch(self, rows: int, requests: int) -> None:
        self.batch_rows.observe(rows)
        self.batch_requests.observe(requests)

    def observe_request(self, path: str, status: int, seconds: float) -> None:
        label = path if path in PATHS else "other"
        code = str(status)
        self.requests.labels(label, code).inc()
        if status >= 400:
            self.errors.labels(label, code).inc()
        self.latency.labels(label).observe(seconds)


class GenerationMetrics(Metrics):
    """The request series, plus generations by mode (``whole`` or ``stream``) and
    outcome (``ok``, ``error``, ``cancelled`` when a stream's client left),
    tokens written, and time per generation, per token and to a stream's first piece."""

    def __init__(self, backend: str, family: str):
        super().__init__(backend, family)
        self.generations = Counter(
            "tailor_generation_requests", "Generations run, by mode and outcome.",
            ["mode", "outcome"], registry=self.registry,
        )  # fmt: skip
        self.tokens = Counter(
            "tailor_generated_tokens", "Tokens written by the generator.", registry=self.registry
        )
        self.seconds = Histogram(
            "tailor_generation_duration_seconds", "Time to write one whole text, by mode.",
            ["mode"], buckets=LATENCY_BUCKETS + (30.0, 60.0), registry=self.registry,
        )  # fmt: skip
        self.per_token = Histogram(
            "tailor_generation_seconds_per_token", "Time per token written (whole text / tokens).",
            buckets=TOKEN_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.first_piece = Histogram(
            "tailor_generation_first_piece_seconds", "Time to a stream's first piece.",
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip

    def observe_generation(self, mode: str, outcome: str, tokens: int, seconds: float) -> None:
        self.generations.labels(mode, outcome).inc()
        self.tokens.inc(tokens)
        if outcome == "ok":
            self.seconds.labels(mode).observe(seconds)
            if tokens:
                self.per_token.observe(seconds / tokens)


class MetricsMiddleware:
    """Counts every HTTP response (401 and 413 from the guard included) and times it."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.metrics.observe_request(scope["path"], status, time.perf_counter() - started)
