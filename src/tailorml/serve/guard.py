"""The service's door: the API key (401) and the body size limit (413).

Both run before any route, as plain ASGI, so a request without the key never
has its body read and an oversized body is never buffered past the limit.
"""

from __future__ import annotations

import hmac
import json

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tailorml.serve.rows import ApiError

# Open without the key: probes, and the pages that only describe the API.
OPEN_PATHS = frozenset({"/health", "/ready", "/", "/openapi.json"})


def error(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    """The service's error body (as ``ApiError.body``), sent before any route runs."""
    body = json.dumps(ApiError(status, detail).body())
    return Response(body, status, headers, media_type="application/json")


class GuardMiddleware:
    """Checks the API key (if there is one), then reads the body up to
    ``max_body_bytes``, by Content-Length and by the bytes that actually arrive
    (chunked bodies have no length)."""

    def __init__(self, app: ASGIApp, api_key: str | None, max_body_bytes: int):
        self.app = app
        self.key = api_key.encode() if api_key else None
        self.limit = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if self.key is not None and scope["path"] not in OPEN_PATHS and not self.allowed(headers):
            detail = "missing or wrong API key: send X-API-Key: KEY or Authorization: Bearer KEY."
            await error(401, detail, {"www-authenticate": "Bearer"})(scope, receive, send)
            return
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            await self.too_large()(scope, receive, send)
            return
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        body = await self.read(receive)
        if body is None:
            await self.too_large()(scope, receive, send)
            return
        await self.app(scope, replay(body, receive), send)

    def allowed(self, headers: dict[bytes, bytes]) -> bool:
        assert self.key is not None
        given = headers.get(b"x-api-key")
        if given is None:
            scheme, _, token = headers.get(b"authorization", b"").partition(b" ")
            given = token.strip() if scheme.lower() == b"bearer" else None
        return given is not None and hmac.compare_digest(given, self.key)

    async def read(self, receive: Receive) -> bytes | None:
        """The whole body, or None once it passes the limit."""
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            body += message.get("body", b"")
            if len(body) > self.limit:
                return None
            if not message.get("more_body", False):
                break
        return bytes(body)

    def too_large(self) -> Response:
        return error(413, f"the request body is larger than the limit of {self.limit:,} bytes.")


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the buffered body once, then waits as the server's does."""
    sent = False

    async def receiving() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receiving
