"""The responses both services share: compact JSON, and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from pydantic import JsonValue

from tailorml.serve.rows import ApiError
from tailorml.serve.settings import ServeSettings


def json_response(body: Any, status: int = 200) -> Response:
    """Compact JSON, as Starlette writes it; it refuses NaN and infinity."""
    try:
        return JSONResponse(body, status)
    except ValueError:  # NaN or infinity from values the model cannot take
        error = ApiError(422, "the result is not finite: the input values are too large.")
        return JSONResponse(error.body(), error.status)


def openapi(
    app: FastAPI, schemas: dict[str, dict[str, JsonValue]], settings: ServeSettings
) -> dict[str, Any]:
    """FastAPI's document (which it caches) plus the generated request and response schemas."""
    document = FastAPI.openapi(app)
    parts = document.setdefault("components", {})
    parts.setdefault("schemas", {}).update(schemas)
    if settings.api_key:
        parts["securitySchemes"] = {
            "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            "Bearer": {"type": "http", "scheme": "bearer"},
        }
    return document
