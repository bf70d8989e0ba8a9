"""Running the service with uvicorn: ``tailor serve``.

On SIGTERM or Ctrl-C uvicorn stops accepting connections and waits (up to
``GRACE`` seconds) for the requests in flight; then the app's lifespan ends
and the batcher finishes whatever is still queued.
"""

from __future__ import annotations

import gc
import json
import os
import socket
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from fastapi import FastAPI

from tailorml.serve.app import create_app
from tailorml.serve.settings import ServeSettings, key_from_env

ENV = "TAILOR_SERVE_OPTIONS"  # the worker processes' settings (never the key itself)
GRACE = 30  # seconds in-flight requests get to finish on shutdown
STARTUP = 120  # seconds a worker may take to import torch and load the model


def serve(run_dir: str | Path, settings: ServeSettings) -> None:
    """Serve a run until interrupted.

    The app is built here first, so a bad folder or option fails with a
    clear message before any worker starts.

    Raises:
        TailorError: the folder holds no model, or an option is invalid.
    """
    import uvicorn

    app = ready_app(run_dir, settings)
    where = f"http://{settings.host}:{settings.port}"
    print(f"serving {run_dir}: playground {where}/, OpenAPI {where}/openapi.json", file=sys.stderr)
    if settings.host not in ("127.0.0.1", "localhost", "::1") and settings.api_key is None:
        print(f"warning: {settings.host} is reachable from other machines and no API key is "
              "set (--api-key-env)", file=sys.stderr)  # fmt: skip
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "access_log": False,  # a log line per request costs more than a small model call
        "timeout_graceful_shutdown": GRACE,
        "log_level": "info",
    }
    if settings.workers == 1:
        uvicorn.run(app, **options)
        return
    del app  # it only checked the run and options; each worker builds its own
    values = {name: value for name, value in asdict(settings).items() if name != "api_key"}
    os.environ[ENV] = json.dumps({"run_dir": str(run_dir), **values})
    config = uvicorn.Config(
        "tailorml.serve.server:app_from_env", factory=True, workers=settings.workers,
        timeout_worker_healthcheck=STARTUP, **options,
    )  # fmt: skip
    run_workers(config)


def run_workers(config: Any) -> None:
    """``uvicorn.run``'s multi-process branch, on a listening socket that says
    it is TCP.

    uvicorn binds it with protocol 0, so the connections it accepts have
    protocol 0 too and asyncio leaves Nagle's algorithm on for them; every
    keep-alive response then waits ~40 ms for the client's delayed ACK.
    """
    from uvicorn.supervisors import Multiprocess

    bound = config.bind_socket()
    sock = socket.socket(bound.family, bound.type, socket.IPPROTO_TCP, fileno=bound.detach())
    Multiprocess(config, sockets=[sock]).run()


def app_from_env() -> FastAPI:
    """The app of one worker process, from the settings ``serve`` left in ``ENV``."""
    values = json.loads(os.environ[ENV])
    run_dir = values.pop("run_dir")
    settings = ServeSettings(**values, api_key=key_from_env(values.get("api_key_env")))
    return ready_app(run_dir, settings)


def ready_app(run_dir: str | Path, settings: ServeSettings) -> FastAPI:
    """The app, with this process set up to serve it.

    Everything alive after start-up (torch, pandas, the model: some 300,000
    objects) is frozen out of the garbage collector's reach: a full collection
    over them takes ~0.2 s, which would otherwise land on a request every few
    seconds as a latency spike.
    """
    torch.set_num_threads(settings.threads())
    app = create_app(run_dir, settings)
    gc.collect()
    gc.freeze()
    return app
