"""Durations as DBJobQ takes them: seconds (int or float) or a ``timedelta``."""

from __future__ import annotations

from datetime import timedelta
from typing import overload


@overload
def as_seconds(value: float | timedelta) -> float: ...
@overload
def as_seconds(value: None) -> None: ...
def as_seconds(value: float | timedelta | None) -> float | None:
    """``value`` in seconds (``None`` stays ``None``)."""
    if value is None:
        return None
    return value.total_seconds() if isinstance(value, timedelta) else value
