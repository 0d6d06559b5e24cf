"""Durations on the command line: ``30s``, ``15m``, ``2h30m``, ``7d``, ``1w`` or plain seconds."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

import click

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_EXAMPLES = "e.g. 30s, 15m, 2h30m, 7d or 90 (seconds)"


def parse_duration(text: str) -> float:
    """Seconds in ``text``; raise ``ValueError`` with examples for anything else.

    A bare number is seconds; otherwise one or more ``<number><unit>`` parts, units s, m, h, d, w.
    """
    value = text.strip().lower()
    if not value:
        raise ValueError(f"Invalid duration {text!r}: {_EXAMPLES}")
    try:
        seconds = float(value)
    except ValueError:
        position, seconds = 0, 0.0
        for match in _PART.finditer(value):
            if match.start() != position:
                break
            seconds += float(match.group(1)) * _UNITS[match.group(2)]
            position = match.end()
        if position != len(value) or position == 0:
            raise ValueError(f"Invalid duration {text!r}: {_EXAMPLES}") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"Invalid duration {text!r}: it must be a non-negative time, {_EXAMPLES}")
    return seconds


def format_duration(seconds: float) -> str:
    """A short human form, e.g. ``2h30m``, ``45s``, ``1.5s``."""
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 and seconds != int(seconds) else f"{int(seconds)}s"
    parts = []
    remaining = round(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, remaining = divmod(remaining, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts[:2])


if TYPE_CHECKING:
    _Base = click.ParamType[float, Any]
else:  # click < 8.2 has no generic ParamType
    _Base = click.ParamType


class Duration(_Base):
    """A click parameter type for durations; the value is seconds (float)."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        """Parse ``value`` or fail with a usage error."""
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DURATION = Duration()
