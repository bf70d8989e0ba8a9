"""The playground of a text generator at ``GET /``: one self-contained page.

A text box for the prompt, the decoding controls (strategy; temperature and
seed for sampling; most new tokens) and Generate, which POSTs ``"stream":
true`` to ``/generate`` and reads the server-sent events with ``fetch`` and a
``ReadableStream``, appending each piece to the page as it arrives; Stop
aborts the request, which stops the generation on the server. No script,
style or font comes from elsewhere: the page works without a network. Every
text from the model reaches the page as JSON data or as a text node, never as
markup. The page extends the reports' ``base.html.j2`` (the shared
stylesheet); it lives here, not in ``report/templates``, beside the service
that alone serves it.
"""

from __future__ import annotations

from typing import TypedDict

import jinja2

from tailorml.report.render import TEMPLATES
from tailorml.runs.generation import GenerationRun


class PageConfig(TypedDict):
    """What the page's script needs to know about the model."""

    source: str
    target: str
    generator: str
    strategy: str
    temperature: float
    seed: int
    max_new_tokens: int
    max_prompt_tokens: int
    example: str
    needs_key: bool


def generation_page(run: GenerationRun, prompt_limit: int, example: str, needs_key: bool) -> str:
    """The page for this generator, its ``PageConfig`` embedded as JSON."""
    limits = run.config.generation
    config = PageConfig(source=run.source, target=run.config.output.name,
                        generator=run.generator.name, strategy=limits.strategy,
                        temperature=limits.temperature, seed=limits.seed,
                        max_new_tokens=limits.max_target_tokens, max_prompt_tokens=prompt_limit,
                        example=example, needs_key=needs_key)  # fmt: skip
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)  # fmt: skip
    return env.from_string(PAGE).render(config=config)


PAGE = r"""{% extends "base.html.j2" %}
{% block title %}tailorml playground: {{ config.target }}{% endblock %}
{% block head %}<link rel="icon" href="data:,">{% endblock %}
{% block style %}
  * { box-sizing: border-box; }
  body { font-size: 15px; }
  body > header { border-radius: 0; box-shadow: none; margin: 0; padding: 14px 24px;
                  border-bottom: 1px solid var(--line); }
  header h1 { margin: 0; font-size: 18px; }
  header p { margin: 2px 0 0; color: var(--meta); font-size: 13px; }
  main.playground { display: grid; grid-template-columns: minmax(320px, 1fr) minmax(320px, 1fr);
                    gap: 20px; margin: 0; padding: 20px 24px; max-width: 1200px; }
  main.playground section { margin: 0; padding: 16px; }
  h2 { font-size: 15px; margin: 0 0 12px; }
  .field { display: block; margin-bottom: 12px; }
  .field span.name { display: block; font-weight: 600; }
  .field small { display: block; color: var(--meta); font-size: 12px; margin-bottom: 4px; }
  .row { display: grid; grid-template-columns: repeat(4, 1fr); gap: 10px; }
  input, select, textarea { width: 100%; padding: 6px 8px; border: 1px solid var(--line);
         border-radius: 5px; font: inherit; }
  input:disabled { opacity: .5; }
  textarea { min-height: 140px; }
  .tools { display: flex; gap: 8px; margin: 8px 0; align-items: center; flex-wrap: wrap; }
  button { padding: 7px 14px; border: 1px solid var(--line); border-radius: 5px;
         background: #fff; font: inherit; cursor: pointer; }
  button:disabled { opacity: .5; cursor: default; }
  button.primary { background: var(--accent); border-color: var(--accent); color: #fff;
         font-weight: 600; }
  #output { white-space: pre-wrap; overflow-wrap: anywhere; min-height: 140px; font-size: 16px;
            line-height: 1.5; padding: 8px; border: 1px solid var(--line); border-radius: 5px; }
  #output[data-state=streaming]::after { content: "\258D"; color: var(--accent); }
  #status { color: var(--meta); font-size: 13px; min-height: 18px; }
  #error { color: var(--bad); white-space: pre-wrap; }
  @media (max-width: 760px) {
    main.playground { grid-template-columns: 1fr; } .row { grid-template-columns: 1fr 1fr; }
  }
{% endblock %}
{% block body %}
<header>
  <h1 id="title"></h1>
  <p>Write a text, then generate: the answer streams in as it is decoded. Requests go to
     <code>/generate</code> of this service.</p>
</header>
<main class="playground">
  <section>
    <h2>Input</h2>
    <label class="field">
      <span class="name" id="source-name"></span>
      <small id="source-note"></small>
      <textarea id="text" name="text" autocomplete="off"></textarea>
    </label>
    <div class="row">
      <label class="field"><span class="name">Strategy</span>
        <select id="strategy">
          <option value="greedy">greedy</option>
          <option value="beam">beam</option>
          <option value="sample">sample</option>
        </select></label>
      <label class="field"><span class="name">Temperature</span>
        <input id="temperature" type="number" min="0.05" step="0.05"></label>
      <label class="field"><span class="name">Seed</span>
        <input id="seed" type="number" step="1"></label>
      <label class="field"><span class="name">Max tokens</span>
        <input id="max-new-tokens" type="number" min="1" step="1"></label>
    </div>
    <div id="key-box"></div>
    <div class="tools">
      <button type="button" class="primary" id="generate">Generate</button>
      <button type="button" id="stop" disabled>Stop</button>
      <span id="status"></span>
    </div>
    <div id="error" role="alert"></div>
  </section>
  <section>
    <h2 id="output-name"></h2>
    <div id="output" data-testid="output" data-state="idle" aria-live="polite"></div>
  </section>
</main>
<script type="application/json" id="config">{{ config | tojson }}</script>
<script>
"use strict";
const config = JSON.parse(document.getElementById("config").textContent);
const $ = (id) => document.getElementById(id);
const text = $("text"), strategy = $("strategy"), temperature = $("temperature");
const seed = $("seed"), maxNew = $("max-new-tokens"), output = $("output");
const status = $("status"), error = $("error"), generateButton = $("generate"), stop = $("stop");
$("title").textContent = "Generate " + config.target + " (" + config.generator + ")";
document.title = "tailorml playground: " + config.target;
$("source-name").textContent = config.source;
$("source-note").textContent = "At most " + config.max_prompt_tokens + " tokens.";
$("output-name").textContent = config.target;
text.value = config.example;
strategy.value = config.strategy;
temperature.value = config.temperature;
seed.value = config.seed;
maxNew.value = config.max_new_tokens;
maxNew.max = config.max_new_tokens;
const sampling = () => {
  temperature.disabled = seed.disabled = strategy.value !== "sample";
};
strategy.addEventListener("change", sampling);
sampling();

let keyInput = null;
if (config.needs_key) {
  const box = document.createElement("label");
  box.className = "field";
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = "API key";
  keyInput = document.createElement("input");
  keyInput.type = "password";
  keyInput.id = "api-key";
  keyInput.value = sessionStorage.getItem("tailor-key") || "";
  box.append(name, keyInput);
  $("key-box").append(box);
}

function request() {
  const body = {text: text.value, stream: true, strategy: strategy.value};
  if (strategy.value === "sample") {
    body.temperature = Number(temperature.value);
    body.seed = parseInt(seed.value || "0", 10);
  }
  if (maxNew.value !== "") body.max_new_tokens = parseInt(maxNew.value, 10);
  return body;
}

function headers() {
  const sent = {"Content-Type": "application/json", "Accept": "text/event-stream"};
  if (keyInput && keyInput.value) {
    sent["X-API-Key"] = keyInput.value;
    sessionStorage.setItem("tailor-key", keyInput.value);
  }
  return sent;
}

function show(data) {
  // one event: a piece of text, the end, or the generator's failure
  if (data.error) throw new Error(data.error);
  if (data.done) {
    const each = data.tokens
      ? " (" + (data.latency_ms / data.tokens).toFixed(1) + " ms a token)" : "";
    status.textContent = data.tokens + " tokens in " + Math.round(data.latency_ms) + " ms" + each;
    output.dataset.state = "done";
    return;
  }
  output.append(document.createTextNode(data.text));
}

async function readEvents(body) {
  // server-sent events: blocks split by a blank line, "data: JSON" lines
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of block.split("\n")) {
        if (line.startsWith("data:")) show(JSON.parse(line.slice(5)));
      }
    }
  }
}

let controller = null;
async function generate() {
  if (controller) return;
  controller = new AbortController();
  output.replaceChildren();
  output.dataset.state = "streaming";
  error.textContent = "";
  status.textContent = "generating…";
  generateButton.disabled = true;
  stop.disabled = false;
  try {
    const response = await fetch("/generate", {method: "POST", headers: headers(),
                                               body: JSON.stringify(request()),
                                               signal: controller.signal});
    if (!response.ok) {
      const answer = await response.json().catch(() => ({detail: response.statusText}));
      throw new Error(response.status + ": " + (answer.detail || "request failed"));
    }
    await readEvents(response.body);
    if (output.dataset.state !== "done") throw new Error("the stream ended early.");
  } catch (e) {
    if (e.name === "AbortError") {
      status.textContent = "stopped";
      output.dataset.state = "stopped";
    } else {
      status.textContent = "";
      output.dataset.state = "error";
      error.textContent = String(e.message || e);
    }
  } finally {
    controller = null;
    generateButton.disabled = false;
    stop.disabled = true;
  }
}

generateButton.addEventListener("click", generate);
stop.addEventListener("click", () => { if (controller) controller.abort(); });
text.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) generate();
});
</script>
{% endblock %}
"""
