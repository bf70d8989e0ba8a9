"""Training: the loop, its checkpoints and its progress bar."""

from tailorml.train.loop import Trainer, make_loss, predict_outputs

__all__ = ["Trainer", "make_loss", "predict_outputs"]
