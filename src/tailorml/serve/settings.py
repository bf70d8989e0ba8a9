"""How the prediction service runs: address, limits, batching and the API key."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

from tailorml.errors import TailorError

Backend = Literal["auto", "onnx", "torch"]
BACKENDS: tuple[str, ...] = ("auto", "onnx", "torch")


@dataclass(frozen=True)
class ServeSettings:
    """Options of ``tailor serve``; the defaults are the command's defaults.

    Attributes:
        host: address to bind; 127.0.0.1 keeps the service on this machine.
        workers: server processes (each loads its own copy of the model).
        api_key: the key requests must send (``X-API-Key`` or ``Authorization:
            Bearer``); None serves without one. Never printed.
        api_key_env: the environment variable the key was read from (for the
            worker processes, which read it themselves).
        max_batch_size: most rows the model sees at once.
        max_wait_ms: longest a request waits for others to share its batch.
        max_body_bytes: largest request body accepted (413 above it).
        max_queue_rows: rows waiting for the model before new requests get 503.
        max_audio_bytes: largest audio clip (the file's bytes, before base64) a
            request may hold (413 above it). For a model with audio inputs the
            body limit grows by room for one such clip per audio input.
        max_audio_seconds: longest audio clip accepted (422 above it).
        backend: ``auto`` (ONNX Runtime when the bundle has model.onnx), ``onnx``
            or ``torch``.
        max_prompt_tokens: text generators: longest prompt in the generator's tokens
            (422 above it); None keeps the model's ``generation.max_source_tokens``,
            and a value may only lower it.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    api_key: str | None = field(default=None, repr=False)
    api_key_env: str | None = None
    max_batch_size: int = 64
    max_wait_ms: float = 5.0
    max_body_bytes: int = 4 * 1024 * 1024
    max_queue_rows: int = 4096
    max_audio_bytes: int = 10 * 1024 * 1024
    max_audio_seconds: float = 30.0
    backend: Backend = "auto"
    max_prompt_tokens: int | None = None

    def __post_init__(self) -> None:
        for name in ("port", "workers", "max_batch_size", "max_body_bytes", "max_queue_rows",
                     "max_audio_bytes"):  # fmt: skip
            value = getattr(self, name)
            if value < 1:
                raise TailorError(f"serve option {name} must be at least 1, not {value}.")
        if not 0 <= self.max_wait_ms <= 60_000:
            raise TailorError(f"max_wait_ms must be between 0 and 60000, not {self.max_wait_ms}.")
        if not 0 < self.max_audio_seconds <= 3600:
            raise TailorError(
                f"max_audio_seconds must be above 0 and at most 3600, not {self.max_audio_seconds}."
            )
        if self.max_prompt_tokens is not None and self.max_prompt_tokens < 1:
            raise TailorError(
                f"max_prompt_tokens must be at least 1, not {self.max_prompt_tokens}."
            )
        if self.port > 65535:
            raise TailorError(f"port must be at most 65535, not {self.port}.")
        if self.backend not in BACKENDS:
            raise TailorError(
                f"unknown backend {self.backend!r}; choose one of {', '.join(BACKENDS)}."
            )
        if self.api_key is not None and not self.api_key:
            raise TailorError("the API key is empty.")

    def threads(self) -> int:
        """PyTorch threads per worker process: the cores left per worker after one
        for the server's event loop, 1 to 8."""
        cores = os.cpu_count() or 1
        return max(1, min(8, cores // self.workers - 1))


def key_from_env(variable: str | None) -> str | None:
    """The API key held in an environment variable (None when not asked for).

    Raises:
        TailorError: the variable is unset or empty.
    """
    if variable is None:
        return None
    key = os.environ.get(variable, "")
    if not key:
        raise TailorError(
            f"--api-key-env {variable}: the environment variable {variable} is not set or "
            "empty; export the key in it first."
        )
    return key
