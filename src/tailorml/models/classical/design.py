"""Design matrices for classical models, built from the same encoded features
the deep models use (so preprocessing is fitted once and saved as JSON)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from tailorml.features.meta import FeatureMeta
from tailorml.io import load_tensors, save_tensors

Inputs = dict[str, torch.Tensor]
TABLE_TYPES = ("number", "binary", "category")


def token_counts(ids: np.ndarray, vocab_size: int) -> sp.csr_matrix:
    """(N, T) token ids (0 = padding) to sparse (N, V) counts."""
    rows = np.repeat(np.arange(ids.shape[0]), ids.shape[1])
    flat = ids.reshape(-1)
    keep = flat != 0
    data = np.ones(int(keep.sum()))
    shape = (ids.shape[0], vocab_size)
    return sp.csr_matrix((data, (rows[keep], flat[keep])), shape=shape)


def fit_idf(inputs: Inputs, metas: dict[str, FeatureMeta]) -> dict[str, np.ndarray]:
    """Smoothed inverse document frequency per text feature (training rows)."""
    idf = {}
    for name, meta in metas.items():
        if meta.type == "text":
            counts = token_counts(inputs[name].numpy(), int(meta.vocab_size or 0))
            df = np.asarray((counts > 0).sum(axis=0)).reshape(-1)
            idf[name] = np.log((1 + counts.shape[0]) / (1 + df)) + 1.0
    return idf


def tfidf(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """Sublinear TF × IDF, each row scaled to unit length (on the stored
    entries directly: a request of one row must not pay for matrix algebra)."""
    weighted = counts.copy()
    weighted.data = (1.0 + np.log(weighted.data)) * idf[weighted.indices]
    row_of = np.repeat(np.arange(weighted.shape[0]), np.diff(weighted.indptr))
    norms = np.sqrt(np.bincount(row_of, weights=weighted.data**2, minlength=weighted.shape[0]))
    norms[norms == 0] = 1.0
    weighted.data /= norms[row_of]
    return weighted


def sparse_design(
    inputs: Inputs, metas: dict[str, FeatureMeta], idf: dict[str, np.ndarray]
) -> sp.csr_matrix:
    """Linear-model design: numbers as is, categories one-hot, text TF-IDF,
    images as flattened pixels, audio frames as their statistics over time."""
    blocks = []
    for name, meta in metas.items():
        values = inputs[name].numpy()
        if meta.type == "category":
            indicators = (np.ones(len(values)), (np.arange(len(values)), values))
            blocks.append(sp.csr_matrix(indicators, shape=(len(values), int(meta.vocab_size or 0))))
        elif meta.type == "text":
            blocks.append(tfidf(token_counts(values, int(meta.vocab_size or 0)), idf[name]))
        elif meta.type == "audio":
            frames = values[:, 0].astype(np.float64)  # (N, T, F)
            blocks.append(sp.csr_matrix(np.hstack([frames.mean(1), frames.std(1)])))  # (N, 2F)
        else:
            blocks.append(sp.csr_matrix(values.reshape(len(values), -1).astype(np.float64)))
    return sp.csr_matrix(sp.hstack(blocks, format="csr"))


def dense_design(inputs: Inputs, metas: dict[str, FeatureMeta]) -> tuple[np.ndarray, list[int]]:
    """Tree-model design for tables: one column per feature, categories as
    integer codes. Returns the matrix and the indices of categorical columns."""
    columns: list[np.ndarray] = []
    categorical: list[int] = []
    for name, meta in metas.items():
        if meta.type not in TABLE_TYPES:
            raise ValueError(f"tree models take table features only, not {meta.type} '{name}'")
        if meta.type == "category":
            categorical.append(len(columns))
        columns.append(inputs[name].numpy().reshape(-1).astype(np.float64))
    return np.stack(columns, axis=1), categorical


def save_linear(path: Path, idf: dict[str, np.ndarray], **arrays: np.ndarray) -> None:
    """Coefficient arrays and the IDF weights (as ``idf.<feature>``) in one safetensors file."""
    tensors = {k: torch.from_numpy(v) for k, v in arrays.items()}
    tensors |= {f"idf.{k}": torch.from_numpy(v) for k, v in idf.items()}
    save_tensors(path, tensors)


def load_linear(path: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The arrays and the IDF weights that :func:`save_linear` wrote."""
    arrays = {k: v.numpy() for k, v in load_tensors(path).items()}
    return arrays, {k[4:]: v for k, v in arrays.items() if k.startswith("idf.")}
