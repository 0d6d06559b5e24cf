"""``DBJobQBackend``: Django's Tasks framework on DBJobQ, and ``DBJobQTask``, its task class."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import uuid
from collections.abc import Mapping
from typing import Any

from asgiref.sync import sync_to_async
from django.core import checks
from django.utils import timezone

from dbjobq import Job, JobStatus

from .. import conf, enqueueing
from ..models import Job as JobRow
from ..models import epoch_to_datetime
from . import compat, events, registry, results

logger = logging.getLogger(__name__)

#: Every ``OPTIONS`` key and its default.
OPTION_DEFAULTS: dict[str, Any] = {
    "max_retries": 0,  # retries after a failed attempt (per task: @task(max_retries=...))
    "retry_delay": 1.0,  # seconds before the first retry, doubling each time (with jitter)
    "retry_max_delay": 300.0,  # the longest wait between two attempts
    "timeout": None,  # seconds an attempt may run (per task: @task(timeout=...)); None: no limit
    "immediate": False,  # run tasks in the enqueueing process at once (for tests), storing nothing
}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DBJobQTask(compat.Task):  # type: ignore[type-arg]
    """The task class of :class:`DBJobQBackend`: ``@task`` takes DBJobQ's options too.

    On Django 6.1+ and the ``django-tasks`` backport, ``@task(max_retries=3, timeout=30)`` sets them
    for one task; ``None`` takes the backend's ``OPTIONS``.
    """

    max_retries: int | None = None
    timeout: float | None = None
    retry_delay: float | None = None


class DBJobQBackend(compat.BaseTaskBackend):
    """Runs Django tasks as DBJobQ jobs: enqueued through the ORM, run by ``manage.py runworker``.

    ``OPTIONS`` (all optional, see :data:`OPTION_DEFAULTS`): ``max_retries``, ``retry_delay``,
    ``retry_max_delay``, ``timeout``, ``immediate``. The database is DBJobQ's (``DBJOBQ["DATABASE"]``).
    """

    task_class = DBJobQTask
    supports_defer = True
    supports_async_task = True
    supports_get_result = True
    supports_priority = True

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        problems = option_problems(self.options)
        if problems:
            raise compat.InvalidTaskBackend(f"TASKS[{alias!r}]: {problems[0]}")
        self.settings: dict[str, Any] = {**OPTION_DEFAULTS, **self.options}
        self._immediate_results: dict[str, compat.TaskResult[Any, Any]] = {}
        self.worker_id = f"immediate:{uuid.uuid4().hex[:12]}"

    # -- tasks ----------------------------------------------------------------------------------
    def validate_task(self, task: compat.Task[Any, Any]) -> None:
        """Django's rules, DBJobQ's options of a :class:`DBJobQTask`; then register the task to run."""
        super().validate_task(task)
        if isinstance(task, DBJobQTask):
            for problem in option_problems(
                {"max_retries": task.max_retries, "timeout": task.timeout, "retry_delay": task.retry_delay}
            ):
                raise compat.InvalidTask(f"{task.module_path}: {problem}")
        registry.register_task(
            task,
            max_retries=self.max_retries(task),
            timeout=self._option(task, "timeout"),
            retry_delay=self._option(task, "retry_delay"),
            retry_max_delay=self.settings["retry_max_delay"],
        )

    def max_retries(self, task: compat.Task[Any, Any]) -> int:
        """How many times ``task`` is retried after a failed attempt."""
        return int(self._option(task, "max_retries"))

    def _option(self, task: compat.Task[Any, Any], name: str) -> Any:
        value = getattr(task, name, None)
        return self.settings[name] if value is None else value

    # -- enqueueing -----------------------------------------------------------------------------
    def enqueue(self, task: compat.Task[Any, Any], args: Any, kwargs: Any) -> compat.TaskResult[Any, Any]:
        """Write the task's job through the ORM on DBJobQ's database (it joins an open
        ``transaction.atomic()``) and return its result, ``READY``; sends ``task_enqueued``."""
        self.validate_task(task)
        data = results.payload(self.alias, task, args, kwargs)
        if self.settings["immediate"]:
            return self._run_immediately(task, data)
        job_id = enqueueing.enqueue(task.module_path, data, **self._job_options(task))
        result = self._ready(task, job_id, data)
        events.send(compat.task_enqueued, type(self), result)
        return result

    async def aenqueue(self, task: compat.Task[Any, Any], args: Any, kwargs: Any) -> compat.TaskResult[Any, Any]:
        """Write the task's job through DBJobQ's async queue (it commits on its own); see :meth:`enqueue`."""
        if self.settings["immediate"]:
            return await sync_to_async(self.enqueue)(task, args, kwargs)
        self.validate_task(task)
        data = results.payload(self.alias, task, args, kwargs)
        job_id = await enqueueing.aenqueue(task.module_path, data, **self._job_options(task))
        result = self._ready(task, job_id, data)
        await events.asend(compat.task_enqueued, type(self), result)
        return result

    def _job_options(self, task: compat.Task[Any, Any]) -> dict[str, Any]:
        return {
            "run_at": task.run_after,
            "priority": task.priority,
            "queue": task.queue_name,
            "max_retries": self.max_retries(task),
        }

    def _ready(self, task: compat.Task[Any, Any], job_id: str, data: dict[str, Any]) -> compat.TaskResult[Any, Any]:
        return compat.TaskResult(
            task=task,
            id=job_id,
            status=compat.READY,
            enqueued_at=timezone.now(),
            started_at=None,
            finished_at=None,
            last_attempted_at=None,
            args=data["args"],
            kwargs=data["kwargs"],
            backend=self.alias,
            errors=[],
            worker_ids=[],
        )

    # -- results --------------------------------------------------------------------------------
    def get_result(self, result_id: str) -> compat.TaskResult[Any, Any]:
        """The task result with that id, read through the ORM; ``TaskResultDoesNotExist`` if none."""
        if self.settings["immediate"]:
            return self._immediate_result(result_id)
        row = None
        if isinstance(result_id, str):
            row = JobRow.objects.using(conf.get_settings().database).filter(pk=result_id).first()
        if row is None:
            raise compat.TaskResultDoesNotExist(result_id)
        return self._to_result(job_from_row(row))

    async def aget_result(self, result_id: str) -> compat.TaskResult[Any, Any]:
        """The task result with that id, read through DBJobQ's async queue; see :meth:`get_result`."""
        if self.settings["immediate"]:
            return self._immediate_result(result_id)
        job = await enqueueing.get_queue().get_job(result_id) if isinstance(result_id, str) else None
        if job is None:
            raise compat.TaskResultDoesNotExist(result_id)
        return self._to_result(job)

    def _to_result(self, job: Job) -> compat.TaskResult[Any, Any]:
        if results.backend_alias(job.data) != self.alias:
            raise compat.TaskResultDoesNotExist(job.id)  # a plain DBJobQ job, or another backend's task
        task = registry.resolve_task(job.type)
        if task is None:
            raise compat.InvalidTask(
                f"Task result {job.id} is of task {job.type!r}, which is not defined in this process: define it "
                "with @task in a module of an installed app (tasks.py modules are imported automatically)"
            )
        return results.to_task_result(job, task, self.alias)

    # -- immediate mode (tests) -----------------------------------------------------------------
    def _run_immediately(self, task: compat.Task[Any, Any], data: dict[str, Any]) -> compat.TaskResult[Any, Any]:
        from . import immediate

        result = immediate.run(self, task, data)
        self._immediate_results[result.id] = result
        return result

    def _immediate_result(self, result_id: str) -> compat.TaskResult[Any, Any]:
        try:
            return self._immediate_results[result_id]
        except (KeyError, TypeError):
            raise compat.TaskResultDoesNotExist(result_id) from None

    # -- checks ---------------------------------------------------------------------------------
    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        """``dbjobq_django`` must be installed: its models hold the tasks."""
        from django.apps import apps

        if apps.is_installed("dbjobq_django"):
            return []
        return [
            checks.Error(
                f"TASKS[{self.alias!r}] uses DBJobQBackend, but dbjobq_django is not in INSTALLED_APPS.",
                hint='Add "dbjobq_django" to INSTALLED_APPS and run `python manage.py migrate`.',
                id="dbjobq.E101",
            )
        ]


def option_problems(options: Mapping[str, Any]) -> list[str]:
    """What is wrong with a backend's ``OPTIONS`` (or a task's DBJobQ options), with the fix."""
    if not isinstance(options, Mapping):
        return [f"OPTIONS must be a dict, not {type(options).__name__}"]
    unknown = sorted(set(options) - set(OPTION_DEFAULTS))
    if unknown:
        return [f"unknown OPTIONS key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(OPTION_DEFAULTS))}"]
    found = []
    retries = options.get("max_retries")
    if retries is not None and (not isinstance(retries, int) or isinstance(retries, bool) or retries < 0):
        found.append(f"max_retries must be an int >= 0, not {retries!r}")
    for name in ("retry_delay", "retry_max_delay", "timeout"):
        value = options.get(name)
        if value is None:
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            found.append(f"{name} must be a number of seconds, not {value!r}")
        elif value < 0 or (name == "timeout" and value == 0):
            found.append(f"{name} must be {'positive' if name == 'timeout' else '>= 0'}, not {value!r}")
    if not isinstance(options.get("immediate", False), bool):
        found.append(f"immediate must be True or False, not {options['immediate']!r}")
    return found


def job_from_row(row: JobRow) -> Job:
    """The core's :class:`~dbjobq.Job` for a ``dbjobq_jobs`` model instance."""
    return Job(
        id=row.id,
        type=row.type,
        data=json.loads(row.data) if row.data else {},
        status=JobStatus(row.status),
        queue=row.queue,
        priority=row.priority,
        attempts=row.attempts,
        max_retries=row.max_retries,
        error=row.error,
        result=json.loads(row.result) if row.result is not None else None,
        created_at=epoch_to_datetime(row.created_at),
        updated_at=epoch_to_datetime(row.updated_at),
        execute_at=epoch_to_datetime(row.execute_at),
        started_at=epoch_to_datetime(row.started_at),
        finished_at=epoch_to_datetime(row.finished_at),
        worker_id=row.worker_id,
    )
