"""``DBJOBQ = {"EAGER": True}``: a job enqueued with ``dbjobq_django.enqueue()`` runs in the same thread.

It runs once the transaction that wrote it commits (``transaction.on_commit``), or at once outside a
transaction of the code's own: a test's own transaction (``TestCase``, ``@pytest.mark.django_db``)
does not count, so a plain test sees its jobs run. Each attempt is claimed and recorded through the
ORM, on the connection that wrote the job, by the core's eager loop (:mod:`dbjobq.eager`): the row
ends as a worker would leave it, and the job's own queries see what the test wrote. Sync job
functions run in the enqueueing thread (Django's connections are per thread); async ones on an event
loop whose ``sync_to_async`` calls come back to that thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from django.db import connections, transaction
from django.db.models import F

from dbjobq import Job, JobStatus, RunResult
from dbjobq.integration import claimed_values, eager, job_from_row, new_token, outcome_values
from dbjobq.storage import Outcome

from . import clock

#: True while a job runs eagerly: Django's worker wrapper must not close the caller's connections.
running_eagerly: contextvars.ContextVar[bool] = contextvars.ContextVar("dbjobq_running_eagerly", default=False)


def run_after_commit(job_id: str, using: str) -> None:
    """Run ``job_id`` once the code's own transaction on ``using`` commits, or now if it has none."""
    if in_own_transaction(using):
        transaction.on_commit(lambda: run_now(job_id, using), using=using)
    else:
        run_now(job_id, using)


def in_own_transaction(using: str) -> bool:
    """True inside an ``atomic()`` block of the code's own (not only a test case's wrapping one)."""
    connection = connections[using]
    if not connection.in_atomic_block:
        return False
    # Django marks the atomic blocks that TestCase (and pytest-django) wrap each test in.
    return not connection.atomic_blocks or not all(
        getattr(block, "_from_testcase", False) for block in connection.atomic_blocks
    )


def run_now(job_id: str, using: str) -> RunResult | None:
    """Run pending job ``job_id`` now in this thread, retries back to back, recording through the ORM;
    return the last run (``None`` if it was not pending)."""

    async def claim(job: str) -> Job | None:
        return await sync_to_async(_claim, thread_sensitive=True)(job, using)

    async def record(outcome: Outcome) -> bool:
        return await sync_to_async(_record, thread_sensitive=True)(outcome, using)

    _discover_once()
    token = running_eagerly.set(True)
    try:
        return async_to_sync(eager.run_eagerly)(job_id, claim=claim, record=record, executor=CallingThread())
    finally:
        running_eagerly.reset(token)


_discovered: list[bool] = []


def _discover_once() -> None:
    """Import the apps' job modules (``AUTODISCOVER``) before the first eager run, as a worker does."""
    if not _discovered:
        from .worker import discover_jobs  # the worker module imports this one

        discover_jobs()
        _discovered.append(True)


def to_job(row: Any) -> Job:
    """A core :class:`~dbjobq.Job` from a ``dbjobq_django.models.Job`` row."""
    return job_from_row({field.attname: getattr(row, field.attname) for field in row._meta.concrete_fields})


def _claim(job_id: str, using: str) -> Job | None:
    from .models import Job as JobRow

    values = claimed_values(eager.worker_id(), new_token(), clock.db_now(using), eager.LEASE_TIMEOUT)
    with transaction.atomic(using=using):
        rows = JobRow.objects.using(using).filter(id=job_id, status=JobStatus.PENDING.value)
        if not rows.update(attempts=F("attempts") + 1, **values):
            return None
        return to_job(JobRow.objects.using(using).get(id=job_id))


def _record(outcome: Outcome, using: str) -> bool:
    from .models import Job as JobRow

    held = JobRow.objects.using(using).filter(
        id=outcome.job_id, lease_token=outcome.lease_token, status=JobStatus.RUNNING.value
    )
    return bool(held.update(**outcome_values(outcome, clock.db_now(using))))


class CallingThread(Executor):
    """Runs sync job functions in the thread that called ``async_to_sync`` (asgiref's thread-sensitive
    mode), where the test's (or request's) database connection and transaction are."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        """Schedule ``fn`` on the calling thread; return a future for its result."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        task = asyncio.get_running_loop().create_task(sync_to_async(fn, thread_sensitive=True)(*args, **kwargs))

        def settle(done: asyncio.Task[Any]) -> None:
            if future.cancelled():  # the run timed out: nobody waits for the value any more
                return
            if done.cancelled():
                future.cancel()
            elif done.exception() is not None:
                future.set_exception(done.exception())  # type: ignore[arg-type]
            else:
                future.set_result(done.result())

        task.add_done_callback(settle)
        return future
