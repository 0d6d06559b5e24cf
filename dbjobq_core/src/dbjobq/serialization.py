"""JSON encoding of job payloads and results. Payloads are JSON only: no pickle, ever."""

from __future__ import annotations

import json
import re
from typing import Any

#: How deeply job data and results may nest (the data dict itself is level 1). Deeper values are
#: refused with ``TypeError``: JSON decoders and the web API's serialisers recurse once per level, and
#: a few hundred levels already break them.
MAX_DEPTH = 64

# A JSON string (escapes included): brackets inside one do not nest anything.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
# One encoder for every payload: ``json.dumps`` with options other than its defaults builds a new
# encoder per call, which costs as much as encoding a small payload (measured on bulk enqueues).
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def dumps_payload(data: Any) -> str:
    """Encode job data as JSON text, or raise ``TypeError`` saying what cannot be encoded.

    ``None`` becomes ``{}``; a string is taken as JSON text already and must decode to an object.
    Data nested more than :data:`MAX_DEPTH` levels deep is refused.
    """
    if data is None:
        return "{}"
    if isinstance(data, (str, bytes)):
        text = data.decode() if isinstance(data, bytes) else data
        # Measured on the text before decoding it: json.loads recurses and deep input would
        # raise RecursionError from inside the decoder.
        _check_depth(text_depth(text), "Job data")
        try:
            decoded = json.loads(text)
        except ValueError as exc:
            raise TypeError(f"Job data given as a string must be JSON text: {exc}") from None
        if not isinstance(decoded, dict):
            raise TypeError("Job data must be a JSON object (a dict), not a JSON " + type(decoded).__name__)
        return text
    if not isinstance(data, dict):
        raise TypeError(f"Job data must be a dict of JSON values, not {type(data).__name__}")
    return _dumps(data, "Job data")


def loads(text: str | None) -> Any:
    """Decode JSON text stored by DBJobQ (``None`` stays ``None``)."""
    if text is None:
        return None
    return json.loads(text)


def dumps_result(value: Any) -> str | None:
    """Encode a job's return value, or raise ``TypeError`` if it is not JSON-serializable (or too deep)."""
    if value is None:
        return None
    return _dumps(value, "Job result")


def _dumps(value: Any, what: str) -> str:
    try:
        text = _ENCODER.encode(value)
    except RecursionError:  # thousands of levels: the encoder gave up before the walk below could run
        raise _too_deep(what) from None
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} must be JSON-serializable: {exc}") from None
    # Counting brackets in the text costs next to nothing and bounds the depth from above, so the
    # exact (slower) walk runs only for values with many nested containers.
    if text.count("{") + text.count("[") > MAX_DEPTH:
        _check_depth(value_depth(value), what)
    return text


def value_depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """How deeply ``value``'s dicts and lists nest (a scalar is 0), counted without recursion.

    Stops counting past ``limit``: a structure that contains itself is reported as too deep.
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if depth > limit:
            return depth
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list, tuple)))
    return deepest


def text_depth(text: str) -> int:
    """How deeply the arrays and objects of JSON ``text`` nest, counted without decoding it."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub('""', text))
    opening = brackets.count("[") + brackets.count("{")
    if opening <= MAX_DEPTH:
        return opening  # it cannot nest deeper than that: skip the count
    depth = deepest = 0
    for char in brackets:
        depth += 1 if char in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _check_depth(depth: int, what: str) -> None:
    if depth > MAX_DEPTH:
        raise _too_deep(what)


def _too_deep(what: str) -> TypeError:
    return TypeError(
        f"{what} is nested more than {MAX_DEPTH} levels deep: flatten it (DBJobQ refuses deeper "
        "values, which JSON decoders and web APIs cannot handle)"
    )
