"""Flow control's small pieces: ``Snooze``, rate limits as written in ``@job(rate_limit=…)``, and
concurrency keys. How the limits are enforced lives with the claims (``storage/sql_flow.py``); the
user's guide is docs/flow-control.md."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import Job
    from .registry import JobSpec

__all__ = [
    "FlowLimit",
    "LimitedClaim",
    "RateLimit",
    "Snooze",
    "check_depends_on",
    "check_unique_key",
    "key_text",
    "parse_rate",
    "unique_keys_for",
]

_PERIODS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*([smh])\s*$")


class Snooze(Exception):
    """Raise it in a job to run the job again later: it goes back to pending, due ``seconds`` from
    now (a number or a timedelta), without counting an attempt or recording an error."""

    def __init__(self, seconds: float | timedelta = 60.0) -> None:
        value = seconds.total_seconds() if isinstance(seconds, timedelta) else seconds
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ValueError(f"Snooze takes a non-negative number of seconds or a timedelta, not {seconds!r}")
        super().__init__(f"snoozed for {value:g}s")
        #: Seconds until the job is due again.
        self.seconds = float(value)


@dataclass(frozen=True)
class RateLimit:
    """At most ``count`` starts per window of ``period`` seconds (windows aligned to the epoch)."""

    count: int
    period: float

    def window_start(self, now: float) -> float:
        """The start of the window ``now`` falls in."""
        return math.floor(now / self.period) * self.period

    def __str__(self) -> str:
        unit = {v: k for k, v in _PERIODS.items()}[self.period]
        return f"{self.count}/{unit}"


def parse_rate(text: str) -> RateLimit:
    """``"100/m"`` as a :class:`RateLimit`; ``ValueError`` naming the accepted forms otherwise."""
    match = _RATE.match(text) if isinstance(text, str) else None
    if match is None or int(match.group(1)) < 1:
        raise ValueError(
            f"rate_limit must look like '100/m': a count >= 1 per s (second), m (minute) or h (hour), not {text!r}"
        )
    return RateLimit(int(match.group(1)), _PERIODS[match.group(2)])


def key_text(value: Any, job_type: str) -> str:
    """A concurrency key function's result as the stored key: a string or a number, at most 255 characters."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TypeError(f"The concurrency_key of {job_type} returned {value!r}: it must return a string or a number")
    text = str(value)
    if len(text) > 255:
        raise ValueError(f"The concurrency_key of {job_type} returned a key longer than 255 characters")
    return text


def check_unique_key(key: object) -> str | None:
    """``key`` if it is a valid unique key (or ``None``); ``ValueError`` otherwise."""
    if key is not None and (not isinstance(key, str) or not key or len(key) > 255):
        raise ValueError(f"unique_key must be a non-empty string of at most 255 characters, not {key!r}")
    return key


def unique_keys_for(
    unique_keys: Callable[[dict[str, Any]], str | None] | Sequence[str | None] | None, datas: list[Any]
) -> list[str | None]:
    """Each job's unique key for :meth:`dbjobq.JobQueue.enqueue_many`."""
    if unique_keys is None:
        return [None] * len(datas)
    if callable(unique_keys):
        return [unique_keys(data or {}) for data in datas]
    if isinstance(unique_keys, str) or len(unique_keys) != len(datas):
        raise ValueError("unique_keys must be a function of the data or a sequence with one key per item")
    return list(unique_keys)


@dataclass(frozen=True)
class FlowLimit:
    """The limits a worker claims one job type under: at most ``concurrency`` running per concurrency
    key, at most ``rate`` starts per window; ``key_of(data)`` gives a job's key when it was enqueued
    without one (where the type's module was not imported)."""

    type: str
    concurrency: int | None = None
    rate: RateLimit | None = None
    key_of: Callable[[dict[str, Any]], str] = field(default=lambda _data: "", compare=False)

    @classmethod
    def of(cls, spec: JobSpec) -> FlowLimit:
        """The limits ``@job()`` declared for ``spec``."""

        def key_of(data: dict[str, Any]) -> str:
            try:
                return spec.flow_key(data) or ""
            except Exception:  # a key function that fails on old data: one limit for those jobs
                return ""

        return cls(spec.name, spec.concurrency_limit, spec.rate_limit, key_of)


@dataclass
class LimitedClaim:
    """What one flow-controlled claim took, and when its rate-limit window opens again (epoch seconds)
    if that window is what stopped it (``None`` otherwise)."""

    jobs: list[Job]
    wake_at: float | None = None


def check_depends_on(ids: object) -> tuple[str, ...]:
    """``depends_on`` as a tuple of distinct job ids, in order; ``ValueError`` if it is not a list of ids."""
    if ids is None:
        return ()
    if isinstance(ids, str) or not isinstance(ids, (list, tuple, set, frozenset)):
        raise ValueError(f"depends_on must be a list of job ids, not {ids!r}")
    seen: dict[str, None] = {}
    for job_id in ids:
        if not isinstance(job_id, str) or not job_id or len(job_id) > 36:
            raise ValueError(f"depends_on must be a list of job ids, not {ids!r}")
        seen.setdefault(job_id, None)
    return tuple(seen)
