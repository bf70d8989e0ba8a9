"""The playground at ``GET /``: one self-contained page made from the input schema.

A form field per table column, a text box per text feature, for each image
feature a drawing canvas (the model's size, scaled up) plus an upload, and for
each audio feature a file input and a Record button (the browser's
MediaRecorder). Browsers record WebM or Ogg Opus, which libsndfile may not
read: the page decodes the recording (``AudioContext.decodeAudioData``),
mixes it to mono at the model's rate (an ``OfflineAudioContext``), trims the
silence around it (unless asked not to) and writes a 16-bit PCM WAV file, which
it plays back and sends as base64. An uploaded file goes as it is. It calls
``/predict`` and then ``/explain`` and shows the label, the probabilities and
the attributions. No script, style or font comes from elsewhere: the page works
without a network. Every value from the model (names, labels) reaches the page
as JSON data and is shown with ``textContent``, never as markup.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TypedDict

from tailorml.report.render import render
from tailorml.runs.run import Run
from tailorml.serve.schema import InputField


class PageConfig(TypedDict):
    """What the page's script needs to know about the model."""

    target: str
    task: str
    labels: list[str]
    fields: list[dict[str, object]]  # each InputField's attributes; images add their scale
    explain: bool
    needs_key: bool


def playground_html(run: Run, fields: list[InputField], explain: bool, needs_key: bool) -> str:
    """The page (``report/templates/playground.html.j2``) for this model and its request
    fields, its ``PageConfig`` embedded as JSON."""
    target = run.bundle.features.target
    scales = {p.name: p.options.get("scale", 255.0) for p in run.bundle.features.inputs}
    described = [asdict(field) for field in fields]
    for item in described:
        if item["kind"] == "image":  # the canvas starts blank
            item.update(default=None, scale=scales.get(item["name"], 255.0))
        if item["kind"] == "audio":  # no clip until one is recorded or chosen
            item.update(default=None, example=None)
    config = PageConfig(target=target.name, task=target.task, labels=target.labels,
                        fields=described, explain=explain, needs_key=needs_key)  # fmt: skip
    return render("playground.html.j2", {"config": config})
