"""PyTorch vs ONNX Runtime (fp32 and int8) latency on a run's network.

Exports RUN with ``--quantize int8`` (training the seed CNN example into RUN
first if RUN has no model), then times the network alone, preprocessing
excluded, on 1 row and on 64 test rows: median of many calls after a warm-up,
with 1 and with all of PyTorch's threads for both runtimes. The last line
printed is one JSON object.

    python bench/onnx_latency.py [RUN]    # default /tmp/tailorml-bench/seed
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

import tailorml
from tailorml.features.splits import read_splits
from tailorml.ship.onnx import OnnxModel, export_onnx

ROOT = Path(__file__).resolve().parents[1]


def median_ms(call: Callable[[], Any], repeats: int) -> float:
    for _ in range(20):
        call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def time_batch(
    run_dir: Path, model: Any, inputs: dict[str, torch.Tensor], threads: int
) -> dict[str, Any]:
    """Median milliseconds per call of each runtime on one batch."""
    torch.set_num_threads(threads)
    fp32 = OnnxModel(run_dir / "model", threads=threads)
    int8 = OnnxModel(run_dir / "model", threads=threads, quantized=True)
    arrays = {name: tensor.numpy() for name, tensor in inputs.items()}
    repeats = 2000 if len(arrays[next(iter(arrays))]) == 1 else 300
    with torch.inference_mode():
        torch_ms = median_ms(lambda: model(inputs), repeats)
    return {
        "threads": threads,
        "rows": len(arrays[next(iter(arrays))]),
        "torch_ms": round(torch_ms, 4),
        "onnx_fp32_ms": round(median_ms(lambda: fp32.outputs(arrays), repeats), 4),
        "onnx_int8_ms": round(median_ms(lambda: int8.outputs(arrays), repeats), 4),
    }


def main() -> None:
    run_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp/tailorml-bench/seed")
    if not (run_dir / "model" / "model.json").is_file():
        tailorml.train(ROOT / "examples" / "seed_cnn_mnist.yaml", run_dir, quiet=True)
    report = export_onnx(run_dir, quantize="int8")
    run = tailorml.load(run_dir)
    frames, _ = read_splits(run.config)
    rows = frames["test"].iloc[:64]
    inputs = run.bundle.features.encode(rows, "test", with_target=False).inputs
    results = []
    for threads in sorted({1, torch.get_num_threads()}):
        for size in (1, 64):
            batch = {name: tensor[:size] for name, tensor in inputs.items()}
            results.append(time_batch(run_dir, run.bundle.model, batch, threads))
            print(results[-1])
    summary = {"run": str(run_dir), "parity": report["parity"], "int8": report["int8"]}
    print(json.dumps({**summary, "latency": results}))


if __name__ == "__main__":
    main()
