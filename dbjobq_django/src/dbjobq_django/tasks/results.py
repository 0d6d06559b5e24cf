"""DBJobQ jobs as Django task results: the stored payload, statuses, errors and worker ids.

A task's job carries ``{"django_task": <backend alias>, "args": [...], "kwargs": {...}}`` (and
``"run_after"`` when deferred). The first key marks the row as a task's: the admin lists task results
by that prefix of the stored JSON text.
"""

from __future__ import annotations

import builtins
import dataclasses
import re
from datetime import datetime
from typing import Any

from dbjobq import Job, JobStatus

from ..models import TASK_MARKER
from . import compat
from .errors import TaskCancelled, WorkerLost

MARKER = TASK_MARKER
#: How the stored JSON text of a task's payload starts (the core writes compact JSON in key order).
PAYLOAD_PREFIX = '{"' + MARKER + '":'

STATUSES = {
    JobStatus.PENDING: compat.READY,
    JobStatus.RUNNING: compat.RUNNING,
    JobStatus.COMPLETED: compat.SUCCESSFUL,
    JobStatus.FAILED: compat.FAILED,
    JobStatus.CANCELLED: compat.FAILED,
}

#: Errors DBJobQ writes itself, without a traceback, by the name they start with.
_OWN_ERRORS = {"WorkerLost": f"{WorkerLost.__module__}.{WorkerLost.__qualname__}"}
_EXCEPTION_LINE = re.compile(r"^(?P<path>[A-Za-z_][\w.]*)(?::|$)")


def payload(alias: str, task: compat.Task[Any, Any], args: Any, kwargs: Any) -> dict[str, Any]:
    """The job data for a run of ``task`` on backend ``alias`` (``TypeError`` for non-JSON arguments)."""
    data: dict[str, Any] = {
        MARKER: alias,
        "args": compat.normalize_json(list(args)),
        "kwargs": compat.normalize_json(dict(kwargs)),
    }
    if task.run_after is not None:
        data["run_after"] = task.run_after.isoformat()
    return data


def backend_alias(data: Any) -> str | None:
    """The backend alias stored in a job's data, or ``None`` if the job is not a task's."""
    if isinstance(data, dict) and isinstance(data.get(MARKER), str):
        return str(data[MARKER])
    return None


def to_task_result(job: Job, task: compat.Task[Any, Any], alias: str) -> compat.TaskResult[Any, Any]:
    """The task result a DBJobQ job stands for.

    Statuses map pending → READY, running → RUNNING, completed → SUCCESSFUL, failed and cancelled →
    FAILED (a cancelled one with a :class:`TaskCancelled` error). ``started_at`` and
    ``last_attempted_at`` are both the start of the latest attempt. ``worker_ids`` has one entry per
    attempt, so ``attempts`` and ``TaskContext.attempt`` count as DBJobQ does; DBJobQ records the
    worker of the latest attempt only, which stands for the earlier ones too.
    """
    run_after = job.data.get("run_after")
    status = STATUSES[job.status]
    result: compat.TaskResult[Any, Any] = compat.TaskResult(
        task=_task_as_enqueued(task, job, alias, datetime.fromisoformat(run_after) if run_after else None),
        id=job.id,
        status=status,
        enqueued_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at if job.is_finished else None,
        last_attempted_at=job.started_at,
        args=list(job.data.get("args", [])),
        kwargs=dict(job.data.get("kwargs", {})),
        backend=alias,
        errors=task_errors(job),
        worker_ids=[job.worker_id or "unknown"] * job.attempts,
    )
    if status == compat.SUCCESSFUL:
        object.__setattr__(result, "_return_value", job.result)
    return result


_copies: dict[tuple[Any, ...], compat.Task[Any, Any]] = {}


def _task_as_enqueued(
    task: compat.Task[Any, Any], job: Job, alias: str, run_after: datetime | None
) -> compat.Task[Any, Any]:
    # Task.using() validates the copy (signature inspection): a worker would pay that per job.
    key = (task, job.priority, job.queue, alias, run_after)
    copy = _copies.get(key)
    if copy is None:
        copy = task.using(priority=job.priority, queue_name=job.queue, backend=alias)
        if run_after is not None or copy.run_after is not None:
            copy = dataclasses.replace(copy, run_after=run_after)
        if len(_copies) > 1024:
            _copies.clear()
        _copies[key] = copy
    return copy


def task_errors(job: Job) -> list[compat.TaskError]:
    """The errors of a job: its last failure (DBJobQ keeps only the last), and its cancellation."""
    errors = [parse_error(job.error)] if job.error else []
    if job.status is JobStatus.CANCELLED:
        errors.append(
            compat.TaskError(
                exception_class_path=f"{TaskCancelled.__module__}.{TaskCancelled.__qualname__}",
                traceback=f"TaskCancelled: the task was cancelled before it finished (DBJobQ job {job.id})\n",
            )
        )
    return errors


def parse_error(text: str) -> compat.TaskError:
    """A task error from DBJobQ's stored error: ``"Name: message"``, a newline, then the traceback.

    The exception's dotted path is read from the traceback's last exception line (Python writes
    ``module.Class: message`` there, or a bare name for builtins).
    """
    head, _, details = text.partition("\n")
    name = head.split(":", 1)[0].strip()
    path = None
    for line in reversed(details.splitlines()):
        match = _EXCEPTION_LINE.match(line)
        if match and match["path"].rpartition(".")[2] == name and not line.startswith("Traceback"):
            path = match["path"]
            break
    if path is None:
        path = _OWN_ERRORS.get(name, name)
    if "." not in path and isinstance(getattr(builtins, path, None), type):
        path = f"builtins.{path}"
    return compat.TaskError(exception_class_path=path, traceback=details if details.strip() else text)


def finished(job: Job, *, status: JobStatus, result: Any = None, error: str | None = None, at: datetime) -> Job:
    """A copy of a claimed job as it stands once its run ended with ``status``."""
    return dataclasses.replace(job, status=status, result=result, error=error or job.error, finished_at=at)
