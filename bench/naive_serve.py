"""The naive baseline for ``bench/serve.py``: a FastAPI endpoint, written the
way a tutorial writes it, that runs the PyTorch model once per request.

Same request and response shapes as ``tailor serve``, the same saved model
and preprocessing (the bundle's own FeatureSet), argmax decisions; no
batching, pydantic validation of the body, a plain ``def`` endpoint (FastAPI
runs it in its thread pool). Torch runs one thread per call, so concurrent
calls share the cores instead of oversubscribing them.

    python bench/naive_serve.py RUN --port 8001
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import pandas as pd
import torch
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

import tailorml


class Request(BaseModel):
    rows: list[dict[str, Any]]


def make_app(run_dir: str) -> FastAPI:
    run = tailorml.load(run_dir)
    images = {f.name for f in run.config.input_features if f.type == "image"}
    features, model = run.bundle.features, run.bundle.model
    kind, labels = features.target.kind, features.target.labels
    model.eval()
    app = FastAPI()

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/predict")
    def predict(request: Request) -> dict[str, Any]:
        rows = [
            {k: np.asarray(v, dtype=np.float32) if k in images else v for k, v in row.items()}
            for row in request.rows
        ]
        encoded = features.encode(pd.DataFrame(rows), "request", with_target=False)
        with torch.inference_mode():
            out = model(encoded.inputs)
        if kind == "binary":
            p = torch.sigmoid(out.reshape(-1))
            proba = torch.stack([1 - p, p], dim=1)
        else:
            proba = torch.softmax(out, dim=1)
        return {
            "predictions": [
                {"label": labels[int(row.argmax())],
                 "probabilities": dict(zip(labels, row.tolist(), strict=True))}
                for row in proba
            ]
        }  # fmt: skip

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    torch.set_num_threads(1)
    uvicorn.run(make_app(args.run), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
