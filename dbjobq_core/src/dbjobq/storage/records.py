"""Conversions between table rows and the public records, and job ids."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from ..models import Job, JobStatus, Schedule
from ..serialization import loads


def new_job_id() -> str:
    """A time-ordered UUID (version 7 layout): ids sort by creation time, which keeps B-tree inserts local."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80 | rand
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


def new_token() -> str:
    """A random claim token."""
    return uuid.uuid4().hex


def to_datetime(epoch: float | None) -> datetime | None:
    """Epoch seconds as an aware UTC datetime."""
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=timezone.utc)


def job_from_row(row: Mapping[str, Any]) -> Job:
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


def schedule_from_row(row: Mapping[str, Any]) -> Schedule:
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
