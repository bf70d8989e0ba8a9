"""Numeric precision and device of training and inference."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext

import torch

from tailorml.errors import ConfigError


def autocast(precision: str, device: torch.device | str = "cpu") -> AbstractContextManager[object]:
    """bf16 autocast for ``bf16``; nothing for ``fp32``.

    Matrix products run in bf16 (about 3× fp32 on CPUs with AVX-512 BF16 or
    AMX, and the usual choice on GPUs); reductions and losses stay in fp32.
    """
    if precision == "bf16":
        return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)
    return nullcontext()


def resolve_device(name: str) -> torch.device:
    """The device training runs on: ``auto`` takes a CUDA GPU when there is one.

    Under distributed training each process takes the GPU of its
    ``LOCAL_RANK``.

    Raises:
        ConfigError: ``cuda`` is asked for on a machine without a CUDA GPU.
    """
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError(
            "training.device is cuda, but this machine has no CUDA GPU that PyTorch can "
            f"use (torch {torch.__version__}); set training.device: auto or cpu."
        )
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))


def to_device(inputs: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {name: t.to(device, non_blocking=True) for name, t in inputs.items()}
