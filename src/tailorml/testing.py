"""The conformance kit: what every encoder, model family and output type must do.

A plug-in is tested by being registered (``tests/test_conformance.py`` runs
every registered one) or by hand::

    from tailorml.testing import check_encoder, check_family, check_output

    check_encoder("my_encoder", [{"width": 8}])  # defaults, then each option set
    check_family("my_family", {"depth": 2})
    check_output("my_output")

Each check raises ``AssertionError`` saying what failed: shapes, gradient
flow, a save/load round trip, determinism, and, where the plug-in declares
them (``Capabilities``; for encoders, the deep family's), ONNX export,
private training and explanations.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from pydantic import ValidationError
from safetensors.torch import load as load_bytes
from safetensors.torch import save as save_bytes
from torch import nn

from tailorml.audit.explain import explain_rows
from tailorml.config import ModelConfig
from tailorml.data import load_builtin
from tailorml.errors import ConfigError
from tailorml.features import Encoded, FeatureMeta, FeatureSet
from tailorml.features.outputs import LOSSES, OUTPUT_TYPES
from tailorml.models import FAMILIES, TailorModel, family_named
from tailorml.models.family import Task
from tailorml.models.registry import ENCODERS, Encoder, EncoderEntry, build_encoder
from tailorml.runs.bundle import Bundle, load_bundle, save_bundle
from tailorml.runs.run import Run
from tailorml.ship.onnx import export_network, new_session, run_session
from tailorml.train import Trainer

BATCH = 8
ROWS = 48  # rows of a private training check
TEXT_WIDTH, TEXT_VOCAB = 12, 50
TEXT_LENGTHS = [12, 10, 8, 6, 4, 2, 12, 0]  # 54 tokens cover the ids 1..49; one empty row
METAS = [  # the features an encoder is checked on, each type it takes
    FeatureMeta("num", "number", (1,), "float32"),
    FeatureMeta("cat", "category", (), "int64", vocab_size=7),
    FeatureMeta("flag", "binary", (1,), "float32"),
    FeatureMeta("text", "text", (TEXT_WIDTH,), "int64", vocab_size=TEXT_VOCAB),
    FeatureMeta("gray", "image", (1, 28, 28), "float32"),
    FeatureMeta("rgb", "image", (3, 16, 16), "float32"),
    # 20 frames × 16 mel bands: short, as DP-SGD runs a recurrent cell once per frame
    FeatureMeta("clip", "audio", (1, 20, 16), "float32"),
]
AUDIO = METAS[6]
Options = dict[str, Any]  # an encoder's options, a family's params
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".pt", ".pth")


def check_encoder(
    encoder: str | type[Encoder], options: list[Options] | None = None, *,
    onnx: bool | None = None, private: bool | None = None,
) -> None:  # fmt: skip
    """Check a registered encoder on every feature type it takes.

    Args:
        encoder: its registered name, or its class.
        options: the option sets to check; None: the defaults.
        onnx: check the ONNX export (None: when the deep family declares it).
        private: check DP-SGD trains it or refuses it by name (None: likewise).
    """
    entry = encoder_entry(encoder)
    deep = family_named("deep").capabilities
    check_options(entry)
    for overrides in options or [{}]:
        checked: set[str] = set()
        for meta in [m for m in METAS if m.type in entry.types]:
            check_encoding(entry, meta, overrides)
            if meta.type in checked:  # the network checks once per type
                continue
            checked.add(meta.type)
            if deep.onnx if onnx is None else onnx:
                check_export(entry, meta, overrides)
            if deep.private if private is None else private:
                check_private(entry, meta, overrides)


def encoder_entry(encoder: str | type[Encoder]) -> EncoderEntry:
    found = [e for e in ENCODERS.values() if encoder in (e.name, e.cls)]
    assert found, f"no registered encoder {encoder!r}"
    return found[0]


def check_options(entry: EncoderEntry) -> None:
    """Defaults valid, a dump round-trips, an unknown key is refused."""
    options = entry.options.model_validate({"name": entry.name})
    assert entry.options.model_validate({}).name == entry.name  # the defaults are valid
    assert entry.options.model_validate(options.model_dump()) == options
    try:
        entry.options.model_validate({"name": entry.name, "not_an_option": 1})
    except ValidationError as err:
        assert "not_an_option" in str(err)
    else:
        raise AssertionError(f"encoder '{entry.name}' accepts an unknown option")


def build(entry: EncoderEntry, meta: FeatureMeta, overrides: Options, seed: int = 0) -> Encoder:
    options = entry.options.model_validate({"name": entry.name, **overrides})
    torch.manual_seed(seed)
    return build_encoder(meta, options)


def text_batch(
    lengths: list[int], width: int = TEXT_WIDTH, vocab: int = TEXT_VOCAB
) -> torch.Tensor:
    """Right-padded ids ``(len(lengths), width)``; real tokens cycle through 1..vocab-1."""
    x = torch.zeros(len(lengths), width, dtype=torch.long)
    start = 0
    for row, n in enumerate(lengths):
        x[row, :n] = torch.arange(start, start + n) % (vocab - 1) + 1
        start += n
    return x


def sample_input(meta: FeatureMeta, rows: int = BATCH, seed: int = 0) -> torch.Tensor:
    """A batch in the layout encoders receive; every category id and every
    text length (the empty one included) appear."""
    g = torch.Generator().manual_seed(seed)
    if meta.type == "number":
        return torch.randn(rows, 1, generator=g)
    if meta.type == "binary":
        return torch.randint(0, 2, (rows, 1), generator=g).float()
    if meta.type == "category":
        return torch.arange(rows) % (meta.vocab_size or 1)
    if meta.type == "text":
        lengths = TEXT_LENGTHS if rows == BATCH else [i % (meta.shape[0] + 1) for i in range(rows)]
        return text_batch(lengths, meta.shape[0], meta.vocab_size or TEXT_VOCAB)
    if meta.type == "audio":  # frames normalised per band: about zero mean, unit spread
        return torch.randn(rows, *meta.shape, generator=g)
    return torch.rand(rows, *meta.shape, generator=g)


def check_encoding(entry: EncoderEntry, meta: FeatureMeta, overrides: Options) -> None:
    """Shape and finiteness, gradient flow, a safetensors round trip into a
    differently seeded copy, determinism; text: padding changes nothing."""
    x = sample_input(meta)
    encoder = build(entry, meta, overrides)
    out = encoder(x)
    assert out.shape == (BATCH, encoder.output_size), f"{entry.name}: shape {tuple(out.shape)}"
    assert torch.isfinite(out).all(), f"{entry.name}: non-finite encodings"
    check_gradients(encoder, x)
    restored = build(entry, meta, overrides, seed=1)
    restored.load_state_dict(load_bytes(save_bytes(encoder.state_dict())))
    first, second = build(entry, meta, overrides).eval(), build(entry, meta, overrides).eval()
    with torch.no_grad():
        assert torch.equal(encoder.eval()(x), restored.eval()(x)), "save/load changed outputs"
        assert torch.equal(first(x), second(x)), "the same seed built another encoder"
    if meta.type == "text":
        check_padding(first)


def check_gradients(encoder: Encoder, x: torch.Tensor) -> None:
    """Every trainable parameter (and a float input) gets a gradient; every row of a
    trainable embedding looked up gets one, the padding row none."""
    seen: dict[nn.Embedding, torch.Tensor] = {}

    def record(module: nn.Module, args: tuple[Any, ...], _out: Any) -> None:
        seen[module] = args[0]  # type: ignore[index]

    embeddings = [m for m in encoder.modules() if isinstance(m, nn.Embedding)]
    hooks = [m.register_forward_hook(record) for m in embeddings]
    if x.is_floating_point():
        x = x.clone().requires_grad_(True)  # also covers encoders without parameters
    out = encoder.train()(x)
    if out.requires_grad:  # random weights: a plain sum has none through a final LayerNorm
        (out * torch.randn(out.shape, generator=torch.Generator().manual_seed(1))).sum().backward()
    for hook in hooks:
        hook.remove()
    if not out.requires_grad:  # a frozen pretrained encoder: nothing in it learns
        assert not any(p.requires_grad for p in encoder.parameters())
        return
    if x.requires_grad:
        assert x.grad is not None and x.grad.abs().sum() > 0, "no gradient reached the input"
    for name, param in encoder.named_parameters():
        if not param.requires_grad:
            assert param.grad is None, f"frozen {name} got a gradient"
            continue
        assert param.grad is not None and param.grad.abs().sum() > 0, f"{name}: no gradient"
    for module, ids in seen.items():
        if module.weight.requires_grad:
            assert module.weight.grad is not None
            rows, used = module.weight.grad.abs().sum(1), ids.unique()
            if module.padding_idx is not None:
                assert rows[module.padding_idx] == 0, "the padding row must not learn"
                used = used[used != module.padding_idx]
            assert (rows[used] > 0).all(), (
                f"embedding rows without gradient: {used[rows[used] == 0]}"
            )


def check_padding(encoder: Encoder) -> None:
    """A text row encodes the same padded in a batch as alone without padding
    (by masking, not by a zero padding vector)."""
    with torch.no_grad():
        for module in encoder.modules():
            if isinstance(module, nn.Embedding) and module.padding_idx is not None:
                module.weight[module.padding_idx] = 1.0
        lengths = [12, 3, 7, 1, 5]
        x = text_batch(lengths)
        batched = encoder(x)
        for row, n in enumerate(lengths):
            alone = encoder(x[row : row + 1, :n])
            torch.testing.assert_close(batched[row : row + 1], alone, rtol=1e-5, atol=1e-5)


def one_input_model(
    entry: EncoderEntry, meta: FeatureMeta, overrides: Options, training: Options
) -> tuple[TailorModel, ModelConfig]:
    """An untrained 3-class network on the one feature, and its config."""
    config = ModelConfig.model_validate({
        "data": {"source": "unused", "target": "y"},
        "input_features": [{"name": meta.name, "type": meta.type,
                            "encoder": {"name": entry.name, **overrides}}],
        "decoder": {"hidden": [8]},
        "output_features": [{"name": "y", "type": "category"}],
        "training": training,
    })  # fmt: skip
    torch.manual_seed(0)
    return TailorModel(config, {meta.name: meta}, 3), config


def check_export(entry: EncoderEntry, meta: FeatureMeta, overrides: Options) -> None:
    """The network exports to ONNX and matches PyTorch within 1e-4 at several batch sizes."""
    model = one_input_model(entry, meta, overrides, {})[0].eval()
    network, specs = export_network(model, {meta.name: meta}, {meta.name: entry.name})
    session = new_session(network)
    assert [s.name for s in specs] == [meta.name]
    for rows in (1, 7, 9):  # one session, several batch sizes
        x = sample_input(meta, rows, seed=rows)
        with torch.no_grad():
            expected = model({meta.name: x}).numpy()
        got = run_session(session, specs, {meta.name: x.numpy()})
        assert got.shape == expected.shape == (rows, 3)
        assert np.max(np.abs(got - expected)) <= 1e-4, f"{entry.name}: ONNX differs from PyTorch"


def check_private(entry: EncoderEntry, meta: FeatureMeta, overrides: Options) -> None:
    """One epoch of DP-SGD trains the weights within ε, or is refused naming the encoder."""
    training = {"epochs": 1, "batch_size": 16, "privacy": {"epsilon": 8}}
    model, config = one_input_model(entry, meta, overrides, training)
    target = torch.randint(0, 3, (ROWS,), generator=torch.Generator().manual_seed(1))
    data = Encoded({meta.name: sample_input(meta, ROWS)}, target)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    try:
        trainer = Trainer(model, "category", config.training, quiet=True)
        trainer.fit(data, None)
    except ConfigError as err:
        assert f"'{entry.name}' encoder of input feature '{meta.name}'" in str(err), str(err)
        return
    assert trainer.privacy is not None and 0 < trainer.privacy.epsilon <= 8 + 1e-6
    after = model.state_dict()  # the caller's model, trained, under its own names
    assert set(after) == set(before)
    assert any(not torch.equal(before[k], after[k]) for k in before), "nothing trained"


@dataclass
class TableData:
    """Rows a family is checked on: a binary table with a sensitive attribute."""

    config: ModelConfig
    features: FeatureSet
    train: Encoded
    held_out: pd.DataFrame
    sensitive: np.ndarray


@cache
def adult(rows: int = 2000) -> TableData:
    """``rows`` training and 500 held-out Adult rows; sex is the sensitive attribute."""
    frames = load_builtin("adult").frames
    train = frames["train"].sample(rows, random_state=1)
    config = ModelConfig.model_validate({
        "data": {"source": "builtin:adult", "target": "income"},
        "input_features": [{"name": n, "type": "number"}
                           for n in ("age", "hours_per_week", "education_num")]
        + [{"name": n, "type": "category"} for n in ("occupation", "marital_status")],
        "output_features": [{"name": "income", "type": "binary", "positive": ">50K"}],
    })  # fmt: skip
    features = FeatureSet.fit(config, train)
    held_out = frames["test"].sample(500, random_state=1).reset_index(drop=True)
    return TableData(config, features, features.encode(train, "train"), held_out,
                     train["sex"].to_numpy())  # fmt: skip


def fitted_bundle(name: str, params: Options, data: TableData) -> Bundle:
    """The family fitted on the inputs its config keeps (preprocessing is per column)."""
    family = family_named(name)
    config = family.config_for(data.config, params, seed=0)
    kept = {f.name for f in config.input_features}
    features = FeatureSet([p for p in data.features.inputs if p.name in kept], data.features.target)
    train = Encoded({n: x for n, x in data.train.inputs.items() if n in kept}, data.train.target)
    torch.manual_seed(0)
    model = family.build(config, features, params)
    spent = family.fit(model, train, None, config, data.sensitive)
    return Bundle(config, features, model, name, spent)


def check_family(name: str, params: Options | None = None, data: TableData | None = None) -> None:
    """Check a registered family: fit, outputs, determinism, a bundle round trip
    without pickle, its size, its candidates; ONNX export, private training and
    explanations where it declares them.

    Args:
        params: the family's params (a candidate's) to fit with.
        data: the rows to fit on; by default 2,000 Adult rows (a binary table).
    """
    params, data = params or {}, data or adult()
    family = family_named(name)
    bundle = fitted_bundle(name, params, data)
    run = Run(bundle)
    encoded = bundle.features.encode(data.held_out, "held_out", with_target=False)
    out = run.outputs(encoded)
    assert out.shape == (len(data.held_out), bundle.features.target.n_outputs), tuple(out.shape)
    assert torch.isfinite(out).all(), "non-finite outputs"
    proba = bundle.features.target.probabilities(out)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    again = Run(fitted_bundle(name, params, data)).outputs(encoded)
    assert torch.equal(out, again), "the same seed fitted another model"
    with tempfile.TemporaryDirectory() as folder:
        save_bundle(bundle, Path(folder) / "model")
        saved = [p.name for p in (Path(folder) / "model").iterdir()]
        assert not [n for n in saved if n.endswith(PICKLE_SUFFIXES)], f"pickle in {saved}"
        loaded = Run(load_bundle(Path(folder) / "model"))
        torch.testing.assert_close(loaded.outputs(encoded), out, rtol=0, atol=1e-6)
    size = family.size(bundle.model)
    assert isinstance(size, int) and size > 0, f"size {size!r}"
    flops = family.flops_per_row(bundle.model, encoded.inputs)
    assert flops is None or flops > 0
    check_candidates(name, data)
    capabilities = family.capabilities
    if capabilities.attribution is not None:
        check_explanations(run, data.held_out.iloc[:5])
    if capabilities.onnx:
        encoders = {f.name: getattr(f.encoder, "name", "?") for f in bundle.config.input_features}
        network, specs = export_network(bundle.model.eval(), bundle.features.metas(), encoders)
        got = run_session(new_session(network), specs, encoded.inputs)
        assert np.max(np.abs(got - out.numpy())) <= 1e-4, "ONNX differs from PyTorch"
    if capabilities.private:
        training = {**params.get("training", {}), "epochs": 1, "privacy": {"epsilon": 8}}
        spent = fitted_bundle(name, {**params, "training": training}, data).params["privacy"]
        assert 0 < spent["epsilon"] <= 8 + 1e-6, spent


def check_candidates(name: str, data: TableData) -> None:
    """Candidates for every modality, of registered families, with distinct names."""
    for metas in (data.features.metas(), {"t": METAS[3]}, {"i": METAS[5]}, {"a": AUDIO}):
        candidates, reasons = family_named(name).candidates(Task(metas, 1000, 600))
        assert all(isinstance(r, str) for r in reasons)
        assert all(c.family in FAMILIES for c in candidates), [c.family for c in candidates]
        assert len({c.name for c in candidates}) == len(candidates), "repeated candidate names"


def check_explanations(run: Run, rows: pd.DataFrame) -> None:
    """Every row gets a score per feature; exact attributions add up to the output."""
    for row in explain_rows(run, rows):
        assert set(row.features) == {p.name for p in run.bundle.features.inputs}
        total = sum(f.score for f in row.features.values())
        if row.convergence_delta is None:  # exact: completeness holds
            assert abs(total + row.baseline_output - row.output) < 1e-4
        else:
            assert np.isfinite(row.convergence_delta)


def check_output(name: str, column: pd.Series | None = None) -> None:
    """Check a registered output type: a JSON state, targets ``(N,)``, decoding,
    the round trip from decoded outputs, a loss with gradients, correct counts.

    Args:
        column: a training target column; by default two labels, or numbers
            for a regression type.
    """
    kind = OUTPUT_TYPES[name]
    regression = kind.task == "regression"
    if column is None:
        column = pd.Series(np.arange(20.0) if regression else ["no", "yes", "yes", "no"] * 5)
    state = kind.fit("y", column, None)
    assert json.loads(json.dumps(state)) == state, "the state is not plain JSON"
    y = kind.encode("y", column, state, "train")
    assert y.shape == (len(column),)
    out = torch.randn(len(column), kind.width(state), generator=torch.Generator().manual_seed(0))
    decoded = kind.decode(out, state)
    if regression:
        assert decoded.shape == (len(column),)
        torch.testing.assert_close(kind.as_outputs(out.reshape(-1).numpy()), out)
    else:
        np.testing.assert_allclose(decoded.sum(axis=1), 1.0, atol=1e-6)
        np.testing.assert_allclose(kind.decode(kind.as_outputs(decoded), state), decoded, atol=1e-5)
        perfect = np.eye(decoded.shape[1])[y.long().numpy()]
        assert int(kind.count_correct(kind.as_outputs(perfect), y)) == len(column)
    weights = out.clone().requires_grad_(True)
    loss = LOSSES[kind.loss]("mean")(weights, y)
    loss.backward()
    assert loss.dim() == 0 and torch.isfinite(loss) and weights.grad is not None
    assert LOSSES[kind.loss]("none")(out, y).shape == (len(column),)
    assert 0 <= int(kind.count_correct(out, y)) <= len(column)
