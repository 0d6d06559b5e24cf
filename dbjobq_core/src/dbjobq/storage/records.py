"""Between table rows and the public records: validated rows for new jobs and schedules, and records
decoded from rows one at a time, so that one undecodable row never fails the rows beside it."""

from __future__ import annotations

import json
import logging
import math
import os
import socket
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from .. import scheduling
from ..models import Job, JobStatus, NewJob, Outcome, Schedule, WorkerInfo
from ..serialization import dumps_payload, loads
from .ids import new_job_id
from .schema import jobs

logger = logging.getLogger(__name__)

#: How an undecodable row's ``error`` starts (the shape of an exception line, as ``WorkerLost:`` is).
UNDECODABLE = "UndecodableJob"
_MAX_REASON = 200
#: The columns of a new job that the database's clock fills at insert (see :func:`job_insert_params`).
CLOCK_COLUMNS = ("created_at", "updated_at", "execute_at")


# -- new rows (validated before anything is written) --------------------------------------------
def new_job_row(new: NewJob, now: float) -> dict[str, Any]:
    """The ``dbjobq_jobs`` row for ``new`` enqueued at ``now``, or ``ValueError``/``TypeError`` naming
    the bad field. Adapters that insert with their own ORM (Django) build rows with this too."""
    row = _checked_row(new)
    row.update(
        created_at=now,
        updated_at=now,
        execute_at=new.execute_at if new.execute_at is not None else now + (new.delay or 0.0),
    )
    return row


def _checked_row(new: NewJob) -> dict[str, Any]:
    """``new``'s row without :data:`CLOCK_COLUMNS`, validated (see :func:`new_job_row`)."""
    if not new.type or not isinstance(new.type, str):
        raise ValueError("The job type must be a non-empty string")
    if len(new.type) > 255:
        raise ValueError("The job type is longer than 255 characters")
    if not new.queue or not isinstance(new.queue, str) or len(new.queue) > 64:
        raise ValueError("queue must be a non-empty string of at most 64 characters")
    if not isinstance(new.priority, int) or isinstance(new.priority, bool):
        raise TypeError("priority must be an int")
    if not isinstance(new.max_retries, int) or new.max_retries < 0:
        raise ValueError("max_retries must be an int >= 0")
    if new.execute_at is not None and not math.isfinite(new.execute_at):
        raise ValueError("execute_at must be finite epoch seconds")
    for name, key in (("unique_key", new.unique_key), ("concurrency key", new.flow_key)):
        if key is not None and (not isinstance(key, str) or len(key) > 255 or (name == "unique_key" and not key)):
            raise ValueError(f"{name} must be a non-empty string of at most 255 characters, not {key!r}")
    return {
        "id": new_job_id(),
        "type": new.type,
        "queue": new.queue,
        "data": new.data,
        "status": JobStatus.WAITING.value if new.depends_on else JobStatus.PENDING.value,
        "priority": new.priority,
        "attempts": 0,
        "max_retries": new.max_retries,
        "error": None,
        "result": None,
        "started_at": None,
        "finished_at": None,
        "worker_id": None,
        "lease_token": None,
        "lease_expires_at": None,
        "meta": dumps_payload(new.meta) if new.meta else None,
        "unique_key": new.unique_key,
        "flow_key": new.flow_key,
        "depends_on": json.dumps(list(new.depends_on)) if new.depends_on else None,
    }


def job_insert_params(new: NewJob) -> dict[str, Any]:
    """The values for inserting ``new`` when the database's clock stamps it: the row of
    :func:`new_job_row` without :data:`CLOCK_COLUMNS`, plus ``due_at`` (``execute_at`` if the caller
    chose one, else ``None``) and ``due_delay`` (seconds after the database's now, 0 for at once)."""
    row = _checked_row(new)
    row["due_at"] = new.execute_at
    row["due_delay"] = float(new.delay or 0.0)
    return row


def complete_row(params: Mapping[str, Any], now: float) -> dict[str, Any]:
    """The whole row of :func:`job_insert_params` values, stamped with ``now`` (the database's, read by
    the caller) where an insert cannot compute it itself (e.g. PostgreSQL's COPY)."""
    row = dict(params)
    due_at, due_delay = row.pop("due_at"), row.pop("due_delay")
    row.update(created_at=now, updated_at=now, execute_at=due_at if due_at is not None else now + due_delay)
    return row


def schedule_row(schedule: Schedule, now: Any) -> dict[str, Any]:
    """The ``dbjobq_schedules`` columns a create or update writes (validated; ``created_at`` aside);
    adapters that write with their own ORM (Django's admin) build rows with this too."""
    scheduling.validate_schedule(schedule)
    return {
        "id": schedule.id,
        "job_type": schedule.job_type,
        "job_data": dumps_payload(schedule.job_data),
        "queue": schedule.queue,
        "schedule_type": str(schedule.schedule_type),
        "schedule_expression": schedule.schedule_expression,
        "next_run": float(schedule.next_run),
        "last_run": schedule.last_run,
        "enabled": bool(schedule.enabled),
        "priority": schedule.priority,
        "max_retries": schedule.max_retries,
        "updated_at": now,
        "tz": schedule.tz,
        "origin": schedule.origin,
    }


def claimed_values(worker_id: str, token: str, now: Any, lease_timeout: float) -> dict[str, Any]:
    """The columns a claim sets (beside ``attempts``, which goes up by one as an SQL expression).

    ``now`` is epoch seconds, or the database's now as an SQL expression (SQLAlchemy's or Django's),
    so that the database's clock stamps the row (DESIGN.md "One clock")."""
    return {
        "status": JobStatus.RUNNING.value,
        "worker_id": worker_id,
        "lease_token": token,
        "lease_expires_at": now + lease_timeout,
        "started_at": now,
        "updated_at": now,
    }


def outcome_values(outcome: Outcome, now: Any) -> dict[str, Any]:
    """The columns that record ``outcome`` on the row still holding its claim: a retry is pending again,
    due ``retry_in`` seconds from ``now`` (epoch seconds or the database's now as SQL, as for
    :func:`claimed_values`); a last error stays on the row until another replaces it."""
    values: dict[str, Any] = {
        "status": outcome.status.value,
        "updated_at": now,
        "lease_token": None,
        "lease_expires_at": None,
        "result": outcome.result,
    }
    if outcome.error is not None:
        values["error"] = outcome.error
    if outcome.snoozed:
        values["attempts"] = jobs.c.attempts - 1  # a snooze is not an attempt
    if outcome.status is JobStatus.PENDING:
        values["execute_at"] = now + (outcome.retry_in or 0.0)
    else:
        values["finished_at"] = now
    return values


def worker_row(worker_id: str, queues: Sequence[str] | None, concurrency: int, now: Any) -> dict[str, Any]:
    """The ``dbjobq_workers`` row of a worker starting in this process."""
    return {
        "id": worker_id,
        "hostname": socket.gethostname()[:255],
        "pid": os.getpid(),
        "queues": ",".join(queues) if queues else None,
        "concurrency": concurrency,
        "started_at": now,
        "last_heartbeat": now,
    }


# -- records from rows (decoded field by field) ---------------------------------------------------
def to_datetime(epoch: float | None) -> datetime | None:
    """Epoch seconds as an aware UTC datetime."""
    # Positional, not tz=…: a keyword argument costs this C call half its time (six per decoded job).
    return None if epoch is None else _fromtimestamp(epoch, _UTC)


_fromtimestamp = datetime.fromtimestamp
_UTC = timezone.utc


def decode_job(row: Mapping[Any, Any]) -> tuple[Job, str | None]:
    """The Job of a ``dbjobq_jobs`` row, and why the row cannot be decoded whole (``None`` if it can).

    Data that is not a JSON object (not JSON, nested too deeply, another JSON type) becomes ``{}``, a
    result that is not JSON ``None``, a status DBJobQ does not know ``failed``: the caller decides
    what to do with the reason (a claim fails the job, a listing shows it in ``error``).
    """
    problems: list[str] = []
    data = _decode(row["data"], "data", problems, want_object=True)
    result = _decode(row["result"], "result", problems, want_object=False)
    try:
        status = JobStatus(row["status"])
    except ValueError:
        status = JobStatus.FAILED
        problems.append(f"its status {_short(repr(row['status']))} is not a DBJobQ status")
    job = Job(
        id=row["id"],
        type=row["type"],
        data=data if data is not None else {},
        status=status,
        queue=row["queue"],
        priority=row["priority"],
        attempts=row["attempts"],
        max_retries=row["max_retries"],
        error=row["error"],
        result=result,
        created_at=to_datetime(row["created_at"]),
        updated_at=to_datetime(row["updated_at"]),
        execute_at=to_datetime(row["execute_at"]),
        started_at=to_datetime(row["started_at"]),
        finished_at=to_datetime(row["finished_at"]),
        worker_id=row["worker_id"],
        lease_token=row["lease_token"],
        lease_expires_at=to_datetime(row["lease_expires_at"]),
        meta=decode_meta(row.get("meta")),
        unique_key=row.get("unique_key"),
        flow_key=row.get("flow_key"),
        depends_on=_decode_ids(row.get("depends_on")),
    )
    return job, "; ".join(problems) or None


def decode_meta(text: str | None) -> dict[str, Any]:
    """A job's ``meta`` column as a dict; what cannot be decoded is dropped (it never fails the job)."""
    if not text:
        return {}
    try:
        value = loads(text)
    except (ValueError, TypeError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def job_from_row(row: Mapping[Any, Any]) -> Job:
    """The Job of a row for reading (get, list): an undecodable row is shown as such in ``error``."""
    job, problem = decode_job(row)
    if problem is not None:
        note = f"{UNDECODABLE}: DBJobQ cannot decode this job's stored row: {problem}"
        job.error = note if not job.error else f"{note}\n\n{job.error}"
    return job


def decode_schedule(row: Mapping[Any, Any]) -> tuple[Schedule, str | None]:
    """The Schedule of a ``dbjobq_schedules`` row, and why its job data cannot be decoded (else ``None``)."""
    problems: list[str] = []
    job_data = _decode(row["job_data"], "job data", problems, want_object=True)
    schedule = Schedule(
        id=row["id"],
        job_type=row["job_type"],
        job_data=job_data if job_data is not None else {},
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
        tz=row.get("tz"),
        origin=row.get("origin") or "operator",  # NULL: a row from before schema version 3
    )
    return schedule, "; ".join(problems) or None


def schedule_from_row(row: Mapping[Any, Any]) -> Schedule:
    """The Schedule of a row for reading; undecodable job data is shown as ``{}`` and logged."""
    schedule, problem = decode_schedule(row)
    if problem is not None:
        logger.warning(
            "Schedule %s cannot be decoded: %s",
            schedule.id,
            problem,
            extra={"action": "schedule_undecodable", "schedule_id": schedule.id},
        )
    return schedule


def worker_from_row(row: Mapping[Any, Any]) -> WorkerInfo:
    """The WorkerInfo of a ``dbjobq_workers`` row."""
    return WorkerInfo(
        id=row["id"],
        hostname=row["hostname"],
        pid=row["pid"],
        queues=row["queues"].split(",") if row["queues"] else None,
        concurrency=row["concurrency"],
        started_at=float(row["started_at"]),
        last_heartbeat=float(row["last_heartbeat"]),
        job_types=_job_types(row.get("job_types")),
    )


def _job_types(text: str | None) -> list[str] | None:
    """A worker row's recorded job types (``None``: not recorded, or unreadable)."""
    try:
        types = loads(text)
    except ValueError:
        return None
    return [str(t) for t in types] if isinstance(types, list) else None


def _decode(text: str | None, what: str, problems: list[str], *, want_object: bool) -> Any:
    """``text`` decoded as JSON, or ``None`` with the reason appended to ``problems``."""
    try:
        value = loads(text)
    except RecursionError:
        problems.append(f"its {what} is nested too deeply to decode")
        return None
    except (ValueError, TypeError) as exc:  # JSONDecodeError is a ValueError
        problems.append(f"its {what} is not valid JSON ({_short(str(exc))})")
        return None
    if want_object and value is not None and not isinstance(value, dict):
        problems.append(f"its {what} is a JSON {type(value).__name__}, not an object")
        return None
    return value


def _decode_ids(text: str | None) -> list[str] | None:
    """A job's ``depends_on`` list (ids); ``None`` when absent or unreadable (it never stops a row)."""
    if not text:
        return None
    try:
        value = loads(text)
    except (ValueError, TypeError, RecursionError):
        return None
    return [str(v) for v in value] if isinstance(value, list) else None


def _short(text: str) -> str:
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"
