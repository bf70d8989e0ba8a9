"""The playground at ``GET /``: one self-contained page made from the input schema.

A form field per table column, a text box per text feature, and for each image
feature a drawing canvas (the model's size, scaled up) plus an upload. It calls
``/predict`` and then ``/explain`` and shows the label, the probabilities and
the attributions. No script, style or font comes from elsewhere: the page works
without a network. Every value from the model (names, labels) reaches the page
as JSON data and is shown with ``textContent``, never as markup.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from tailorml.runs.run import Run
from tailorml.serve.schema import InputField


def page_config(
    run: Run, fields: list[InputField], explain: bool, needs_key: bool
) -> dict[str, Any]:
    """What the page's script needs to know about the model."""
    target = run.bundle.features.target
    scales = {p.name: p.options.get("scale", 255.0) for p in run.bundle.features.inputs}
    described = []
    for field in fields:
        item = asdict(field)
        if field.kind == "image":
            item["default"] = None  # the canvas starts blank
            item["scale"] = scales.get(field.name, 255.0)
        described.append(item)
    return {
        "target": target.name,
        "task": target.task,
        "labels": target.labels,
        "fields": described,
        "explain": explain,
        "needs_key": needs_key,
    }


def playground_html(config: dict[str, Any]) -> str:
    """The page, with the model's config embedded as JSON."""
    data = json.dumps(config).replace("<", "\\u003c").replace(">", "\\u003e")
    title = f"tailorml playground: {config['target']}"
    safe_title = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return PAGE.replace("__TITLE__", safe_title).replace("__CONFIG__", data)


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>__TITLE__</title>
<style>
  :root { --ink: #1d2433; --muted: #5b6478; --line: #d9dee8; --accent: #2f6fde;
          --good: #1f9d55; --bad: #d64545; --bg: #f6f8fb; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
         color: var(--ink); background: var(--bg); }
  header { padding: 14px 24px; background: #fff; border-bottom: 1px solid var(--line); }
  header h1 { margin: 0; font-size: 18px; }
  header p { margin: 2px 0 0; color: var(--muted); font-size: 13px; }
  main { display: grid; grid-template-columns: minmax(320px, 1fr) minmax(320px, 1fr);
         gap: 20px; padding: 20px 24px; max-width: 1200px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px; }
  h2 { margin: 0 0 12px; font-size: 15px; }
  .field { display: block; margin-bottom: 12px; }
  .field span.name { display: block; font-weight: 600; }
  .field small { display: block; color: var(--muted); font-size: 12px; margin-bottom: 4px; }
  input, select, textarea { width: 100%; padding: 6px 8px; border: 1px solid var(--line);
         border-radius: 5px; font: inherit; }
  textarea { min-height: 90px; }
  canvas.draw { background: #000; border-radius: 4px; touch-action: none; cursor: crosshair;
         display: block; image-rendering: pixelated; }
  .tools { display: flex; gap: 8px; margin: 8px 0; align-items: center; flex-wrap: wrap; }
  .tools input[type=file] { width: auto; }
  button { padding: 7px 14px; border: 1px solid var(--line); border-radius: 5px;
         background: #fff; font: inherit; cursor: pointer; }
  button.primary { background: var(--accent); border-color: var(--accent); color: #fff;
         font-weight: 600; }
  #label { font-size: 34px; font-weight: 700; min-height: 44px; }
  #status { color: var(--muted); font-size: 13px; min-height: 18px; }
  #error { color: var(--bad); white-space: pre-wrap; }
  table { border-collapse: collapse; width: 100%; }
  td { padding: 3px 6px; vertical-align: middle; }
  td.num { text-align: right; width: 70px; font-variant-numeric: tabular-nums; }
  .bar { height: 12px; background: var(--accent); border-radius: 3px; min-width: 1px; }
  .bar.neg { background: var(--bad); } .bar.pos { background: var(--good); }
  tr.chosen td { font-weight: 700; }
  .token { padding: 1px 3px; margin: 1px; border-radius: 3px; display: inline-block; }
  .maps { display: flex; gap: 12px; flex-wrap: wrap; }
  .maps figure { margin: 0; } .maps figcaption { color: var(--muted); font-size: 12px; }
  @media (max-width: 760px) { main { grid-template-columns: 1fr; } }
</style>
</head>
<body>
<header>
  <h1 id="title"></h1>
  <p>Fill in a row, draw or upload an image, then predict. Requests go to
     <code>/predict</code> and <code>/explain</code> of this service.</p>
</header>
<main>
  <section>
    <h2>Input</h2>
    <form id="form" autocomplete="off"></form>
    <div class="tools">
      <button type="button" class="primary" id="predict">Predict</button>
      <span id="status"></span>
    </div>
    <div id="error" role="alert"></div>
  </section>
  <section>
    <h2>Prediction</h2>
    <div id="label" data-testid="label"></div>
    <table id="probabilities"></table>
    <h2 id="explanation-title" style="margin-top:18px" hidden>Why</h2>
    <div id="explanation"></div>
  </section>
</main>
<script type="application/json" id="config">__CONFIG__</script>
<script>
"use strict";
const config = JSON.parse(document.getElementById("config").textContent);
const form = document.getElementById("form");
const readers = {};
document.getElementById("title").textContent =
  "Predict " + config.target + (config.task === "regression" ? " (a number)" : "");
document.title = "tailorml playground: " + config.target;

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function fieldBox(field, tag) {
  // a <label> would forward clicks on the canvas to the first button inside it
  const box = el(tag || "label", {class: "field"});
  box.append(el("span", {class: "name"}, field.name), el("small", {}, field.description));
  form.append(box);
  return box;
}

function tableField(field) {
  const box = fieldBox(field);
  let input;
  if (field.kind === "text") {
    input = el("textarea", {name: field.name, id: "field-" + field.name});
    input.value = field.default || "";
    readers[field.name] = () => input.value;
  } else if (field.kind === "binary") {
    input = el("select", {name: field.name, id: "field-" + field.name});
    for (const c of field.choices) input.append(el("option", {value: c}, c));
    if (field.nullable) input.append(el("option", {value: ""}, "(missing)"));
    input.value = field.default;
    readers[field.name] = () => input.value === "" ? null : input.value;
  } else if (field.kind === "number") {
    input = el("input", {type: "number", step: "any", name: field.name, id: "field-" + field.name});
    input.value = field.default;
    readers[field.name] = () => input.value === "" ? null : Number(input.value);
  } else {
    const list = "list-" + field.name;
    input = el("input", {name: field.name, id: "field-" + field.name, list: list});
    const options = el("datalist", {id: list});
    for (const c of field.choices) options.append(el("option", {value: c}));
    box.append(options);
    input.value = field.default;
    readers[field.name] = () => (input.value === "" && field.nullable) ? null : input.value;
  }
  box.append(input);
}

function imageField(field) {
  const box = fieldBox(field, "div");
  const [h, w, c] = field.image;
  const zoom = Math.max(1, Math.floor(280 / Math.max(h, w)));
  const canvas = el("canvas", {class: "draw", width: w * zoom, height: h * zoom,
                               id: "canvas-" + field.name, "data-testid": "canvas"});
  const ctx = canvas.getContext("2d", {willReadFrequently: true});
  const clear = () => { ctx.fillStyle = "#000"; ctx.fillRect(0, 0, canvas.width, canvas.height); };
  clear();
  let drawing = false;
  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * canvas.width / r.width,
            (e.clientY - r.top) * canvas.height / r.height];
  };
  canvas.addEventListener("pointerdown", (e) => {
    drawing = true;
    const [x, y] = at(e);
    ctx.strokeStyle = "#fff"; ctx.lineWidth = 2.4 * zoom; ctx.lineCap = "round";
    ctx.lineJoin = "round"; ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x, y); ctx.stroke();
    try { canvas.setPointerCapture(e.pointerId); } catch (err) { /* synthetic pointers */ }
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    const [x, y] = at(e); ctx.lineTo(x, y); ctx.stroke();
  });
  const stop = () => { drawing = false; };
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);
  const tools = el("div", {class: "tools"});
  const clearButton = el("button", {type: "button", id: "clear-" + field.name}, "Clear");
  clearButton.addEventListener("click", clear);
  const invert = el("button", {type: "button"}, "Invert");
  invert.addEventListener("click", () => {
    const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
    for (let i = 0; i < img.data.length; i += 4) {
      for (let k = 0; k < 3; k++) img.data[i + k] = 255 - img.data[i + k];
    }
    ctx.putImageData(img, 0, 0);
  });
  const upload = el("input", {type: "file", accept: "image/*", id: "upload-" + field.name});
  upload.addEventListener("change", async () => {
    if (!upload.files.length) return;
    const bitmap = await createImageBitmap(upload.files[0]);
    clear();
    const s = Math.min(canvas.width / bitmap.width, canvas.height / bitmap.height);
    const dw = bitmap.width * s, dh = bitmap.height * s;
    ctx.drawImage(bitmap, (canvas.width - dw) / 2, (canvas.height - dh) / 2, dw, dh);
  });
  tools.append(clearButton, invert, upload);
  box.append(canvas, tools);
  readers[field.name] = () => {
    const small = el("canvas", {width: w, height: h});
    const sctx = small.getContext("2d");
    sctx.imageSmoothingEnabled = true; sctx.imageSmoothingQuality = "high";
    sctx.drawImage(canvas, 0, 0, w, h);
    const px = sctx.getImageData(0, 0, w, h).data;
    const k = field.scale / 255;
    const rows = [];
    for (let y = 0; y < h; y++) {
      const row = [];
      for (let x = 0; x < w; x++) {
        const i = 4 * (y * w + x);
        const rgba = [px[i], px[i + 1], px[i + 2], px[i + 3]].map((v) => v * k);
        row.push(c === 1 ? (rgba[0] + rgba[1] + rgba[2]) / 3 : rgba.slice(0, c));
      }
      rows.push(row);
    }
    return rows;
  };
}

for (const field of config.fields) {
  if (field.kind === "image") imageField(field); else tableField(field);
}
let keyInput = null;
if (config.needs_key) {
  const box = fieldBox({name: "API key", description: "This service asks for an API key."});
  keyInput = el("input", {type: "password", id: "api-key"});
  keyInput.value = sessionStorage.getItem("tailor-key") || "";
  box.append(keyInput);
}

async function call(path, row) {
  const headers = {"Content-Type": "application/json"};
  if (keyInput && keyInput.value) {
    headers["X-API-Key"] = keyInput.value;
    sessionStorage.setItem("tailor-key", keyInput.value);
  }
  const response = await fetch(path, {method: "POST", headers: headers,
                                      body: JSON.stringify({rows: [row]})});
  const body = await response.json().catch(() => ({detail: response.statusText}));
  if (!response.ok) throw new Error(response.status + ": " + (body.detail || "request failed"));
  return body;
}

function bar(value, scale, kind) {
  const cell = el("td");
  const b = el("div", {class: "bar " + (kind || "")});
  b.style.width = Math.max(1, Math.round(120 * Math.abs(value) / (scale || 1))) + "px";
  cell.append(b);
  return cell;
}

function showPrediction(prediction) {
  const table = document.getElementById("probabilities");
  table.replaceChildren();
  if (config.task === "regression") {
    document.getElementById("label").textContent = Number(prediction.value).toPrecision(5);
    return;
  }
  document.getElementById("label").textContent = prediction.label;
  const entries = Object.entries(prediction.probabilities).sort((a, b) => b[1] - a[1]);
  for (const [label, p] of entries) {
    const tr = el("tr", {class: label === prediction.label ? "chosen" : ""});
    tr.append(el("td", {}, label), bar(p, 1), el("td", {class: "num"}, (100 * p).toFixed(1) + "%"));
    table.append(tr);
  }
}

function heatmap(values, base, h, w) {
  const zoom = Math.max(1, Math.floor(140 / Math.max(h, w)));
  const canvas = el("canvas", {width: w * zoom, height: h * zoom, class: "heat"});
  const ctx = canvas.getContext("2d");
  let top = 0;
  for (const row of values) for (const v of row) top = Math.max(top, Math.abs(v));
  let low = Infinity, high = -Infinity;
  for (const row of base) for (const v of row) { low = Math.min(low, v); high = Math.max(high, v); }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const g = Math.round(255 * (base[y][x] - low) / ((high - low) || 1) * 0.6);
      const a = top ? values[y][x] / top : 0;
      const r = a > 0 ? g + (255 - g) * a : g * (1 + a);
      const b = a < 0 ? g + (255 - g) * -a : g * (1 - a);
      ctx.fillStyle = "rgb(" + Math.round(r) + "," + Math.round(g * (1 - Math.abs(a))) + ","
                      + Math.round(b) + ")";
      ctx.fillRect(x * zoom, y * zoom, zoom, zoom);
    }
  }
  return canvas;
}

function showExplanation(item) {
  const box = document.getElementById("explanation");
  box.replaceChildren();
  document.getElementById("explanation-title").hidden = false;
  const features = Object.entries(item.features);
  const top = Math.max(...features.map(([, f]) => Math.abs(f.score)), 1e-12);
  const table = el("table", {id: "scores"});
  for (const [name, f] of features.sort((a, b) => Math.abs(b[1].score) - Math.abs(a[1].score))) {
    const tr = el("tr");
    tr.append(el("td", {}, name), bar(f.score, top, f.score < 0 ? "neg" : "pos"),
              el("td", {class: "num"}, f.score.toPrecision(3)));
    table.append(tr);
  }
  box.append(el("p", {}, "Contribution of each input toward '" + item.prediction + "' ("
                + item.method.replace(/_/g, " ") + "): green for, red against."), table);
  for (const [name, f] of features) {
    if (f.map) {
      const maps = el("div", {class: "maps"});
      const fig = el("figure");
      fig.append(heatmap(f.map, f.image, f.map.length, f.map[0].length),
                 el("figcaption", {}, name + ": red pixels argue for it, blue against"));
      maps.append(fig);
      box.append(maps);
    }
    if (f.tokens) {
      const p = el("p");
      const peak = Math.max(...f.scores.map(Math.abs), 1e-12);
      f.tokens.forEach((t, i) => {
        const span = el("span", {class: "token"}, t);
        const a = (0.7 * Math.abs(f.scores[i]) / peak).toFixed(2);
        span.style.background = f.scores[i] >= 0 ? "rgba(31,157,85," + a + ")"
                                                  : "rgba(214,69,69," + a + ")";
        p.append(span);
      });
      box.append(el("small", {}, name), p);
    }
  }
}

document.getElementById("predict").addEventListener("click", async () => {
  const status = document.getElementById("status");
  const error = document.getElementById("error");
  error.textContent = "";
  const row = {};
  for (const field of config.fields) row[field.name] = readers[field.name]();
  status.textContent = "predicting…";
  try {
    const started = performance.now();
    const answer = await call("/predict", row);
    showPrediction(answer.predictions[0]);
    status.textContent = "answered in " + Math.round(performance.now() - started) + " ms";
    if (config.explain) {
      const why = await call("/explain", row);
      showExplanation(why.explanations[0]);
    }
  } catch (e) {
    status.textContent = "";
    error.textContent = String(e.message || e);
  }
});
</script>
</body>
</html>
"""
