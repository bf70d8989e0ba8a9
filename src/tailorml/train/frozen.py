"""Frozen pretrained encoders: embeddings computed once per data set, cached on disk.

A frozen encoder maps the same ids to the same vectors every epoch, so the
training loop replaces its token ids by the pooled embeddings before the
first epoch and only the decoder trains. The vectors are cached under
``$TAILORML_CACHE/embeddings`` (default ``~/.cache/tailorml``), keyed by a
digest of the encoder's weights and options, the precision and the token ids
themselves: a changed checkpoint, text or tokenizer setting (truncation,
``max_length``) gives other ids or weights and so another key.
"""

from __future__ import annotations

import hashlib
import time

import torch
from safetensors import SafetensorError
from torch import nn

from tailorml.data.fetch import default_cache_dir
from tailorml.io import load_tensors, save_tensors
from tailorml.models.model import Network
from tailorml.models.registry import Encoder
from tailorml.train.precision import autocast
from tailorml.train.progress import counting

EMBED_BATCH = 64  # texts per forward pass; larger batches ran slower on the CPU


def embed_frozen_costed(
    model: nn.Module, inputs: dict[str, torch.Tensor], precision: str, quiet: bool = True
) -> tuple[dict[str, torch.Tensor], float]:
    """``inputs`` with every frozen encoder's token ids ``(N, T)`` replaced by
    its pooled embeddings ``(N, D)``, which the encoder passes through, and the
    seconds that computing them took: measured now on a cache miss, recorded in
    the cache file on a hit (so a model trained on cached embeddings can be
    charged what they cost; 0 without frozen encoders).

    Args:
        model: the network; one without encoders is left alone.
        precision: ``fp32`` or ``bf16`` (autocast), part of the cache key.
    """
    out, seconds = dict(inputs), 0.0
    if not isinstance(model, Network):
        return out, seconds
    for name in model.names:
        encoder = model.encoder(name)
        if encoder.frozen and not inputs[name].is_floating_point():  # still token ids
            out[name], spent = cached_embeddings(encoder, inputs[name], precision, quiet)
            seconds += spent
    return out, seconds


def cached_embeddings(
    encoder: Encoder, ids: torch.Tensor, precision: str, quiet: bool = True
) -> tuple[torch.Tensor, float]:
    """The pooled embeddings of ``ids`` from the cache, computed on a miss,
    and the seconds computing them took (recorded beside them)."""
    path = default_cache_dir() / "embeddings" / f"{cache_key(encoder, ids, precision)}.safetensors"
    if path.is_file():
        try:
            cached = load_tensors(path)
            return cached["embeddings"], float(cached["seconds"])
        except (SafetensorError, KeyError, OSError):
            pass  # unreadable (or from before costs were recorded): compute and replace it
    vectors, seconds = embed(encoder, ids, precision, quiet)
    save_tensors(path, {"embeddings": vectors, "seconds": torch.tensor(seconds)})
    return vectors, seconds


@torch.inference_mode()
def embed(
    encoder: Encoder, ids: torch.Tensor, precision: str, quiet: bool = True
) -> tuple[torch.Tensor, float]:
    """Pooled embeddings ``(N, D)`` float32, in batches of texts of similar length,
    and the seconds computing them took."""
    started = time.perf_counter()
    was_training = encoder.training
    encoder.eval()
    lengths = encoder.lengths(ids)
    order = torch.arange(len(ids)) if lengths is None else torch.argsort(lengths, stable=True)
    device = next(encoder.parameters()).device
    vectors = torch.empty(len(ids), encoder.output_size)
    with counting("embedding texts", len(ids), quiet) as advance:
        for start in range(0, len(ids), EMBED_BATCH):
            index = order[start : start + EMBED_BATCH]
            with autocast(precision, device):
                batch = ids.index_select(0, index).to(device)
                vectors[index] = encoder(batch).float().cpu()
            advance(len(index))
    encoder.train(was_training)
    return vectors, time.perf_counter() - started


def cache_key(encoder: Encoder, ids: torch.Tensor, precision: str) -> str:
    """A digest of everything the embeddings depend on."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(str(getattr(getattr(encoder, "options", None), "pooling", "")).encode())
    digest.update(f"{precision}|{tuple(ids.shape)}".encode())
    for name, tensor in sorted(encoder.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor_bytes(tensor))
    digest.update(tensor_bytes(ids))
    return digest.hexdigest()


def tensor_bytes(tensor: torch.Tensor) -> bytes:
    flat = tensor.detach().cpu().contiguous().reshape(-1)
    return flat.view(torch.uint8).numpy().tobytes()
