"""tailorml: fit a deep-learning model to a real application scenario."""

__version__ = "0.1.0"

from tailorml.config import ModelConfig, load_config  # noqa: E402
from tailorml.pipelines import train  # noqa: E402
from tailorml.runs import Run, load  # noqa: E402

__all__ = ["ModelConfig", "Run", "__version__", "load", "load_config", "train"]
