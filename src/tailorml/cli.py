"""The ``tailor`` command line: train, evaluate, predict, init, schema, data."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

import tailorml
from tailorml import pipelines
from tailorml.config.schema import SCHEMAS, json_schema
from tailorml.data.roles import notes
from tailorml.data.starter import INIT_HINT
from tailorml.errors import TailorError
from tailorml.io import atomic_write_text
from tailorml.records.audit import AuditRecord, Rate, SmallGroup
from tailorml.records.match import MatchResult
from tailorml.records.metrics import Metrics, Scores

app = typer.Typer(
    help="Fit a deep-learning model to your scenario: train, measure, ship.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(
    help="Built-in data sets and the full versions to fetch.", no_args_is_help=True
)
app.add_typer(data_app, name="data")
out = Console()
err = Console(stderr=True)
RunOutput = Annotated[Path, typer.Option("--output", "-o", help="Run folder to write.")]
REPLACED = "an existing file is replaced atomically, missing folders are created"


@app.command("train")
def train_cmd(
    config: Annotated[Path, typer.Argument(help="Model config YAML.")],
    output: RunOutput = Path("runs/latest"),
    resume: Annotated[
        bool,
        typer.Option(
            help="Continue from the last epoch checkpoint in OUTPUT/checkpoint; with none there, "
            "start from epoch 1 (a note on stderr says so)."
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    nproc: Annotated[
        int, typer.Option(help="Training processes on this machine (DDP when more than one).")
    ] = 1,
    nnodes: Annotated[int, typer.Option(help="Machines taking part (each runs this command).")] = 1,
    node_rank: Annotated[int, typer.Option(help="This machine's rank, 0 … nnodes-1.")] = 0,
    master_addr: Annotated[
        str, typer.Option(help="Address of the machine with node rank 0.")
    ] = "127.0.0.1",
    master_port: Annotated[
        int | None, typer.Option(help="Its port (default: a free one; 29500 on several nodes).")
    ] = None,
) -> None:
    """Train a model from a config; write config, model, metrics, history, report.

    With --nproc N (and --nnodes M) the run trains with PyTorch distributed data
    parallel, one process per rank, the config's batch_size shared among them.
    """
    check_output(output, "--output", folder=True)
    if master_port is not None and not 1 <= master_port <= 65535:
        raise TailorError(f"--master-port is a TCP port, 1 to 65535; not {master_port}.")
    if resume and not (output / "checkpoint" / "state.json").is_file():
        err.print(f"no checkpoint in {output / 'checkpoint'}; starting from epoch 1", markup=False)
    metrics: Metrics | None
    cfg: tailorml.ModelConfig = tailorml.load_config(config)
    if cfg.output.type == "text":
        if nproc != 1 or nnodes != 1 or resume:
            raise TailorError(
                "a text generator trains in one process and from the start: --nproc, --nnodes "
                "and --resume do not apply to a config whose output type is text."
            )
        metrics = pipelines.train_generator(cfg, output, quiet=quiet).metrics
        show_metrics(metrics.splits)
        show_generation(metrics)
        out.print(f"run saved to {output} (samples: {output / 'samples.csv'})")
        return
    if nproc == 1 and nnodes == 1:
        metrics = pipelines.train(cfg, output, resume=resume, quiet=quiet).metrics
    else:
        from tailorml.pipelines.launch import train_distributed

        metrics = train_distributed(
            config, output, nproc=nproc, nnodes=nnodes, node_rank=node_rank,
            master_addr=master_addr, master_port=master_port, resume=resume, quiet=quiet,
        )  # fmt: skip
    if metrics is None:
        out.print(f"this machine's ranks finished; node rank 0 writes the run ({output})")
        return
    show_metrics(metrics.splits)
    warn_dropped(metrics.data.dropped_rows if metrics.data else 0)
    out.print(f"run saved to {output} (report: {output / 'report.html'})")


@app.command("match")
def match_cmd(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML.")],
    output: RunOutput = Path("runs/match"),
    workers: Annotated[int | None, typer.Option(help="Candidates trained in parallel.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live table.")] = False,
    backend: Annotated[
        str, typer.Option(help="local (this machine, a process pool) or ray (a Ray cluster).")
    ] = "local",
    address: Annotated[
        str | None, typer.Option(help="Ray cluster address HOST:PORT (default: start one here).")
    ] = None,
) -> None:
    """Recommend the model that fits a scenario's constraints and value.

    Rerunning on the same --output folder resumes: finished trials are kept.
    """
    from tailorml.match.backends import Backend
    from tailorml.pipelines import match

    if workers is not None and workers < 1:
        raise TailorError(
            f"--workers counts candidates trained at once: at least 1, not {workers}."
        )
    check_output(output, "--output", folder=True)
    if backend not in ("local", "ray"):
        raise TailorError(f"--backend {backend!r} is not one of: local, ray.")
    if address is not None and backend != "ray":
        raise TailorError("--address names a Ray cluster; use it with --backend ray.")
    chosen = Backend("ray" if backend == "ray" else "local", address)
    result = match(scenario, output, workers=workers, quiet=quiet, backend=chosen)
    show_match(result)
    warn_dropped(result.data.dropped_rows if result.data else 0)
    out.print(f"match saved to {output} (report: {output / 'report.html'})")


@app.command("audit")
def audit_cmd(
    run: Annotated[Path, typer.Argument(help="Run folder.")],
    data: Annotated[str, typer.Option(help="Labelled rows to audit: a file or builtin:NAME.")],
    sensitive: Annotated[list[str], typer.Option(help="Sensitive column (repeat for more).")],
    mitigate: Annotated[
        str | None,
        typer.Option(help="demographic_parity or equalized_odds: tune group thresholds."),
    ] = None,
    max_gap: Annotated[
        float, typer.Option(help="Largest gap allowed after mitigation, between 0 and 1.")
    ] = 0.05,
    tune_data: Annotated[
        str | None,
        typer.Option(help="Rows to tune thresholds on (default: the run's validation split)."),
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(help="An unmitigated run of the same task, audited as 'before'."),
    ] = None,
    min_group_size: Annotated[
        int, typer.Option(help="Groups with fewer rows are reported, not judged in the gaps.")
    ] = 30,
) -> None:
    """Bias audit: per-group rates with 95% intervals, parity and odds gaps;
    optionally mitigate with per-group thresholds (saved to RUN/mitigated).

    With --baseline, the table compares that run (before) with RUN (after),
    e.g. a plain model with one trained with training.fairness reweighing.
    """
    result = pipelines.audit(
        run, data, sensitive, mitigate=mitigate, max_gap=max_gap, tune_data=tune_data,
        baseline=baseline, min_group_size=min_group_size,
    )  # fmt: skip
    show_audit(result)
    out.print(f"audit written to {run / 'audit.json'} and {run / 'audit.html'}")


def show_audit(result: AuditRecord) -> None:
    table = Table("attribute", "metric", "before", "after", title="audit")
    after = result.after.attributes if result.after else {}
    table.add_row("all", "accuracy", *figures("accuracy", result.before, result.after))
    for attribute, report in result.before.attributes.items():
        new = after.get(attribute)
        for gap in ("demographic_parity_difference", "equalized_odds_difference"):
            table.add_row(attribute, gap, *figures(gap, report, new))
            if report.too_small:
                judged = f"{gap} (groups ≥ {report.min_group_size} rows)"
                changed = new.judged if new else None
                table.add_row(attribute, judged, *figures(gap, report.judged, changed))
    out.print(table)
    attributes = result.before.attributes.items()
    warn_small_groups({"the audited rows": {a: r.too_small for a, r in attributes}})


def figures(name: str, before: object, after: object | None) -> tuple[str, str]:
    """A gap or accuracy before and after, to four decimals; blank where there is none."""
    values = [getattr(report, name) if report else None for report in (before, after)]
    first, second = ("" if value is None else f"{value:.4f}" for value in values)
    return first, second


@app.command("pii")
def pii_cmd(
    data: Annotated[str, typer.Argument(help="A table (CSV, Parquet) or builtin:NAME.")],
    columns: Annotated[
        list[str] | None, typer.Option("--columns", help="Columns to scan (default: all text).")
    ] = None,
    redact: Annotated[
        Path | None,
        typer.Option(help=f"Write a redacted copy (every row kept) to this CSV; {REPLACED}."),
    ] = None,
) -> None:
    """Find personal data (emails, phones, cards, IBANs, IPs, URLs, SSNs…) in
    text columns; optionally write a redacted copy."""
    from tailorml.pipelines.init import scan_personal_data

    check_output(redact, "--redact")
    frame, counts = scan_personal_data(data, columns, redact=redact is not None)
    if redact is not None:
        write_output(redact, frame.to_csv(index=False), "--redact")
    table = Table("column", "entity", "count", title=f"personal data in {data}")
    for column, found in counts.items():
        for entity, count in sorted(found.items()) or [("none", 0)]:
            table.add_row(column, entity, f"{count:,}")
    out.print(table)
    if redact is not None:
        out.print(f"{len(frame):,} rows written to {redact} with personal data replaced")


@app.command("explain")
def explain_cmd(
    run: Annotated[Path, typer.Argument(help="Run folder.")],
    data: Annotated[str, typer.Option(help="Rows to explain: a file or builtin:NAME.")],
    rows: Annotated[
        str, typer.Option(help="Row range START:STOP (0-based, stop excluded); default 0:10.")
    ] = "",
    importance: Annotated[
        bool, typer.Option(help="Also permutation importance (needs the target column).")
    ] = True,
) -> None:
    """Per-row attributions (Integrated Gradients for deep models, exact
    contributions for linear models and trees) and permutation importance."""
    result = pipelines.explain(run, data, rows or None, importance=importance)
    for item in result.rows:
        shown = ", ".join(f"{name} {score:+.3f}" for name, score in item.top())
        out.print(f"row {item.row}: {item.prediction}  ({shown})", markup=False)
    page = run / "explanations.html"
    out.print(f"explanations written to {run / 'explanations.json'} and {page}")


@app.command("evaluate")
def evaluate_cmd(
    run: Annotated[Path, typer.Argument(help="Run folder.")],
    data: Annotated[str, typer.Option(help="Labelled rows: a file or builtin:NAME.")],
    output: Annotated[
        Path | None, typer.Option(help=f"Also write the metrics as JSON ({REPLACED}).")
    ] = None,
) -> None:
    """Score a trained model on labelled data."""
    check_output(output, "--output")
    scores = open_run(run).evaluate(data)
    show_metrics({"evaluation": scores})
    warn_dropped(scores.dropped_rows or 0)
    if output is not None:
        write_output(output, json.dumps(scores.dump(), indent=2) + "\n", "--output")


@app.command("predict")
def predict_cmd(
    run: Annotated[Path, typer.Argument(help="Run folder.")],
    data: Annotated[str, typer.Option(help="Rows to predict: a file or builtin:NAME.")],
    output: Annotated[Path, typer.Option(help=f"CSV to write; {REPLACED}.")] = Path(
        "predictions.csv"
    ),
) -> None:
    """Predict every row; one output row per input row, in order."""
    check_output(output, "--output")
    frame = open_run(run).predict(data)
    write_output(output, frame.to_csv(index=False), "--output")
    out.print(f"{len(frame)} predictions written to {output}")
    warn_dropped(int(frame.attrs.get("dropped_rows", 0)), " and got no prediction")


@app.command("generate")
def generate_cmd(
    run: Annotated[Path, typer.Argument(help="Run folder of a text generator.")],
    text: Annotated[str, typer.Argument(help="The input text.")],
    strategy: Annotated[
        str | None, typer.Option(help="greedy, beam or sample (default: the run's config).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="sample: the random seed.")] = None,
    stream: Annotated[bool, typer.Option(help="Print the text as it is decoded.")] = False,
) -> None:
    """Generate text from one input with a trained generator (type text output)."""
    from tailorml.runs.generation import load_generation

    generation = load_generation(run)
    changes: dict[str, Any] = {"strategy": strategy} if strategy is not None else {}
    if seed is not None:
        changes["seed"] = seed
    try:
        decoding = generation.config.generation.model_validate(
            generation.config.generation.model_dump() | changes
        )
    except ValueError as bad:
        raise TailorError(f"--strategy takes greedy, beam or sample, not {strategy!r}.") from bad
    if stream:
        for piece in generation.stream(text, decoding):
            sys.stdout.write(piece)
            sys.stdout.flush()
        sys.stdout.write("\n")
        return
    out.print(generation.generate([text], decoding)[0].text, markup=False, highlight=False)


@app.command("export")
def export_cmd(
    run: Annotated[Path, typer.Argument(help="Run folder (or a bare model bundle folder).")],
    fmt: Annotated[str, typer.Option("--format", help="Export format: onnx.")] = "onnx",
    quantize: Annotated[
        str | None, typer.Option(help="int8: also write model.int8.onnx with int8 weights.")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="ONNX file to write (default RUN/model/model.onnx)."),
    ] = None,
) -> None:
    """Export a deep model's network to ONNX, checked against PyTorch on 100 test rows.

    Preprocessing stays outside the graph: onnx.json, beside the file, maps graph
    inputs to features and records the parity (and the int8 accuracy change).
    """
    from tailorml.ship.onnx import export_onnx

    if fmt != "onnx":
        raise TailorError(f"--format takes onnx, not {fmt!r}.")
    check_output(output, "--output")
    report = export_onnx(run, quantize=quantize, output=output)
    folder, parity = Path(report["folder"]), report["parity"]
    out.print(
        f"ONNX model written to {folder / report['file']} (opset {report['opset']}); max |ONNX - "
        f"PyTorch| = {parity['max_abs_diff']:.2g} on {parity['rows']} test rows"
    )
    if "int8" in report:
        q = report["int8"]
        out.print(
            f"int8 model written to {folder / q['file']}: {q['metric']} {q['fp32']:.4f} → "
            f"{q['int8']:.4f} ({q['change']:+.4f}) on {q['rows']} test rows"
        )
    out.print(f"report: {folder / 'onnx.json'}")


@app.command("serve")
def serve_cmd(
    run: Annotated[Path, typer.Argument(help="Run folder (or a bare model bundle folder).")],
    host: Annotated[str, typer.Option(help="Address to bind (0.0.0.0: every interface).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes, each with the model.")] = 1,
    api_key_env: Annotated[
        str | None,
        typer.Option(help="Environment variable holding the API key requests must send."),
    ] = None,
    max_batch_size: Annotated[int, typer.Option(help="Most rows per model call.")] = 64,
    max_wait_ms: Annotated[
        float, typer.Option(help="Longest a request waits to share a batch (ms).")
    ] = 5.0,
    max_body_bytes: Annotated[
        int, typer.Option(help="Largest request body; bigger ones get 413.")
    ] = 4 * 1024 * 1024,
    max_audio_bytes: Annotated[
        int, typer.Option(help="Audio models: largest clip (file bytes); bigger ones get 413.")
    ] = 10 * 1024 * 1024,
    max_audio_seconds: Annotated[
        float, typer.Option(help="Audio models: longest clip in seconds; longer ones get 422.")
    ] = 30.0,
    backend: Annotated[
        str, typer.Option(help="auto (ONNX Runtime if the bundle has model.onnx), onnx or torch.")
    ] = "auto",
    max_prompt_tokens: Annotated[
        int | None,
        typer.Option(
            help="Text generators: longest prompt in tokens, at most the model's "
            "generation.max_source_tokens (the default); longer ones get 422."
        ),
    ] = None,
) -> None:
    """Serve predictions over HTTP: POST /predict and /explain, a playground at /,
    /health, /ready, /metrics (Prometheus), the OpenAPI document at /openapi.json.

    A text generator's run serves POST /generate instead (the whole text as JSON, or
    "stream": true for server-sent events), with a playground that streams it.
    Requests are batched adaptively; SIGTERM or Ctrl-C lets requests in flight finish.
    """
    from tailorml.serve import ServeSettings, serve
    from tailorml.serve.settings import key_from_env

    settings = ServeSettings(
        host=host, port=port, workers=workers, api_key=key_from_env(api_key_env),
        api_key_env=api_key_env, max_batch_size=max_batch_size, max_wait_ms=max_wait_ms,
        max_body_bytes=max_body_bytes, max_audio_bytes=max_audio_bytes,
        max_audio_seconds=max_audio_seconds, backend=backend,  # type: ignore[arg-type]
        max_prompt_tokens=max_prompt_tokens,
    )  # fmt: skip
    serve(run, settings)


@app.command("init")
def init_cmd(
    data: Annotated[str, typer.Argument(help="A table (CSV, Parquet) or builtin:NAME.")],
    target: Annotated[str, typer.Option(help="The column to predict.")],
    output: Annotated[
        Path | None,
        typer.Option(help="Write the config here (missing folders are created)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing --output file.")
    ] = False,
) -> None:
    """Infer feature types from a table and write a starter config.

    Identifiers, personal data, dates, constants and target leaks are left out; each
    such column, and each free-text one, gets a line on stderr and a comment in the config.
    """
    from tailorml.pipelines.init import starter_config

    check_output(output, "--output")
    if output is not None and output.exists() and not force:
        raise TailorError(
            f"--output '{output}' already exists; a config is often edited by hand, so it "
            "is not replaced: pass --force to overwrite it, or name another file."
        )
    text, roles = starter_config(data, target)
    for line in notes(roles, INIT_HINT):  # on stderr, so that stdout stays valid YAML
        err.print(line, markup=False, highlight=False, soft_wrap=True)
    if output is None:
        out.print(text, end="", markup=False, highlight=False, soft_wrap=True)  # no wrapping
    else:
        write_output(output, text, "--output")
        out.print(f"starter config written to {output}")


@app.command("schema")
def schema_cmd(
    kind: Annotated[str, typer.Argument(help=f"One of: {', '.join(SCHEMAS)}.")] = "model",
) -> None:
    """Print the JSON Schema of a config file."""
    if kind not in SCHEMAS:
        raise TailorError(f"unknown schema '{kind}'; choose one of: {', '.join(SCHEMAS)}.")
    print(json.dumps(json_schema(kind), indent=2))


@data_app.command("list")
def data_list_cmd() -> None:
    """List the built-in data sets."""
    from tailorml.data import BUILTIN_NAMES

    for name in BUILTIN_NAMES:
        out.print(f"builtin:{name}")


@data_app.command("fetch")
def data_fetch_cmd(
    name: Annotated[str, typer.Argument(help="mnist or adult.")],
    cache: Annotated[Path | None, typer.Option(help="Cache folder.")] = None,
) -> None:
    """Download the full canonical version of a data set, checking SHA-256."""
    from tailorml.data import fetch

    out.print(f"{name} is in {fetch(name, cache_dir=cache)}")


def open_run(path: Path) -> Any:
    """A run folder's model: a ``Run``, or a ``GenerationRun`` for a text generator
    (both evaluate and predict)."""
    from tailorml.runs.generation import is_generator, load_generation

    return load_generation(path) if is_generator(path) else tailorml.load(path)


def show_generation(metrics: Metrics) -> None:
    facts = metrics.generation
    if facts is None:
        return
    out.print(
        f"{facts.generator}: {facts.parameters:,} parameters; training texts cut to the limits: "
        f"{facts.truncated_sources} inputs, {facts.truncated_targets} targets"
    )
    if facts.latency:
        lat = facts.latency
        out.print(
            f"latency (one request at a time): p50 {lat['p50_ms']:.1f} ms, p95 "
            f"{lat['p95_ms']:.1f} ms, {lat['ms_per_token']:.2f} ms per token"
        )


GENERATION_METRICS = ("chrf", "bleu", "exact_match", "perplexity")


def show_metrics(splits: dict[str, Scores]) -> None:
    table = Table("split", "metric", "value", title="metrics")
    for split, scores in splits.items():
        for key in ("accuracy", "f1_macro", "roc_auc", "log_loss", "mae", "rmse", "r2",
                    *GENERATION_METRICS):  # fmt: skip
            if (value := scores.figures.get(key)) is not None:
                table.add_row(split, key, f"{value:.4f}")
        if (ci := scores.ci95) is not None:
            table.add_row(split, f"{ci.metric} 95% CI", f"[{ci.low:.4f}, {ci.high:.4f}]")
    if table.row_count:
        out.print(table)


def show_match(result: MatchResult) -> None:
    table = Table(
        "candidate", "quality", "value/1k", "p95 ms", "cost/1k", "feasible", title="match"
    )
    for entry in result.candidates:
        metrics = entry.metrics
        table.add_row(
            entry.name, f"{metrics.quality.value:.4f}" if metrics.quality else "—",
            "—" if entry.value_per_1k is None else f"{entry.value_per_1k:,.2f}",
            f"{metrics.latency_p95_ms:.2f}",
            f"{metrics.cost_per_1k:.2g}",
            "yes" if entry.feasible else "no: " + "; ".join(entry.rejected_because),
        )  # fmt: skip
    out.print(table)
    warn_small_groups(result.small_groups)
    for line in result.reasoning:
        out.print(f"- {line}", markup=False, highlight=False)
    if result.recommended is None or result.test is None:
        out.print("no feasible model", style="bold red")
        return
    test = result.test
    held = [f"{name}: {'held' if c.passed else 'BROKEN'} ({shown(c.value)})"
            for name, c in test.constraints.items()]  # fmt: skip
    quality = test.metrics.quality
    shown_quality = (
        f"{quality.metric} {quality.value:.4f}" if quality and quality.value is not None else ""
    )
    value = test.metrics.value_per_1k
    held.insert(0, shown_quality + ("" if value is None else f", value/1k {value:,.2f}"))
    out.print(f"recommended: {result.recommended}; on test: " + ", ".join(held), markup=False)


def warn_dropped(count: int, what: str = "") -> None:
    """Broken rows left out under ``bad_rows: drop`` are said, never silent."""
    if count:
        rows = f"{count:,} broken row was" if count == 1 else f"{count:,} broken rows were"
        text = (f"warning: {rows} dropped{what} (data.bad_rows: drop); "
                "set bad_rows: fail to see them")  # fmt: skip
        err.print(text, markup=False, highlight=False)


def warn_small_groups(found: dict[str, dict[str, list[SmallGroup]]]) -> None:
    """One warning per split and fairness limit naming the groups too small to judge."""
    for split, limits in found.items():
        for name, groups in limits.items():
            listed = "; ".join(
                f"{g.group} (n={g.n}, selection rate {rate_text(g.selection_rate)})" for g in groups
            )
            if listed:
                err.print(f"warning: {name} on {split}: too few rows to judge, left out of "
                          f"the gaps: {listed}", markup=False, highlight=False)  # fmt: skip


def shown(value: Any) -> str:
    """A measured value as a person reads it: numbers to 4 significant digits."""
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    return f"{value:.4g}" if is_number else str(value)


def rate_text(rate: Rate) -> str:
    """A rate and its 95% interval: ``0.33 [0.06, 0.79]``."""
    if rate.value is None or rate.ci95 is None:
        return "—"
    low, high = rate.ci95
    return f"{rate.value:.2f} [{low:.2f}, {high:.2f}]"


def check_output(path: Path | None, option: str, *, folder: bool = False) -> None:
    """Refuse an output path (None: none asked for) that names a folder when a file is
    to be written, or a file when a run folder is, or that lies under a file.

    Raises:
        TailorError: naming the option and the path.
    """
    if path is None:
        return
    if folder and path.exists() and not path.is_dir():
        raise TailorError(f"{option} '{path}' is a file; name a folder for the run instead.")
    if not folder and path.is_dir():
        raise TailorError(f"{option} '{path}' is a folder; name a file to write instead.")
    nearest = next((p for p in path.parents if p.exists()), None)
    if nearest is not None and not nearest.is_dir():
        raise TailorError(f"{option} '{path}': '{nearest}' is a file, not a folder.")


def write_output(path: Path, text: str, option: str) -> None:
    """Write an output file atomically, creating missing folders.

    Raises:
        TailorError: the file cannot be written (permissions, a full disk…).
    """
    try:
        atomic_write_text(path, text)
    except OSError as error:
        raise TailorError(f"cannot write {option} '{path}': {error.strerror or error}.") from None


def main() -> None:
    """Entry point: user errors print one paragraph and exit 2, no traceback."""
    try:
        app()
    except TailorError as error:
        err.print(Text.assemble(("error: ", "bold red"), str(error)), soft_wrap=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as error:  # a bug, not bad input
        if os.environ.get("TAILOR_DEBUG"):
            raise
        err.print(
            f"internal error: {type(error).__name__}: {error}. This is a tailorml bug; "
            "rerun with TAILOR_DEBUG=1 for the traceback and report it.",
            markup=False,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
