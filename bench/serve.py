"""`tailor serve` against a naive FastAPI endpoint, under the same load.

For the seed CNN (one 28×28 digit per request, as a nested list) and the
Adult table model (one row per request): start the service on loopback, drive
it with wrk (Debian's ``wrk``; 32 connections, fixed duration, a warm-up run
first), stop it, then do the same for ``bench/naive_serve.py`` — the PyTorch
model run once per request, no batching. wrk is a C load generator, so the
load takes little of the CPU the servers share.

Then the memory check: 10,000 requests at 64 concurrent connections against
``tailor serve`` of the seed CNN, resident memory read after the first 1,000
and after all of them.

The last line printed is one JSON object::

    {"seed_cnn": {"tailorml": {"rps", "p50_ms", "p99_ms", "errors"},
                  "naive": {...}, "ratio"},
     "adult": {...}, "memory": {"rss_1k_mb", "rss_10k_mb", "growth", "errors"}}

``ratio`` is tailorml's requests/s over the naive endpoint's.

    python bench/serve.py [--duration 15] [--runs DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

import tailorml
from tailorml.data import load_builtin

ROOT = Path(__file__).resolve().parents[1]
TAILOR = [str(Path(sys.executable).parent / "tailor")]
NAIVE = [sys.executable, str(ROOT / "bench" / "naive_serve.py")]
MODELS = {"seed_cnn": "seed_cnn_mnist.yaml", "adult": "adult_mlp.yaml"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def request_body(name: str) -> str:
    """One real test row of the model's data, as the JSON body of /predict."""
    if name == "seed_cnn":
        image = load_builtin("mnist").frames["test"]["image"].iloc[0]
        row: dict[str, Any] = {"image": np.asarray(image).tolist()}
    else:
        frame = load_builtin("adult").frames["test"].drop(columns=["income"])
        row = {k: (v.item() if hasattr(v, "item") else v) for k, v in frame.iloc[0].items()}
    return json.dumps({"rows": [row]})


def start(command: list[str], port: int) -> subprocess.Popen[bytes]:
    """Start a server and wait until /health answers."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{command} exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{command} did not answer /health within 120 s")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def wrk(port: int, body: str, duration: float, connections: int, folder: Path) -> dict[str, Any]:
    """Drive POST /predict with wrk; requests/s, p50, p99 and errors."""
    script = folder / "post.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = [==[{body}]==]\n"
    )
    args = ["wrk", "-t2", f"-c{connections}", f"-d{duration:g}s", "--latency", "-s", str(script),
            f"http://127.0.0.1:{port}/predict"]  # fmt: skip
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def parse_wrk(out: str) -> dict[str, Any]:
    def latency(pct: str) -> float:
        match = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert match, out
        scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[match.group(2)]
        return round(float(match.group(1)) * scale, 3)

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert rps, out
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    errors = int(non_2xx.group(1)) if non_2xx else 0
    errors += sum(int(n) for n in sockets.groups()) if sockets else 0
    return {"rps": round(float(rps.group(1)), 1), "p50_ms": latency("50"), "p99_ms": latency("99"),
            "errors": errors}  # fmt: skip


def measure(command: list[str], port: int, body: str, args: argparse.Namespace,
            folder: Path) -> dict[str, Any]:  # fmt: skip
    server = start(command, port)
    try:
        wrk(port, body, 3, args.connections, folder)  # warm-up, not counted
        return wrk(port, body, args.duration, args.connections, folder)
    finally:
        stop(server)


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert match
    return int(match.group(1)) / 1024


def memory_check(run_dir: Path, body: str, folder: Path) -> dict[str, Any]:
    """10,000 requests at 64 connections; RSS after 1,000 and after 10,000."""
    port = free_port()
    server = start([*TAILOR, "serve", str(run_dir), "--port", str(port)], port)
    try:
        first = count_requests(port, body, 1000, folder)
        rss_1k = rss_mb(server.pid)
        rest = count_requests(port, body, 9000, folder)
        rss_10k = rss_mb(server.pid)
        return {"rss_1k_mb": round(rss_1k, 1), "rss_10k_mb": round(rss_10k, 1),
                "growth": round(rss_10k / rss_1k, 3), "errors": first + rest}  # fmt: skip
    finally:
        stop(server)


def count_requests(port: int, body: str, total: int, folder: Path) -> int:
    """Send ``total`` requests over 64 connections with wrk; return the non-200 answers.

    One wrk thread counts the answers and exits when it has them all (wrk
    itself only knows durations).
    """
    script = folder / "count.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = [==[{body}]==]\n"
        "local done, bad = 0, 0\n"
        "response = function(status, headers, body)\n"
        "  done = done + 1\n  if status ~= 200 then bad = bad + 1 end\n"
        f"  if done >= {total} then io.write('bad=' .. bad .. '\\n'); io.flush(); os.exit(0) end\n"
        "end\n"
    )
    args = ["wrk", "-t1", "-c64", "-d600s", "-s", str(script), f"http://127.0.0.1:{port}/predict"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    match = re.search(r"bad=(\d+)", out)
    assert match, out
    return int(match.group(1))


def train_runs(folder: Path) -> dict[str, Path]:
    runs = {}
    for name, config in MODELS.items():
        runs[name] = folder / name
        if not (runs[name] / "model" / "model.json").exists():
            tailorml.train(ROOT / "examples" / config, runs[name], quiet=True)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of load per server")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--runs", type=Path, default=None, help="reuse trained runs here")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench/serve.py needs wrk: apt-get install wrk")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        runs = train_runs(args.runs or folder)
        result: dict[str, Any] = {}
        for name, run_dir in runs.items():
            body = request_body(name)
            port = free_port()
            ours = measure([*TAILOR, "serve", str(run_dir), "--port", str(port)], port, body,
                           args, folder)  # fmt: skip
            port = free_port()
            naive = measure([*NAIVE, str(run_dir), "--port", str(port)], port, body, args, folder)
            result[name] = {"tailorml": ours, "naive": naive,
                            "ratio": round(ours["rps"] / max(naive["rps"], 1e-9), 2)}  # fmt: skip
            print(name, json.dumps(result[name]), flush=True)
        result["memory"] = memory_check(runs["seed_cnn"], request_body("seed_cnn"), folder)
        print(json.dumps(result))


if __name__ == "__main__":
    main()
