"""Config validation: every mistake is named with its line and a suggestion."""

from __future__ import annotations

import json

import pytest

from tailorml.config import ModelConfig, dump_config, parse_config
from tailorml.config.schema import json_schema
from tailorml.errors import ConfigError

VALID = """\
data:
  source: builtin:mnist
  target: label
input_features:
  - name: image
    type: image
    encoder:
      name: cnn
output_features:
  - name: label
    type: category
training:
  epochs: 5
"""


def error_for(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="cfg.yaml")
    return str(info.value)


def test_valid_config_round_trips() -> None:
    config = parse_config(VALID)
    again = parse_config(dump_config(config))
    assert again == config
    assert again.input_features[0].encoder.name == "cnn"
    assert again.data.target == "label"


def test_misspelt_key_names_line_and_suggestion() -> None:
    message = error_for(VALID.replace("  epochs: 5", "  epoch: 5"))
    assert "unknown key 'epoch'" in message
    assert "did you mean 'epochs'?" in message
    assert "line 13" in message
    assert "cfg.yaml" in message


def test_wrong_type_names_key_line_and_value() -> None:
    message = error_for(VALID.replace("epochs: 5", "epochs: five"))
    assert "training.epochs" in message
    assert "line 13" in message
    assert "'five'" in message


def test_misspelt_preprocessing_key_inside_a_feature() -> None:
    text = VALID.replace("    encoder:\n", "    preprocessing:\n      heigth: 28\n    encoder:\n")
    message = error_for(text)
    assert "unknown key 'heigth'" in message
    assert "did you mean 'height'?" in message
    assert "line 8" in message


def test_unknown_encoder_option_suggests_the_option() -> None:
    message = error_for(VALID.replace("name: cnn", "name: cnn\n      outptu: flatten"))
    assert "unknown option 'outptu'" in message
    assert "did you mean 'output'?" in message
    assert "line 9" in message


def test_unknown_encoder_name_suggests_registered_one() -> None:
    message = error_for(VALID.replace("name: cnn", "name: cnnn"))
    assert "unknown encoder 'cnnn'" in message
    assert "did you mean 'cnn'?" in message


def test_bad_feature_type_is_named() -> None:
    message = error_for(VALID.replace("type: image", "type: picture"))
    assert "picture" in message
    assert "line 6" in message


def test_missing_required_key() -> None:
    message = error_for(VALID.replace("  source: builtin:mnist\n", ""))
    assert "missing required key 'data.source'" in message


def test_target_must_match_output() -> None:
    message = error_for(VALID.replace("target: label", "target: digit"))
    assert "digit" in message and "label" in message


def test_not_yaml() -> None:
    message = error_for("data: [unclosed\n")
    assert "not valid YAML" in message


def test_schema_lists_every_encoder_with_its_options() -> None:
    schema = json_schema("model")
    text = json.dumps(schema)
    for name in ("cnn", "rnn", "transformer", "embed_mlp"):
        assert f'"const": "{name}"' in text or f'"{name}"' in text
    assert "conv_layers" in text
    assert schema["additionalProperties"] is False


def test_python_dict_configs_validate_too() -> None:
    config = ModelConfig.model_validate(
        {
            "data": {"source": "x.csv"},
            "input_features": [{"name": "a", "type": "number"}],
            "output_features": [{"name": "y", "type": "binary"}],
        }
    )
    assert config.input_features[0].encoder.name == "embed_mlp"
    assert config.data.target == "y"
