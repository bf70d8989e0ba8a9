"""Property-based API tests: schemathesis sends valid and invalid requests made
from the service's own OpenAPI document; no answer may be a 5xx, and every
answer must match what the document promises."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from serve_runs import trained
from tailorml.serve import create_app

EXAMPLES = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))


SCHEMAS: dict[str, schemathesis.BaseSchema] = {}


def api(kind: str, base: Path) -> schemathesis.BaseSchema:
    """The schema of a tiny model's service, with the app to call in-process."""
    if kind not in SCHEMAS:
        app = create_app(trained(kind, base))
        SCHEMAS[kind] = schemathesis.openapi.from_asgi("/openapi.json", app)
    return SCHEMAS[kind]


# "digits" has the seed CNN's input: 28×28 single-channel images.
@pytest.mark.parametrize("kind", ["table", "digits"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors_and_answers_as_documented(
    kind: str, mode: GenerationMode, tmp_path_factory: pytest.TempPathFactory
) -> None:
    schema = api(kind, tmp_path_factory.getbasetemp())

    @given(case=schema.as_strategy(mode))
    @EXAMPLES
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(excluded_checks=unprovable(case))

    check()


def unprovable(case: schemathesis.Case) -> list[schemathesis.CheckFunction]:
    """Checks a schema cannot back: it says an image may be a base64 string, not
    that the string must decode to a PNG, so a random one is rightly refused."""
    rows = case.body.get("rows") if isinstance(case.body, dict) else None
    rows = rows if isinstance(rows, list) else []
    images = [row.get("image") for row in rows if isinstance(row, dict)]
    return (
        [schemathesis.checks.positive_data_acceptance]
        if any(isinstance(image, str) for image in images)
        else []
    )
