"""Conversions between table rows and the public records, and job ids."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from ..models import Job, JobStatus, Schedule
from ..serialization import loads

_id_lock = threading.Lock()
_last_id: list[int] = [0, 0]  # [milliseconds, random tail] of the last id made in this process


def new_job_id() -> str:
    """A time-ordered UUID (version 7 layout).

    Ids sort by creation time, which keeps B-tree inserts local and makes ``id`` a fair tie-breaker;
    within one millisecond the random tail counts up, so ids made by one process stay ordered.
    """
    millis = time.time_ns() // 1_000_000
    with _id_lock:
        if millis <= _last_id[0]:
            millis, tail = _last_id[0], _last_id[1] + 1
        else:
            tail = int.from_bytes(os.urandom(9), "big") >> 1  # leaves room to count up
        _last_id[0], _last_id[1] = millis, tail
    rand_a, rand_b = (tail >> 62) & 0xFFF, tail & ((1 << 62) - 1)
    value = (millis & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0x2 << 62 | rand_b
    return str(uuid.UUID(int=value))


def new_token() -> str:
    """A random claim token."""
    return uuid.uuid4().hex


def to_datetime(epoch: float | None) -> datetime | None:
    """Epoch seconds as an aware UTC datetime."""
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=timezone.utc)


def job_from_row(row: Mapping[Any, Any]) -> Job:
    """Build a Job from a ``dbjobq_jobs`` row mapping."""
    return Job(
        id=row["id"],
        type=row["type"],
        data=loads(row["data"]) or {},
        status=JobStatus(row["status"]),
        queue=row["queue"],
        priority=row["priority"],
        attempts=row["attempts"],
        max_retries=row["max_retries"],
        error=row["error"],
        result=loads(row["result"]),
        created_at=to_datetime(row["created_at"]),
        updated_at=to_datetime(row["updated_at"]),
        execute_at=to_datetime(row["execute_at"]),
        started_at=to_datetime(row["started_at"]),
        finished_at=to_datetime(row["finished_at"]),
        worker_id=row["worker_id"],
        lease_token=row["lease_token"],
        lease_expires_at=to_datetime(row["lease_expires_at"]),
    )


def schedule_from_row(row: Mapping[Any, Any]) -> Schedule:
    """Build a Schedule from a ``dbjobq_schedules`` row mapping."""
    return Schedule(
        id=row["id"],
        job_type=row["job_type"],
        job_data=loads(row["job_data"]) or {},
        schedule_type=row["schedule_type"],
        schedule_expression=row["schedule_expression"],
        next_run=float(row["next_run"]),
        enabled=bool(row["enabled"]),
        priority=row["priority"],
        max_retries=row["max_retries"],
        last_run=None if row["last_run"] is None else float(row["last_run"]),
        queue=row["queue"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
