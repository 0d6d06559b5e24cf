"""Command-line parameter types beyond click's own: JSON objects (durations live in ``durations``)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    _Base = click.ParamType[dict[str, Any], Any]
else:  # click < 8.2 has no generic ParamType
    _Base = click.ParamType


class JsonObject(_Base):
    """A JSON object given as text, or ``-`` to read it from stdin; the value is a dict."""

    name = "json"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dict[str, Any]:
        """Decode ``value`` or fail with a usage error that shows an example."""
        if isinstance(value, dict):
            return value
        text = sys.stdin.read() if value == "-" else str(value)
        try:
            decoded = json.loads(text)
        except ValueError as exc:
            self.fail(f"Invalid JSON {_clip(text)!r}: {exc}. Example: '{{\"user_id\": 42}}'", param, ctx)
        if not isinstance(decoded, dict):
            self.fail(
                f"Job data must be a JSON object, not a JSON {type(decoded).__name__}. "
                "Example: '{\"user_id\": 42}'",
                param,
                ctx,
            )
        return decoded


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


JSON_OBJECT = JsonObject()
