"""Configuration: typed, validated descriptions of models and their training."""

from tailorml.config.loading import ConfigLike, as_config, dump_config, load_config, parse_config
from tailorml.config.model import (
    DataConfig,
    DecoderConfig,
    EncoderConfig,
    FairnessTraining,
    GenerationConfig,
    GeneratorConfig,
    InputFeature,
    ModelConfig,
    OutputFeature,
    PrivacyConfig,
    SplitConfig,
    TrainingConfig,
)
from tailorml.config.registry import register_options
from tailorml.config.scenario import Scenario

__all__ = [
    "ConfigLike",
    "as_config",
    "DataConfig",
    "DecoderConfig",
    "EncoderConfig",
    "GenerationConfig",
    "GeneratorConfig",
    "InputFeature",
    "ModelConfig",
    "OutputFeature",
    "FairnessTraining",
    "PrivacyConfig",
    "Scenario",
    "SplitConfig",
    "TrainingConfig",
    "dump_config",
    "load_config",
    "parse_config",
    "register_options",
]
