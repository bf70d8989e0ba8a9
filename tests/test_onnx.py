"""ONNX export: the run-level export checks, quantizes, reports and fails clearly
(every registered encoder's export, with parity and a dynamic batch, is the
conformance kit's: test_conformance)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

import tailorml
from tailorml.config import ModelConfig
from tailorml.errors import TailorError
from tailorml.features.meta import FeatureMeta
from tailorml.models import TailorModel
from tailorml.models.encoders import RNNEncoder
from tailorml.ship import onnx as ship
from tailorml.ship.onnx import OnnxModel, export_network, export_onnx, onnx_names

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEXT_WIDTH = 8
METAS = {
    "number": FeatureMeta("num", "number", (1,), "float32"),
    "binary": FeatureMeta("flag", "binary", (1,), "float32"),
    "category": FeatureMeta("cat", "category", (), "int64", vocab_size=5),
    "text": FeatureMeta("text", "text", (TEXT_WIDTH,), "int64", vocab_size=20),
    "image": FeatureMeta("img", "image", (1, 10, 10), "float32"),
}
PICKLE_SUFFIXES = {".pkl", ".pickle", ".joblib", ".pt", ".pth"}


def build_model(features: list[tuple[FeatureMeta, dict[str, Any]]]) -> TailorModel:
    """An untrained 3-class model with one input per (meta, encoder options)."""
    config = ModelConfig.model_validate(
        {
            "data": {"source": "unused.csv", "target": "y"},
            "input_features": [
                {"name": m.name, "type": m.type, **({"encoder": e} if e else {})}
                for m, e in features
            ],
            "output_features": [{"name": "y", "type": "category"}],
            "decoder": {"hidden": [16]},
        }
    )
    torch.manual_seed(0)
    return TailorModel(config, {m.name: m for m, _ in features}, 3).eval()


def test_graph_inputs_are_named_after_features_and_sanitised() -> None:
    names = onnx_names(["age", "age.years", "age_years", "2nd text", "outputs", ""])
    assert list(names.values()) == [
        "age", "age_years", "age_years_2", "input_2nd_text", "outputs_2", "input_"
    ]  # fmt: skip


def test_an_encoder_that_cannot_export_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    def data_dependent(self: RNNEncoder, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:  # a branch on the data: torch.export cannot trace it
            return torch.zeros(x.shape[0], self.output_size)
        return torch.ones(x.shape[0], self.output_size)

    monkeypatch.setattr(RNNEncoder, "forward_padded", data_dependent)
    number, text = METAS["number"], METAS["text"]
    model = build_model([(number, {}), (text, {"name": "rnn"})])
    with pytest.raises(
        TailorError, match="the 'rnn' encoder of input feature 'text' cannot be exported to ONNX: "
    ):
        export_network(model, {"num": number, "text": text}, {"num": "embed_mlp", "text": "rnn"})


# ---------------------------------------------------------------- a trained run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-epoch run on 150 synthetic rows: a number, a category and a text (rnn)."""
    folder = tmp_path_factory.mktemp("onnx")
    rng = np.random.default_rng(0)
    words = np.array(["good", "bad", "fine", "poor", "great", "awful"])
    score = rng.normal(size=150)
    frame = pd.DataFrame(
        {
            "score.value": score,
            "colour": rng.choice(["red", "green", "blue"], 150),
            "review": [" ".join(rng.choice(words, rng.integers(0, 7))) for _ in range(150)],
            "label": np.where(score > 0.3, "high", np.where(score < -0.3, "low", "mid")),
        }
    )
    frame.to_csv(folder / "rows.csv", index=False)
    config = {
        "data": {"source": str(folder / "rows.csv"), "target": "label"},
        "input_features": [
            {"name": "score.value", "type": "number"},
            {"name": "colour", "type": "category"},
            {"name": "review", "type": "text", "preprocessing": {"max_length": 8},
             "encoder": {"name": "rnn", "hidden_size": 8, "embedding_size": 8}},
        ],
        "output_features": [{"name": "label", "type": "category"}],
        "training": {"epochs": 1, "batch_size": 32},
    }  # fmt: skip
    tailorml.train(config, folder / "run", quiet=True)
    return folder / "run"


def test_export_writes_the_network_and_a_report(run_dir: Path) -> None:
    report = export_onnx(run_dir, quantize="int8")
    model_dir = run_dir / "model"
    assert report["folder"] == str(model_dir)
    assert (model_dir / "model.onnx").is_file() and (model_dir / "model.int8.onnx").is_file()
    written = json.loads((model_dir / "onnx.json").read_text())
    assert written == {k: v for k, v in report.items() if k != "folder"}
    assert [(s["name"], s["feature"], s["dtype"], s["shape"]) for s in written["inputs"]] == [
        ("score_value", "score.value", "float32", ["batch", 1]),
        ("colour", "colour", "int64", ["batch"]),
        ("review", "review", "int64", ["batch", 8]),
    ]
    assert written["opset"] == ship.OPSET
    assert written["parity"]["rows"] == 30 and written["parity"]["max_abs_diff"] <= 1e-4
    int8 = written["int8"]
    assert int8["metric"] == "accuracy" and int8["rows"] == 30
    assert int8["change"] == pytest.approx(int8["int8"] - int8["fp32"])
    assert not {p.suffix for p in model_dir.iterdir()} & PICKLE_SUFFIXES


def test_onnx_model_gives_the_torch_outputs(run_dir: Path) -> None:
    if not (run_dir / "model" / "onnx.json").is_file():
        export_onnx(run_dir)
    run = tailorml.load(run_dir)
    rows = pd.read_csv(run_dir.parent / "rows.csv").iloc[:7]
    inputs = run.bundle.features.encode(rows, "rows", with_target=False).inputs
    expected = run.outputs(run.bundle.features.encode(rows, "rows")).numpy()
    onnx_model = OnnxModel(run_dir / "model", threads=1)
    assert onnx_model.features == ["score.value", "colour", "review"]
    arrays = {name: tensor.numpy() for name, tensor in inputs.items()}
    np.testing.assert_allclose(onnx_model.outputs(arrays), expected, atol=1e-5)
    np.testing.assert_allclose(onnx_model.outputs(inputs, batch_size=3), expected, atol=1e-5)
    one = {name: array[:1] for name, array in arrays.items()}
    np.testing.assert_allclose(onnx_model.outputs(one), expected[:1], atol=1e-5)
    with pytest.raises(TailorError, match="needs input feature\\(s\\) 'review'"):
        onnx_model.outputs({k: v for k, v in arrays.items() if k != "review"})


def test_export_fails_without_parity_and_writes_nothing(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = ship.predict_outputs
    monkeypatch.setattr(ship, "predict_outputs", lambda *a, **k: real(*a, **k) + 0.01)
    with pytest.raises(TailorError, match="differ from PyTorch's by up to 0.01 on 30 test rows"):
        export_onnx(run_dir, output=tmp_path / "net.onnx")
    assert list(tmp_path.iterdir()) == []


def test_export_refuses_classical_models(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "bundle_v1" / "linear", tmp_path / "linear")
    with pytest.raises(TailorError, match="ONNX export is for deep models; this run is a 'linear'"):
        export_onnx(tmp_path / "linear")
    with pytest.raises(TailorError, match="--quantize takes int8, not 'int4'"):
        export_onnx(tmp_path / "linear", quantize="int4")


def test_onnx_model_needs_an_export(tmp_path: Path) -> None:
    with pytest.raises(TailorError, match="no ONNX export in .*run `tailor export` first"):
        OnnxModel(tmp_path)


def test_cli_export(cli: Any, run_dir: Path, tmp_path: Path) -> None:
    result = cli("export", str(run_dir), "--output", str(tmp_path / "net.onnx"))
    assert result.returncode == 0, result.stderr
    assert "max |ONNX - PyTorch|" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.onnx", "onnx.json"]
    assert OnnxModel(tmp_path).report["file"] == "net.onnx"

    shutil.copytree(FIXTURES / "bundle_v1" / "linear", tmp_path / "linear")
    result = cli("export", str(tmp_path / "linear"))
    assert result.returncode == 2
    assert "ONNX export is for deep models; this run is a 'linear' model" in result.stderr
    assert "Traceback" not in result.stderr
