"""JSON encoding of job payloads and results. Payloads are JSON only: no pickle, ever."""

from __future__ import annotations

import json
from typing import Any


def dumps_payload(data: Any) -> str:
    """Encode job data as JSON text, or raise ``TypeError`` saying what cannot be encoded.

    ``None`` becomes ``{}``; a string is taken as JSON text already and must decode to an object.
    """
    if data is None:
        return "{}"
    if isinstance(data, (str, bytes)):
        try:
            decoded = json.loads(data)
        except ValueError as exc:
            raise TypeError(f"Job data given as a string must be JSON text: {exc}") from None
        if not isinstance(decoded, dict):
            raise TypeError("Job data must be a JSON object (a dict), not a JSON " + type(decoded).__name__)
        return data.decode() if isinstance(data, bytes) else data
    if not isinstance(data, dict):
        raise TypeError(f"Job data must be a dict of JSON values, not {type(data).__name__}")
    try:
        return json.dumps(data, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"Job data must be JSON-serializable: {exc}") from None


def loads(text: str | None) -> Any:
    """Decode JSON text stored by DBJobQ (``None`` stays ``None``)."""
    if text is None:
        return None
    return json.loads(text)


def dumps_result(value: Any) -> str | None:
    """Encode a job's return value, or raise ``TypeError`` if it is not JSON-serializable."""
    if value is None:
        return None
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"Job result must be JSON-serializable: {exc}") from None
