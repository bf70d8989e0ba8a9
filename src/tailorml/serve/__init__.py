"""The HTTP prediction service: ``tailor serve RUN`` or ``create_app(RUN, settings)``;
for a text generator's run, the generation service (``POST /generate``, ``generation.py``)."""

from tailorml.serve.app import create_app
from tailorml.serve.server import serve
from tailorml.serve.settings import ServeSettings

__all__ = ["ServeSettings", "create_app", "serve"]
