"""``OPTIONS={"immediate": True}``: run a task in the enqueueing process at once, for tests.

Like Django's ``ImmediateBackend`` (same signals, same ``TaskResult`` fields), plus what DBJobQ adds:
a failed attempt is retried at once up to ``max_retries`` (no backoff wait), ``TaskContext.attempt``
counts, and ``get_result()`` finds the result in the same process. Nothing is written to the
database, so it also runs inside a test's transaction.
"""

from __future__ import annotations

import traceback
import uuid
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from . import compat, events

if TYPE_CHECKING:
    from .backend import DBJobQBackend


def run(backend: DBJobQBackend, task: compat.Task[Any, Any], data: dict[str, Any]) -> compat.TaskResult[Any, Any]:
    """Run ``task`` with the arguments of ``data`` now, retrying as the backend would; return its result."""
    result: compat.TaskResult[Any, Any] = compat.TaskResult(
        task=task,
        id=str(uuid.uuid4()),
        status=compat.READY,
        enqueued_at=timezone.now(),
        started_at=None,
        finished_at=None,
        last_attempted_at=None,
        args=data["args"],
        kwargs=data["kwargs"],
        backend=backend.alias,
        errors=[],
        worker_ids=[],
    )
    sender = type(backend)
    events.send(compat.task_enqueued, sender, result)
    attempts = backend.max_retries(task) + 1
    for attempt in range(1, attempts + 1):
        now = timezone.now()
        _set(result, status=compat.RUNNING, last_attempted_at=now)
        if result.started_at is None:
            _set(result, started_at=now)
        result.worker_ids.append(backend.worker_id)
        events.send(compat.task_started, sender, result)
        args = [compat.TaskContext(task_result=result), *result.args] if task.takes_context else list(result.args)
        try:
            value = compat.normalize_json(task.call(*args, **result.kwargs))
        except Exception as exc:
            result.errors.append(
                compat.TaskError(
                    exception_class_path=f"{type(exc).__module__}.{type(exc).__qualname__}",
                    traceback="".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
                )
            )
            if attempt < attempts:
                _set(result, status=compat.READY)
                continue
            _set(result, status=compat.FAILED, finished_at=timezone.now())
        else:
            _set(result, status=compat.SUCCESSFUL, finished_at=timezone.now(), _return_value=value)
        break
    events.send(compat.task_finished, sender, result)
    return result


def _set(result: compat.TaskResult[Any, Any], **values: Any) -> None:
    # TaskResult is frozen: its backends set fields this way (as Django's ImmediateBackend does).
    for name, value in values.items():
        object.__setattr__(result, name, value)
