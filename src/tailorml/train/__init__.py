"""Training: the loop, its checkpoints and its progress bar, and the deep family."""

from tailorml.train import deep  # noqa: F401  (registers the deep family)
from tailorml.train.loop import Trainer, predict_outputs
from tailorml.train.losses import make_loss

__all__ = ["Trainer", "make_loss", "predict_outputs"]
