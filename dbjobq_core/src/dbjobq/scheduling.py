"""Schedule expressions: validation and the next fire time (cron via croniter, intervals in seconds).

A cron schedule may name a time zone (``tz="Europe/Paris"``): its expression is read in that zone's
local time, and daylight saving time is handled as croniter handles a zone-aware start: a time that
does not exist on the spring-forward day (02:30 in Paris) fires at the first valid time after it
(03:00), and one that occurs twice on the fall-back day fires at both. Without ``tz`` it is UTC.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from .models import ORIGINS, Schedule, ScheduleType


def parse_interval(expression: str) -> float:
    """Seconds of an interval expression, or ``ValueError``."""
    try:
        seconds = float(expression)
    except (TypeError, ValueError):
        raise ValueError(f"Invalid interval {expression!r}: expected a number of seconds, e.g. '3600'") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"Invalid interval {expression!r}: it must be a positive number of seconds")
    return seconds


def validate(schedule_type: str, expression: str) -> None:
    """Raise ``ValueError`` unless ``expression`` is valid for ``schedule_type``."""
    try:
        kind = ScheduleType(schedule_type)
    except ValueError:
        raise ValueError(f"Invalid schedule_type {schedule_type!r}: expected 'cron' or 'interval'") from None
    if kind is ScheduleType.INTERVAL:
        parse_interval(expression)
    elif not isinstance(expression, str) or not croniter.is_valid(expression):
        raise ValueError(f"Invalid cron expression {expression!r}, e.g. '*/5 * * * *' for every 5 minutes")


@lru_cache(maxsize=64)
def zone(name: str) -> tzinfo:
    """The time zone named ``name`` (IANA, e.g. ``Europe/Paris``), or ``ValueError`` saying how to fix it."""
    if not isinstance(name, str) or not name or name.startswith("/") or ".." in name:
        raise ValueError(f"Invalid time zone {name!r}: give an IANA name such as 'Europe/Paris' or 'UTC'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"Unknown time zone {name!r}: give an IANA name such as 'Europe/Paris' or 'America/New_York' "
            "(on Windows, pip install tzdata)"
        ) from None


def validate_tz(schedule_type: str, tz: str | None) -> None:
    """Raise ``ValueError`` unless ``tz`` is ``None`` or a known zone for a cron schedule."""
    if tz is None:
        return
    if schedule_type != ScheduleType.CRON:
        raise ValueError("tz applies to cron schedules only: an interval does not depend on the time zone")
    zone(tz)


def validate_schedule(schedule: Schedule) -> None:
    """Check every field a schedule needs before it is written."""
    if not schedule.id:
        raise ValueError("A schedule needs a non-empty id")
    if not schedule.job_type:
        raise ValueError("A schedule needs a job_type")
    validate(schedule.schedule_type, schedule.schedule_expression)
    validate_tz(schedule.schedule_type, schedule.tz)
    if schedule.origin not in ORIGINS:
        raise ValueError(f"Schedule.origin must be one of {', '.join(ORIGINS)}, not {schedule.origin!r}")
    if not isinstance(schedule.next_run, (int, float)) or not math.isfinite(schedule.next_run):
        raise ValueError("Schedule.next_run must be epoch seconds (a float), e.g. time.time()")
    if schedule.max_retries < 0:
        raise ValueError("max_retries must be >= 0")


def next_after(schedule: Schedule, now: float) -> float:
    """The first fire time strictly after ``now``.

    Missed occurrences are skipped, so a schedule that was due many times during downtime fires once,
    then keeps its rhythm (an interval stays aligned to its original phase).
    """
    if schedule.schedule_type == ScheduleType.INTERVAL:
        interval = parse_interval(schedule.schedule_expression)
        base = schedule.next_run
        if base > now:
            return base
        steps = math.floor((now - base) / interval) + 1
        return base + steps * interval
    start = datetime.fromtimestamp(now, tz=timezone.utc if schedule.tz is None else zone(schedule.tz))
    return float(croniter(schedule.schedule_expression, start).get_next(float))
