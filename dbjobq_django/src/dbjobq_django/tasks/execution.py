"""The worker side: ``task_started``/``task_finished`` and the running task's result, through the
core worker's public hooks (``worker.on(...)``).

``job_started`` builds the RUNNING task result, hands it to the job function (a context variable:
the hook runs in the job's own asyncio task, whose context the job function inherits, in its thread
too) and sends ``task_started``. ``job_succeeded``/``job_failed`` send ``task_finished`` once the
outcome is decided: it is recorded whatever a receiver does. A retried attempt sends no
``task_finished`` (the task is READY again); each attempt sends ``task_started``.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from dbjobq import Job, RunResult, Worker

from . import compat, events, registry, results


def install(worker: Worker) -> None:
    """Send Django's task signals and give tasks their context on ``worker``."""
    worker.on("job_started", _job_started)
    worker.on("job_succeeded", _job_finished)
    worker.on("job_failed", _job_finished)


def _task_of(job: Job) -> tuple[compat.Task[Any, Any], str] | None:
    alias = results.backend_alias(job.data)
    if alias is None:
        return None
    task = registry.get_task(job.type) or registry.resolve_task(job.type)
    return None if task is None else (task, alias)


async def _job_started(job: Job, _result: RunResult | None) -> None:
    found = _task_of(job)
    if found is None:
        return  # not a task (a plain DBJobQ job), or one this process cannot run: the core explains
    task, alias = found
    result = results.to_task_result(job, task, alias)
    registry.current_result.set(result)
    await events.asend(compat.task_started, events.sender(alias), result)


async def _job_finished(job: Job, run: RunResult | None) -> None:
    found = _task_of(job)
    if found is None or run is None:
        return
    task, alias = found
    outcome = run.outcome
    value = json.loads(outcome.result) if outcome.result is not None else None
    now = datetime.now(timezone.utc)
    ended = results.finished(job, status=outcome.status, result=value, error=outcome.error, at=now)
    await events.asend(compat.task_finished, events.sender(alias), results.to_task_result(ended, task, alias))
