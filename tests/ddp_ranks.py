"""Run by ``torch.distributed.run`` from tests/test_distributed.py: every rank
trains the same small network with the Trainer for a few steps and saves its
parameters to OUT/rank{RANK}.safetensors, so the test can compare the ranks.

    python -m torch.distributed.run --nproc-per-node 2 tests/ddp_ranks.py OUT
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.distributed as dist

from tailorml.config import TrainingConfig
from tailorml.features import Encoded
from tailorml.io import save_tensors
from tailorml.train import Trainer


def main(out: Path) -> None:
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(rank)  # each rank starts different: DDP must make them agree
    net = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    x = torch.randn(400, 6, generator=torch.Generator().manual_seed(0))
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    data = Encoded({"x": x}, y)
    cfg = TrainingConfig(epochs=3, batch_size=32, learning_rate=0.01, seed=0, device="cpu")
    trainer = Trainer(Wrapped(net), "category", cfg, quiet=True)
    history = trainer.fit(data, data)
    save_tensors(out / f"rank{rank}.safetensors", dict(net.state_dict()))
    (out / f"rank{rank}.json").write_text(repr(history[-1]["val_accuracy"]))
    dist.destroy_process_group()


class Wrapped(torch.nn.Module):
    """The network taking the Trainer's dict of inputs."""

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.net(inputs["x"])  # type: ignore[no-any-return]


if __name__ == "__main__":
    main(Path(sys.argv[1]))
