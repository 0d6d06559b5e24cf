"""What Django's Tasks API leaves out, on DBJobQ: cancelling a task, and running one on a schedule."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from asgiref.sync import async_to_sync

from dbjobq import JobNotFoundError, Schedule, ScheduleExistsError
from dbjobq.integration import scheduling

from ..enqueueing import get_queue
from . import compat, events, registry, results


def cancel_task(result: compat.TaskResult[Any, Any] | str) -> bool:
    """Cancel a READY or RUNNING task (by result or id); ``False`` if it had already finished.

    The task reads as FAILED with a :class:`~dbjobq_django.tasks.TaskCancelled` error, and
    ``task_finished`` is sent. A running attempt is stopped at the worker's next heartbeat (an async
    task is cancelled, a sync one abandoned) and its late outcome is rejected. Unknown id:
    ``TaskResultDoesNotExist``.
    """
    return bool(async_to_sync(acancel_task)(result))


async def acancel_task(result: compat.TaskResult[Any, Any] | str) -> bool:
    """Async :func:`cancel_task`."""
    result_id = result if isinstance(result, str) else result.id
    queue = get_queue()
    try:
        cancelled = await queue.cancel_job(result_id)
    except JobNotFoundError:
        raise compat.TaskResultDoesNotExist(result_id) from None
    if cancelled:
        job = await queue.get_job(result_id)
        alias = None if job is None else results.backend_alias(job.data)
        task = None if job is None or alias is None else registry.resolve_task(job.type)
        if job is not None and alias is not None and task is not None:
            await events.asend(compat.task_finished, events.sender(alias), results.to_task_result(job, task, alias))
    return cancelled


def schedule_task(
    task: compat.Task[Any, Any],
    *,
    cron: str | None = None,
    every: float | timedelta | None = None,
    args: Sequence[Any] = (),
    kwargs: dict[str, Any] | None = None,
    schedule_id: str | None = None,
    enabled: bool = True,
) -> str:
    """Run ``task`` on a cron expression (UTC) or ``every`` N seconds; return the schedule id.

    Creates the DBJobQ schedule, or brings an existing one (same ``schedule_id``, by default the
    task's module path) up to date, so calling it again (a data migration, a deploy step) is safe.
    Running workers fire it; each occurrence is one task run, enqueued exactly once.
    """
    return str(
        async_to_sync(aschedule_task)(
            task, cron=cron, every=every, args=args, kwargs=kwargs, schedule_id=schedule_id, enabled=enabled
        )
    )


async def aschedule_task(
    task: compat.Task[Any, Any],
    *,
    cron: str | None = None,
    every: float | timedelta | None = None,
    args: Sequence[Any] = (),
    kwargs: dict[str, Any] | None = None,
    schedule_id: str | None = None,
    enabled: bool = True,
) -> str:
    """Async :func:`schedule_task`."""
    from .backend import DBJobQBackend

    if (cron is None) == (every is None):
        raise ValueError("Give a cron expression (cron='0 3 * * *') or an interval (every=3600), not both")
    backend = task.get_backend()
    if not isinstance(backend, DBJobQBackend):
        raise ValueError(
            f"{task.module_path} runs on {type(backend).__name__}, not DBJobQBackend: only DBJobQ runs schedules"
        )
    backend.validate_task(task)
    kind, expression = ("cron", cron) if cron is not None else ("interval", _seconds(every))
    schedule = Schedule(
        id=schedule_id or task.module_path,
        job_type=task.module_path,
        job_data=results.payload(backend.alias, task, args, kwargs or {}),
        schedule_type=kind,
        schedule_expression=str(expression),
        next_run=time.time(),
        enabled=enabled,
        priority=task.priority,
        max_retries=backend.max_retries(task),
        queue=task.queue_name,
    )
    scheduling.validate(schedule.schedule_type, schedule.schedule_expression)
    storage = get_queue().storage
    existing = await storage.get_schedule(schedule.id)
    same_rhythm = existing is not None and (existing.schedule_type, existing.schedule_expression) == (
        kind,
        schedule.schedule_expression,
    )
    if existing is not None and same_rhythm:
        schedule.next_run, schedule.last_run = existing.next_run, existing.last_run  # keep its rhythm
    else:
        schedule.next_run = scheduling.next_after(schedule, await storage.now())  # the database's clock
    if existing is None:
        try:
            await storage.create_schedule(schedule)
            return schedule.id
        except ScheduleExistsError:
            pass  # another process created it meanwhile: bring it up to date below
    await storage.update_schedule(schedule)
    return schedule.id


def _seconds(every: float | timedelta | None) -> str:
    seconds = every.total_seconds() if isinstance(every, timedelta) else every
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds <= 0:
        raise ValueError(f"every must be a positive number of seconds or a timedelta, not {every!r}")
    return repr(float(seconds))
