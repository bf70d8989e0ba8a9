"""Why a model decided as it did: per-row attributions, permutation importance,
and a deletion test of how faithful image attributions are.

Deep models are explained with Captum's Integrated Gradients over every input
of a row at once, so that its attributions add up to its output minus the
baseline's (up to the reported convergence delta). Float inputs are integrated
from zero: a black image, the training mean of a z-scored number, a clip whose
every band sits at its training mean (normalised audio frames; SpecAugment is
off, the network being in evaluation mode). Ids have no gradient, so their
path runs through the output of the feature's ``nn.Embedding``, as Captum's
LayerIntegratedGradients does: forward hooks swap in the interpolated vectors
while the ids still drive padding masks and packed lengths. Text starts from
its padding token's vectors, a category from the mean vector of its vocabulary.
A pretrained checkpoint's text is attributed through its word embeddings,
frozen or not; its tokens are the word pieces, [CLS] and [SEP] included (the
network reads them, and completeness needs their share).

Classical models are explained exactly: linear models by coefficient × design
value, summed per input feature (a text token's weight shared among its
occurrences; an audio clip's per band, over its mean and spread); LightGBM by
its own TreeSHAP (``pred_contrib``).

An audio feature's attribution is kept as a time × band map; a long clip's
time steps are summed into fewer, so that a row's map holds at most
``AUDIO_CELLS`` values.

Attributions point toward the decided class: its logit for a multi-class
model, its log-odds for a model with one output (negated when the negative
class is decided), the standardised output for regression.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from captum.attr import IntegratedGradients
from torch import nn
from torch.utils.hooks import RemovableHandle

from tailorml.errors import DataError, TailorError
from tailorml.features import Encoded, FeatureMeta, Preprocessor
from tailorml.models import TailorModel
from tailorml.models.classical.design import dense_design, sparse_design, token_counts
from tailorml.models.classical.lightgbm import LightGBMModel
from tailorml.models.classical.linear import LinearModel
from tailorml.models.model import module_key
from tailorml.records.explanations import (
    Attribution,
    AudioAttribution,
    Cell,
    ImageAttribution,
    Importance,
    RowExplanation,
    TextAttribution,
    ValueAttribution,
)
from tailorml.runs.run import Run

CONVERGED = 0.05  # |delta| below this share of |output|: the integral has converged
POINTS_PER_PASS = 2048  # rows × steps through the network in one forward/backward
AUDIO_CELLS = 8192  # most values in an audio row's map: 2 s of 10 ms steps × 40 bands fit


@dataclass
class Attributed:
    """Attributions of a batch of rows toward each row's decided class.

    Attributes:
        features: per input feature, ``(N, *shape)``: image ``(N, C, H, W)``,
            number/binary ``(N, 1)``, category ``(N,)``, text ``(N, T)`` per position,
            audio ``(N, 1, T, F)`` (a linear model's: ``(N, F)`` per band).
        output: ``(N,)`` the explained output (logit, log-odds or value).
        baseline: ``(N,)`` the same output at the baseline (or the bias).
        delta: ``(N,)`` sum of attributions minus (output − baseline); None when exact.
        method: ``integrated_gradients``, ``linear`` or ``tree_shap``.
    """

    features: dict[str, np.ndarray]
    output: np.ndarray
    baseline: np.ndarray
    delta: np.ndarray | None
    method: str


def explain_rows(run: Run, rows: pd.DataFrame, *, n_steps: int = 50) -> list[RowExplanation]:
    """Attribute each row's decision to its input features.

    Args:
        run: a trained deep, linear or LightGBM model.
        rows: the rows to explain (the target column may be absent).
        n_steps: Integrated Gradients steps (deep models only).

    Returns:
        One explanation per row, its features' attributions in input order:
        an image's map summed over channels beside the channel mean; an audio
        clip's time × band map beside its frames.

    Raises:
        DataError: no rows, or a column is missing.
        TailorError: a model family that cannot be explained.
    """
    rows = rows.reset_index(drop=True)
    encoded, attributed, decided = attribute(run, rows, n_steps)
    predicted = predictions(run, attributed, decided)
    return [
        RowExplanation(
            row=i,
            prediction=predicted[i],
            target=None if decided is None else int(decided[i]),
            output=float(attributed.output[i]),
            baseline_output=float(attributed.baseline[i]),
            convergence_delta=None if attributed.delta is None else float(attributed.delta[i]),
            method=attributed.method,
            features=row_features(run, rows, encoded, attributed, i),
        )
        for i in range(len(rows))
    ]


def predictions(run: Run, attributed: Attributed, decided: np.ndarray | None) -> list[str | float]:
    """Decided labels, or for regression the output in the target's units."""
    target = run.bundle.features.target
    if decided is None:
        scaled = torch.from_numpy(attributed.output.astype(np.float32)).reshape(-1, 1)
        return [float(v) for v in target.values(scaled)]
    return [target.labels[int(c)] for c in decided]


def attribute(
    run: Run, rows: pd.DataFrame, n_steps: int
) -> tuple[Encoded, Attributed, np.ndarray | None]:
    """Encode the rows, decide them as the run does, and attribute the decisions
    by the method the family declares (``Capabilities.attribution``).

    Returns:
        The encoded rows, their attributions and the decided class ids (None
        for regression).
    """
    if len(rows) == 0:
        raise DataError("there are no rows to explain.")
    features, model = run.bundle.features, run.bundle.model
    encoded = features.encode(rows, "explanation", with_target=False)
    out = run.outputs(encoded).detach().float()
    decided = None
    if features.target.task == "classification":
        decided = run.decide(features.target.probabilities(out), rows)
    method = run.family.capabilities.attribution
    if method == "integrated_gradients":
        columns, signs = direction(out.shape[1], decided, len(encoded))
        pads = {name: meta.pad_id for name, meta in features.metas().items()}
        attributed = integrated_gradients(model, encoded.inputs, columns, signs, n_steps, pads)
    elif method == "linear":
        attributed = linear_contributions(model, encoded.inputs, decided)
    elif method == "tree_shap":
        attributed = tree_contributions(model, encoded.inputs, decided)
    else:
        raise TailorError(f"cannot explain a '{run.bundle.family}' model.")
    return encoded, attributed, decided


def direction(width: int, decided: np.ndarray | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The output column ``(N,)`` that explains each of ``n`` rows, and its sign ``(N,)``.

    ``width`` counts the model's outputs (K class scores, or 1: a binary logit
    or a value); ``decided`` is None for regression. A single logit is negated
    for rows decided as class 0, so attributions always favour the decision.
    """
    if decided is None:
        return np.zeros(n, dtype=np.int64), np.ones(n)
    if width == 1:
        return np.zeros(n, dtype=np.int64), np.where(decided == 1, 1.0, -1.0)
    return np.asarray(decided, dtype=np.int64), np.ones(n)


def integrated_gradients(
    model: TailorModel,
    inputs: dict[str, torch.Tensor],
    columns: np.ndarray,
    signs: np.ndarray,
    n_steps: int,
    pads: dict[str, int],
) -> Attributed:
    """Integrated Gradients of every row, in batches of ``POINTS_PER_PASS`` points.

    Args:
        columns: ``(N,)`` the output column to explain per row.
        signs: ``(N,)`` ±1 multiplying that column (see :func:`direction`).
        pads: the padding id of each text feature (the baseline's token).
    """
    size = max(1, POINTS_PER_PASS // n_steps)
    parts = []
    was_training = model.training
    model.eval()  # no dropout; the caller's mode is restored after
    try:
        for start in range(0, len(columns), size):
            batch = {k: v[start : start + size] for k, v in inputs.items()}
            column = torch.from_numpy(columns[start : start + size])
            parts.append(integrate_batch(model, batch, column, n_steps, pads))
    finally:
        model.train(was_training)
    sign = signs.astype(np.float32)

    def joined(values: list[np.ndarray]) -> np.ndarray:
        """The batches as one array, pointed toward each row's decision."""
        whole = np.concatenate(values)
        return whole * sign.reshape(-1, *[1] * (whole.ndim - 1))

    return Attributed(
        {name: joined([p.features[name] for p in parts]) for name in inputs},
        joined([p.output for p in parts]),
        joined([p.baseline for p in parts]),
        joined([np.asarray(p.delta) for p in parts]),
        "integrated_gradients",
    )


def integrate_batch(
    model: TailorModel,
    inputs: dict[str, torch.Tensor],
    column: torch.Tensor,
    n_steps: int,
    pads: dict[str, int],
) -> Attributed:
    """One batch: float inputs and embedding outputs integrated together, toward
    the output ``column`` of each row, unsigned."""
    device = next(model.parameters()).device
    inputs = {k: v.to(device) for k, v in inputs.items()}
    column = column.to(device)
    layers = {  # the nn.Embedding that looks up each id feature's ids
        name: ids_embedding(model.encoders[module_key(name)], ids, name)
        for name, ids in inputs.items()
        if not ids.is_floating_point()
    }
    path = EmbeddingPath(model, layers)
    starts, baselines = path_ends(model.names, inputs, layers, pads)
    ids = tuple(inputs[name] for name in path.embedded)
    with removing([m.register_forward_hook(path.swap(n)) for n, m in layers.items()]):
        attributions, delta = IntegratedGradients(path).attribute(
            starts, baselines, target=column, additional_forward_args=ids,
            n_steps=n_steps, return_convergence_delta=True,
        )  # fmt: skip
        with torch.no_grad():
            output = path(*starts, *ids).gather(1, column.unsqueeze(1)).squeeze(1)
            baseline = path(*baselines, *ids).gather(1, column.unsqueeze(1)).squeeze(1)
    features = {}
    for name, values in zip(model.names, attributions, strict=True):
        if name in layers:
            values = values.sum(-1)  # (B, E) → (B,), (B, T, E) → (B, T)
        features[name] = values.detach().cpu().numpy()
    return Attributed(
        features,
        output.cpu().numpy(),
        baseline.cpu().numpy(),
        delta.detach().cpu().numpy(),
        "integrated_gradients",
    )


class EmbeddingPath:
    """The model as a function of floats: the raw float inputs, and the outputs
    of each id feature's embedding layer (swapped in by forward hooks).

    Called as ``path(*points, *ids)``: one point per input feature in the
    model's order, then the ids of each embedded feature in ``embedded`` order.
    An encoder that drops padding columns (dynamic padding) gets the points'
    matching leading columns; the dropped ones, padding at both ends of the
    path, get no attribution.
    """

    def __init__(self, model: TailorModel, layers: dict[str, nn.Embedding]):
        self.model = model
        self.embedded = [name for name in model.names if name in layers]
        self.vectors: dict[str, torch.Tensor] = {}
        self.ids: dict[str, torch.Tensor] = {}

    def __call__(self, *args: torch.Tensor) -> torch.Tensor:
        names = self.model.names
        points = dict(zip(names, args[: len(names)], strict=True))
        self.ids = dict(zip(self.embedded, args[len(names) :], strict=True))
        self.vectors = {name: points[name] for name in self.embedded}
        return self.model({**points, **self.ids})  # (B, K)

    def swap(self, name: str) -> Callable[[nn.Module, Any, torch.Tensor], torch.Tensor]:
        def hook(module: nn.Module, args: Any, output: torch.Tensor) -> torch.Tensor:
            vectors = self.vectors[name]  # (B, E) or (B, T, E)
            if vectors.shape == output.shape:
                return vectors
            if looks_up(args[0], self.ids[name]):  # (B, T') ids, T' < T
                return vectors[:, : output.shape[1]]  # (B, T', E)
            raise TailorError(
                f"cannot explain '{name}': its embedding looked up {tuple(args[0].shape)} ids "
                f"that are not the leading columns of the {tuple(self.ids[name].shape)} given."
            )

        return hook


def ids_embedding(encoder: nn.Module, ids: torch.Tensor, name: str) -> nn.Embedding:
    """The embedding layer of ``encoder`` that looks up the ids themselves.

    Found by watching a forward pass of the row with the most distinct ids,
    so that a transformer's position or token-type table (which looks up
    ``0, 1, 2, …`` or zeros) is never mistaken for its token table; the
    encoder may look up only the leading columns (dynamic padding).

    Raises:
        TailorError: the encoder has no such layer.
    """
    row = (ids.sort(dim=1).values.diff(dim=1) != 0).sum(1).argmax() if ids.dim() > 1 else 0
    probe = ids[row].unsqueeze(0)  # (1, T) or (1,)
    seen: list[nn.Embedding] = []
    embeddings = [m for m in encoder.modules() if isinstance(m, nn.Embedding)]

    def spot(module: nn.Embedding, args: tuple[Any, ...]) -> None:
        if args and looks_up(args[0], probe):
            seen.append(module)

    with removing([m.register_forward_pre_hook(spot) for m in embeddings]), torch.no_grad():
        encoder(probe)
    if not seen:
        raise TailorError(f"cannot explain '{name}': its encoder has no embedding for its ids.")
    return seen[0]


def looks_up(seen: Any, ids: torch.Tensor) -> bool:
    """Whether ``seen`` (what a layer received) is ``ids`` or its leading columns."""
    if not isinstance(seen, torch.Tensor) or seen.dim() != ids.dim():
        return False
    if ids.dim() == 2:
        ids = ids[:, : seen.shape[1]]
    return seen.shape == ids.shape and torch.equal(seen, ids)


def path_ends(
    names: list[str],
    inputs: dict[str, torch.Tensor],
    layers: dict[str, nn.Embedding],
    pads: dict[str, int],
) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
    """The float points of the rows and of their baselines, in ``names`` order:
    zero for floats, text's padding vectors, a category's mean vocabulary vector."""
    starts, baselines = [], []
    with torch.no_grad():
        for name in names:
            values, layer = inputs[name], layers.get(name)
            if layer is None:
                starts.append(values.float())
                baselines.append(torch.zeros_like(values, dtype=torch.float32))
                continue
            starts.append(layer(values))
            if values.dim() == 2:  # text (B, T): pad every position
                baselines.append(layer(torch.full_like(values, pads.get(name, 0))))
            else:  # category (B,)
                baselines.append(layer.weight.mean(0).expand(len(values), -1).clone())
    return tuple(starts), tuple(baselines)


@contextmanager
def removing(handles: list[RemovableHandle]) -> Iterator[None]:
    """The hooks behind ``handles`` in place inside, removed after."""
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def linear_contributions(
    model: LinearModel, inputs: dict[str, torch.Tensor], decided: np.ndarray | None
) -> Attributed:
    """Exact contributions of a linear model: coefficient × design value."""
    x = sparse_design(inputs, model.metas, model.idf)  # (N, D)
    columns, signs = direction(model.coef.shape[0], decided, x.shape[0])
    contrib = row_products(x, model.coef, columns, signs)  # (N, D)
    bias = model.intercept[columns] * signs
    features, start = {}, 0
    for name, meta in model.metas.items():
        if meta.type in ("category", "text"):
            width = int(meta.vocab_size or 0)
        elif meta.type == "audio":  # each band's mean, then each band's spread
            width = 2 * int(meta.shape[-1])
        else:
            width = int(np.prod(meta.shape))
        block = sp.csr_matrix(contrib[:, start : start + width])
        features[name] = linear_block(meta, block, inputs[name].numpy())
        start += width
    output = np.asarray(contrib.sum(1)).reshape(-1) + bias
    return Attributed(features, output, bias, None, "linear")


def row_products(
    x: sp.csr_matrix, coef: np.ndarray, columns: np.ndarray, signs: np.ndarray
) -> sp.csr_matrix:
    """Row i of ``x`` times coefficient row ``columns[i]`` and ``signs[i]``, kept
    sparse: a dense (N, D) would not fit for long vocabularies."""
    total = sp.csr_matrix(x.shape)
    for column in np.unique(columns):
        pick = sp.diags((columns == column) * signs)  # (N, N)
        total = total + pick @ sp.csr_matrix(x.multiply(coef[column : column + 1]))
    return sp.csr_matrix(total)


def linear_block(meta: FeatureMeta, block: sp.csr_matrix, values: np.ndarray) -> np.ndarray:
    """A feature's design-column contributions back in its input's shape."""
    n = block.shape[0]
    if meta.type == "category":
        return np.asarray(block.sum(1)).reshape(-1)  # (N,)
    if meta.type == "text":
        # a token id's contribution is shared among its positions in the row
        counts = token_counts(values, block.shape[1])  # (N, V)
        rows, values = np.arange(n)[:, None], np.array(values)  # scipy indexes writable arrays
        shared = block[rows, values].toarray() / np.maximum(counts[rows, values].toarray(), 1)
        return np.where(values != 0, shared, 0.0)  # (N, T)
    if meta.type == "audio":  # a band's mean and spread over the clip: (N, 2F) → (N, F)
        dense = block.toarray()
        return dense[:, : meta.shape[-1]] + dense[:, meta.shape[-1] :]
    return block.toarray().reshape(n, *meta.shape)  # image (N, C, H, W), number (N, 1)


def tree_contributions(
    model: LightGBMModel, inputs: dict[str, torch.Tensor], decided: np.ndarray | None
) -> Attributed:
    """TreeSHAP contributions of LightGBM, in raw-score (logit) units."""
    x, _ = dense_design(inputs, model.metas)  # (N, F)
    n, f = x.shape
    contrib = np.asarray(model.booster.predict(x, pred_contrib=True)).reshape(n, -1, f + 1)
    columns, signs = direction(contrib.shape[1], decided, n)
    chosen = contrib[np.arange(n), columns] * signs[:, None]  # (N, F + 1), last: expected value
    features = {}
    for j, (name, meta) in enumerate(model.metas.items()):
        features[name] = chosen[:, j] if meta.type == "category" else chosen[:, j : j + 1]
    return Attributed(features, chosen.sum(1), chosen[:, -1], None, "tree_shap")


def row_features(
    run: Run, rows: pd.DataFrame, encoded: Encoded, attributed: Attributed, i: int
) -> dict[str, Attribution]:
    """Every input feature's attribution in row ``i``."""
    return {
        pre.name: feature_entry(
            pre,
            rows[pre.name].iloc[i],
            encoded.inputs[pre.name][i].numpy(),
            attributed.features[pre.name][i],
        )
        for pre in run.bundle.features.inputs
    }


def feature_entry(
    pre: Preprocessor, raw: Any, encoded: np.ndarray, attribution: np.ndarray
) -> Attribution:
    """One feature of one row: its total score and what it is made of.

    Args:
        pre: the feature's fitted preprocessor.
        raw: the row's value in the table.
        encoded: the row's encoded value: ``(C, H, W)``, ``(T,)`` ids, ``(1,)``,
            ``()``, audio ``(1, T, F)``.
        attribution: in the shape of ``encoded``; a linear model's audio: ``(F,)``.
    """
    score = float(attribution.sum())
    if pre.type == "audio":
        return audio_entry(pre, encoded[0], attribution, score)
    if pre.type == "image":
        return ImageAttribution(
            type="image",
            score=score,
            map=significant(attribution.sum(0)),  # (H, W)
            image=significant(encoded.mean(0)),  # (H, W)
        )
    if pre.type == "text":
        real = encoded != pre.meta().pad_id  # padding: baseline = point, no attribution
        return TextAttribution(
            type="text",
            score=score,
            tokens=pre.tokens(torch.from_numpy(encoded[None]))[0],  # a checkpoint's: [CLS] …
            scores=significant(attribution[real]),
        )
    return ValueAttribution(type=pre.type, score=score, value=json_value(raw))


def audio_entry(
    pre: Preprocessor, frames: np.ndarray, attribution: np.ndarray, score: float
) -> AudioAttribution:
    """An audio clip's attribution: the ``(T, F)`` map beside the frames ``(T, F)``,
    time steps summed in groups when the map would exceed ``AUDIO_CELLS`` values;
    a linear model's ``(F,)`` per band alone."""
    kind: Literal["mel", "mfcc"] = "mfcc" if pre.options.get("features") == "mfcc" else "mel"
    step = float(pre.options.get("hop_ms", 10.0)) / 1000
    if attribution.ndim == 1:  # statistics of the whole clip: no place in time
        return AudioAttribution(type="audio", score=score, map=None, frames=None,
                                bands=significant(attribution), band_kind=kind,
                                step_seconds=step)  # fmt: skip
    scores = attribution.reshape(frames.shape)  # (T, F)
    group = -(-scores.size // AUDIO_CELLS)  # time steps per kept step
    if group > 1:
        scores, frames = coarsened(scores, group, np.sum), coarsened(frames, group, np.mean)
    return AudioAttribution(
        type="audio", score=score, map=significant(scores), frames=significant(frames),
        bands=significant(scores.sum(0)), band_kind=kind, step_seconds=step * group,
    )  # fmt: skip


def coarsened(values: np.ndarray, group: int, reduce: Callable[..., np.ndarray]) -> np.ndarray:
    """``(T, F)`` → ``(ceil(T / group), F)``: each ``group`` consecutive steps
    reduced to one (the last group may be shorter)."""
    starts = np.arange(0, len(values), group)
    return np.stack([reduce(values[i : i + group], axis=0) for i in starts])


def significant(values: np.ndarray, digits: int = 5) -> list[Any]:
    """Nested lists of floats rounded to ``digits`` significant digits (smaller JSON)."""
    rounded = np.vectorize(lambda v: float(f"{v:.{digits}g}"), otypes=[object])
    return list(rounded(np.asarray(values, dtype=np.float64)).tolist())


def json_value(value: Any) -> Cell:
    """A table cell as a JSON value: None for missing, Python scalars, else text."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def permutation_importance(
    run: Run, rows: pd.DataFrame, *, repeats: int = 5, seed: int = 0
) -> dict[str, Importance]:
    """The drop in the headline metric when one input column is shuffled.

    The headline is accuracy (with the run's decision rule), or −MAE for
    regression, so a larger drop always means a more important feature. The
    ``rows`` are labelled (held-out rows measure what generalises); each
    feature's ``repeats`` shuffles come from its own generator, seeded by
    ``seed`` and the feature's index.

    Returns:
        Per input feature: ``mean`` and ``std`` of the drop over the repeats.
    """
    if repeats < 1:
        raise TailorError(f"permutation importance needs repeats ≥ 1, got {repeats}.")
    rows = rows.reset_index(drop=True)
    reference = headline(run, rows)
    importance = {}
    for index, pre in enumerate(run.bundle.features.inputs):
        rng = np.random.default_rng([seed, index])
        drops = [reference - headline(run, shuffled(rows, pre.name, rng)) for _ in range(repeats)]
        importance[pre.name] = Importance(mean=float(np.mean(drops)), std=float(np.std(drops)))
    return importance


def headline(run: Run, rows: pd.DataFrame) -> float:
    """Accuracy, or −MAE: higher is better."""
    scores = run.score_rows(rows, "permutation")
    value = float(scores[str(scores.headline)] or 0.0)
    return -value if scores.headline == "mae" else value


def shuffled(rows: pd.DataFrame, column: str, rng: np.random.Generator) -> pd.DataFrame:
    """A copy of the rows with one column's values permuted (dtype kept)."""
    copy = rows.copy()
    copy[column] = rows[column].iloc[rng.permutation(len(rows))].set_axis(rows.index)
    return copy


def faithfulness(
    run: Run,
    rows: pd.DataFrame,
    fraction: float = 0.1,
    seed: int = 0,
    *,
    n_steps: int = 50,
    feature: str | None = None,
) -> dict[str, Any]:
    """Do the most-attributed pixels matter? A deletion test against chance.

    Sets the ``fraction`` of pixels with the highest attribution to 0 (all
    channels) and, separately, as many pixels drawn at random; a faithful
    attribution lowers the decided class's probability more.

    Args:
        run: a classifier with an image input.
        fraction: share of each image's pixels removed.
        seed: seed of the random pixels.
        feature: the image feature; None for the only one.

    Returns:
        ``feature``, ``rows``, ``fraction``, ``pixels_removed``, ``probability`` (mean
        decided-class probability), ``top_drop`` and ``random_drop`` (mean
        drops in it) and ``converged_share`` (rows with |delta| < 0.05 ×
        |output|; None for exact methods).

    Raises:
        TailorError: no image feature, a regression model, or a bad fraction.
    """
    name = image_feature(run, feature)
    if run.bundle.features.target.task != "classification":
        raise TailorError("faithfulness compares class probabilities; this model is a regression.")
    if not 0 < fraction < 1:
        raise TailorError(f"fraction must lie between 0 and 1, got {fraction}.")
    rows = rows.reset_index(drop=True)
    encoded, attributed, decided = attribute(run, rows, n_steps)
    assert decided is not None
    scores = torch.from_numpy(attributed.features[name].sum(1)).flatten(1)  # (N, H·W)
    k = max(1, round(fraction * scores.shape[1]))
    top = scores.argsort(dim=1, descending=True)[:, :k]
    generator = torch.Generator().manual_seed(seed)
    chance = torch.rand(scores.shape, generator=generator).argsort(dim=1)[:, :k]
    before = decided_probability(run, encoded, decided)
    top_drop = before - decided_probability(run, without(encoded, name, top), decided)
    random_drop = before - decided_probability(run, without(encoded, name, chance), decided)
    return {
        "feature": name,
        "rows": len(rows),
        "fraction": fraction,
        "pixels_removed": k,
        "probability": float(before.mean()),
        "top_drop": float(top_drop.mean()),
        "random_drop": float(random_drop.mean()),
        "converged_share": converged_share(attributed),
    }


def image_feature(run: Run, feature: str | None) -> str:
    images = [p.name for p in run.bundle.features.inputs if p.type == "image"]
    if feature is not None and feature in images:
        return feature
    if feature is None and len(images) == 1:
        return images[0]
    raise TailorError(
        f"faithfulness needs one image feature; the model has {images or 'none'}"
        + (f", not '{feature}'." if feature else ": name one with feature=.")
    )


def without(encoded: Encoded, name: str, pixels: torch.Tensor) -> Encoded:
    """The encoded rows with the given pixels ``(N, k)`` of one image set to 0."""
    images = encoded.inputs[name]  # (N, C, H, W)
    n, _, h, w = images.shape
    removed = torch.zeros(n, h * w, dtype=torch.bool).scatter_(1, pixels, True)
    kept = images * (~removed).reshape(n, 1, h, w)
    return Encoded({**encoded.inputs, name: kept}, None)


def decided_probability(run: Run, encoded: Encoded, decided: np.ndarray) -> np.ndarray:
    proba = run.bundle.features.target.probabilities(run.outputs(encoded).detach())
    return np.asarray(proba[np.arange(len(decided)), decided])  # (N,)


def converged_share(attributed: Attributed) -> float | None:
    """Share of rows whose |convergence delta| is under 5% of |output|."""
    if attributed.delta is None:
        return None
    return float(np.mean(np.abs(attributed.delta) < CONVERGED * np.abs(attributed.output)))
