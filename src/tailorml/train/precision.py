"""Numeric precision of training and inference."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch


def autocast(precision: str) -> AbstractContextManager[object]:
    """bf16 autocast on the CPU for ``bf16``; nothing for ``fp32``.

    Matrix products run in bf16 (about 3× fp32 on CPUs with AVX-512 BF16 or
    AMX); reductions and losses stay in fp32.
    """
    if precision == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return nullcontext()
