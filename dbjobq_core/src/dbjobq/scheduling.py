"""Schedule expressions: validation and the next fire time (cron via croniter, intervals in seconds)."""

from __future__ import annotations

import math
from datetime import datetime, timezone

from croniter import croniter

from .models import Schedule, ScheduleType


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


def validate_schedule(schedule: Schedule) -> None:
    """Check every field a schedule needs before it is written."""
    if not schedule.id:
        raise ValueError("A schedule needs a non-empty id")
    if not schedule.job_type:
        raise ValueError("A schedule needs a job_type")
    validate(schedule.schedule_type, schedule.schedule_expression)
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
    start = datetime.fromtimestamp(now, tz=timezone.utc)
    return float(croniter(schedule.schedule_expression, start).get_next(float))
