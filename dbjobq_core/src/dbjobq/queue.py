"""JobQueue: the API for enqueueing, inspecting and managing jobs and schedules (the views, job
management, schedules and queue controls are its parts in ``queue_views``, ``queue_management``,
``queue_schedules`` and ``queue_controls``; enqueueing and running by hand are here).

It is the management API: the CLI, the dashboard and the Django admin go through it, never around it
to the storage, so a rule (a cancelled job's claim revoked, missed occurrences skipped when a schedule
is enabled again) holds whoever acts.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import eager, flow, registry, tracing
from .execution import RunResult, run_job
from .models import EnqueuedIds, EnqueueOptions, Job, JobStatus, NewJob
from .queue_controls import QueueControls
from .queue_management import JobManagement
from .queue_schedules import ScheduleManagement
from .queue_views import JobViews, StatusFilter
from .serialization import dumps_payload
from .storage.base import BaseStorage
from .timing import as_seconds

if TYPE_CHECKING:
    from typing_extensions import Unpack

logger = logging.getLogger(__name__)

JobRef = Callable[..., Any] | str
__all__ = ["JobQueue", "JobRef", "StatusFilter"]


class JobQueue(JobViews, JobManagement, ScheduleManagement, QueueControls):
    """Enqueue jobs into a storage and manage them.

    Decorator defaults (``@job(priority=…, max_retries=…, queue=…)``) apply unless overridden here.
    With ``eager=True`` (for tests) :meth:`enqueue` runs each job before it returns, recording the
    outcome as a worker would: see :mod:`dbjobq.eager`.
    """

    def __init__(self, storage: BaseStorage, *, eager: bool = False) -> None:
        self.storage = storage
        #: Run jobs at enqueue (retries back to back) instead of leaving them to workers.
        self.eager = eager
        self._listeners: list[Callable[[], None]] = []

    def __repr__(self) -> str:
        return f"JobQueue({self.storage!r}{', eager=True' if self.eager else ''})"

    # -- in-process wake-ups ------------------------------------------------------------------
    def add_enqueue_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after each enqueue through this queue (a worker sharing it wakes at once)."""
        self._listeners.append(callback)

    def remove_enqueue_listener(self, callback: Callable[[], None]) -> None:
        """Stop calling ``callback`` on enqueue."""
        if callback in self._listeners:
            self._listeners.remove(callback)

    def _notify(self) -> None:
        for callback in list(self._listeners):
            callback()

    # -- enqueueing ---------------------------------------------------------------------------
    def prepare_job(
        self,
        func_or_name: JobRef,
        data: Any,
        **options: Unpack[EnqueueOptions],
    ) -> NewJob:
        """Validate a job and apply the ``@job`` defaults without writing it (adapters insert it themselves).

        An option that is not one of :class:`~dbjobq.models.EnqueueOptions` raises ``TypeError``.
        """
        _check_options(options)
        delay, run_at = options.get("delay"), options.get("run_at")
        priority, max_retries, queue = options.get("priority"), options.get("max_retries"), options.get("queue")
        name = registry.job_name(func_or_name)
        spec = registry.get_spec(name)
        delay_seconds, execute_at = _due_time(delay, run_at)
        return NewJob(
            type=name,
            data=dumps_payload(data),
            queue=queue if queue is not None else (spec.queue if spec else "default"),
            priority=priority if priority is not None else (spec.priority if spec else 0),
            max_retries=max_retries if max_retries is not None else (spec.max_retries if spec else 0),
            execute_at=execute_at,
            delay=delay_seconds,
            unique_key=flow.check_unique_key(options.get("unique_key")),
            depends_on=flow.check_depends_on(options.get("depends_on")),
            flow_key=spec.flow_key(data or {}) if spec is not None else None,
            meta=tracing.enqueue_meta(),  # the enqueue site's trace context, when OpenTelemetry is configured
        )

    def _prepare_many(
        self, func_or_name: JobRef, datas: list[Any], keys: list[str | None], options: EnqueueOptions
    ) -> list[NewJob]:
        """:meth:`prepare_job` for each item: the options are checked and resolved once (with the first
        item); each job's own are its payload, concurrency key and unique key."""
        if not datas:
            return []
        first = self.prepare_job(func_or_name, datas[0], **_with_key(options, keys[0]))
        spec = registry.get_spec(first.type)
        flow_key = spec.flow_key if spec is not None and spec.flow_controlled else None
        shared_key = options.get("unique_key")
        # The first job's fields but each job's own; NewJob(**…) rather than dataclasses.replace(),
        # which costs a bulk enqueue ~1.4 µs more per job (it walks the fields for every copy).
        shared = {
            field.name: getattr(first, field.name)
            for field in dataclasses.fields(first)
            if field.name not in ("data", "unique_key", "flow_key")
        }
        return [first] + [
            NewJob(
                **shared,
                data=dumps_payload(data),
                unique_key=flow.check_unique_key(key if key is not None else shared_key),
                flow_key=flow_key(data or {}) if flow_key is not None else None,
            )
            for data, key in zip(datas[1:], keys[1:], strict=True)
        ]

    async def enqueue(
        self,
        func_or_name: JobRef,
        data: dict[str, Any] | None = None,
        *,
        connection: Any = None,
        **options: Unpack[EnqueueOptions],
    ) -> str:
        """Add a job and return its id.

        ``func_or_name`` is a ``@job`` function or a job type string. ``data`` must be a dict of JSON
        values (``TypeError`` otherwise; nothing is written). The options are those of
        :class:`~dbjobq.models.EnqueueOptions`: ``delay`` (seconds or timedelta) or ``run_at`` (datetime
        or epoch seconds) defers it; ``priority``, ``max_retries`` and ``queue`` override the ``@job``
        defaults. Pass ``connection`` (your SQLAlchemy
        ``AsyncConnection`` or ``AsyncSession``) to write the job in your own transaction. With
        ``unique_key``, while a job holding that key is waiting, pending or running nothing is added and
        that job's id is returned (see docs/flow-control.md).

        In eager mode the job runs before this returns, whatever its ``delay`` or ``run_at``; a job
        written in your own transaction (``connection``) is not visible yet and stays pending.
        """
        new = self.prepare_job(func_or_name, data, **options)
        ids = await self.storage.enqueue_many([new], connection=connection)
        job_id = ids[0]
        if getattr(ids, "duplicates", None):
            return job_id  # the key's holder: nothing was added, nobody to wake
        if logger.isEnabledFor(logging.DEBUG):  # the hot path: no record for a line nobody reads
            logger.debug("Enqueued %s as %s", new.type, job_id, extra={"action": "enqueue", "job_id": job_id})
        if connection is None:
            await self._after_enqueue([job_id])
        return job_id

    async def enqueue_many(
        self,
        func_or_name: JobRef,
        items: Iterable[dict[str, Any] | None],
        *,
        connection: Any = None,
        unique_keys: Callable[[dict[str, Any]], str | None] | Sequence[str | None] | None = None,
        **options: Unpack[EnqueueOptions],
    ) -> EnqueuedIds:
        """Add one job per item of ``items`` (each a data dict) in bulk; return the ids in order.

        Everything is validated before anything is written. ``unique_keys`` gives each job its unique
        key: a function of its data, or a sequence as long as ``items``. The result is a list of ids
        whose ``duplicates`` holds the positions not added because their key was held (there, the
        holder's id).
        """
        datas = list(items)
        keys = flow.unique_keys_for(unique_keys, datas)
        batch = self._prepare_many(func_or_name, datas, keys, options)
        ids = await self.storage.enqueue_many(batch, connection=connection)
        result = ids if isinstance(ids, EnqueuedIds) else EnqueuedIds(list(ids))
        added = [job_id for n, job_id in enumerate(result) if n not in result.duplicates]
        if connection is None and added:
            await self._after_enqueue(added)
        return result

    async def _after_enqueue(self, ids: list[str]) -> None:
        """Wake a worker sharing this queue, or in eager mode run the jobs now, in order."""
        if not self.eager:
            self._notify()
            return
        await eager.run_stored(self.storage, ids)

    # -- running by hand ----------------------------------------------------------------------
    async def dequeue(self) -> Job | None:
        """Claim the next due job (it becomes running), or return ``None``. Run it with :meth:`execute_job`."""
        return await self.storage.dequeue()

    async def execute_job(self, job: Job) -> RunResult:
        """Run a job claimed with :meth:`dequeue` and record its outcome (completed, retry or failed).

        Sync job functions run in a thread. A retry is scheduled with exponential backoff; after its
        last attempt the job is failed and keeps the error and traceback.
        """
        if job.status is not JobStatus.RUNNING or not job.lease_token:
            raise ValueError("execute_job() runs a job claimed with dequeue()")
        result = await run_job(job, storage=self.storage)
        accepted = await self.storage.record_outcomes([result.outcome])
        if job.id not in accepted:
            logger.warning(
                "Outcome of job %s rejected: it no longer holds its claim (cancelled or lease expired)",
                job.id,
                extra={"action": "outcome_rejected", "job_id": job.id},
            )
        return result

    # -- schedules (the rest are ScheduleManagement's) ------------------------------------------
    async def run_schedule_now(self, schedule_id: str) -> str:
        """Enqueue one extra job of a schedule now (its next run is unchanged); return the job id."""
        schedule = await self._require_schedule(schedule_id)
        return await self.enqueue(
            schedule.job_type,
            schedule.job_data,
            queue=schedule.queue,
            priority=schedule.priority,
            max_retries=schedule.max_retries,
        )



def _with_key(options: EnqueueOptions, key: str | None) -> EnqueueOptions:
    """``options`` with ``unique_key`` set to ``key`` (``None``: as given)."""
    return options if key is None else {**options, "unique_key": key}


def _check_options(options: Mapping[str, object]) -> None:
    """Refuse an option no enqueue function takes, naming the closest valid one."""
    valid = EnqueueOptions.__annotations__
    for key in options:
        if key not in valid:
            hint = difflib.get_close_matches(key, valid, n=1)
            suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise TypeError(f"enqueue() got an unexpected option {key!r}{suggestion}; valid: {', '.join(valid)}")


def _due_time(delay: float | timedelta | None, run_at: datetime | float | None) -> tuple[float | None, float | None]:
    """(delay in seconds, absolute epoch seconds): a delay is judged by the database's clock at insert."""
    if delay is not None and run_at is not None:
        raise ValueError("Give delay or run_at, not both")
    if delay is not None:
        seconds = as_seconds(delay)
        if not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"delay must be a non-negative number of seconds, not {delay!r}")
        return float(seconds), None
    if run_at is not None:
        if isinstance(run_at, datetime):
            return None, run_at.timestamp()  # a naive datetime is local time, as datetime.now() gives
        if not isinstance(run_at, (int, float)) or not math.isfinite(run_at):
            raise ValueError(f"run_at must be a datetime or epoch seconds, not {run_at!r}")
        return None, float(run_at)
    return None, None
