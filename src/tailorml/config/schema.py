"""JSON Schema of the config files, with every registered encoder's options."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from tailorml.config.model import ModelConfig
from tailorml.config.registry import registered
from tailorml.config.scenario import Scenario

SCHEMAS: dict[str, type[BaseModel]] = {"model": ModelConfig, "scenario": Scenario}


def json_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of a config kind (``model``)."""
    schema = SCHEMAS[kind].model_json_schema()
    defs = schema.setdefault("$defs", {})
    choices = []
    for options in registered("encoder").values():
        sub = options.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(sub.pop("$defs", {}))
        defs[options.__name__] = sub
        choices.append({"$ref": f"#/$defs/{options.__name__}"})
    if choices:
        defs["EncoderConfig"] = {
            "oneOf": choices,
            "description": "An encoder by registered name, with that encoder's options.",
        }
    return schema
