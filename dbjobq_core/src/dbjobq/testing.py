"""Helpers for testing code that enqueues: what was enqueued, and running what is due.

They take the :class:`~dbjobq.JobQueue` under test and raise ``AssertionError`` with a message that
shows what was enqueued instead, so pytest reports a failure plainly::

    job = await testing.assert_enqueued(queue, send_email, {"to": "ann@example.com"})
    await testing.run_due_jobs(queue)   # a burst worker: every due job, then return

Django's sync versions, which read through the ORM (and so see a test's uncommitted rows), are in
``dbjobq_django.testing``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from . import registry
from .models import Job, JobStatus
from .queue import JobQueue
from .worker import Worker, WorkerStats

__all__ = ["assert_enqueued", "enqueued_jobs", "run_due_jobs"]

JobRef = Callable[..., Any] | str


async def enqueued_jobs(
    jobq: JobQueue,
    func_or_name: JobRef | None = None,
    *,
    status: JobStatus | str | None = None,
    queue: str | None = None,
) -> list[Job]:
    """The jobs of ``func_or_name`` (a ``@job`` function or a job type; any when ``None``), oldest first,
    optionally only those in ``status`` or on ``queue``."""
    job_type = None if func_or_name is None else registry.job_name(func_or_name)
    return await jobq.list_jobs(status=status, queue=queue, job_type=job_type)


async def assert_enqueued(
    jobq: JobQueue,
    func_or_name: JobRef,
    data: dict[str, Any] | None = None,
    *,
    status: JobStatus | str | None = None,
    queue: str | None = None,
) -> Job:
    """Assert that a job of ``func_or_name`` was enqueued (with exactly ``data``, when given; in
    ``status`` or on ``queue``, when given) and return it (the newest, if several match).

    ``AssertionError`` otherwise, listing the jobs of that type (or the types) that were enqueued.
    """
    job_type = registry.job_name(func_or_name)
    found = await enqueued_jobs(jobq, job_type, status=status, queue=queue)
    matching = [job for job in found if data is None or job.data == data]
    if matching:
        return matching[-1]
    raise AssertionError(describe_miss(job_type, data, found, await enqueued_jobs(jobq)))


def describe_miss(job_type: str, data: dict[str, Any] | None, same_type: Sequence[Job], every: Sequence[Job]) -> str:
    """Why :func:`assert_enqueued` failed: what was enqueued instead (shared with the adapters' versions)."""
    wanted = f"No job of type {job_type!r}" + ("" if data is None else f" with data {data!r}") + " was enqueued"
    if same_type:
        shown = ", ".join(f"{job.data!r} ({job.status.value}, queue {job.queue!r})" for job in same_type[-10:])
        return f"{wanted}; jobs of that type: {shown}"
    if every:
        return f"{wanted}; enqueued types: {', '.join(sorted({job.type for job in every}))}"
    return f"{wanted}; no job was enqueued at all"


async def run_due_jobs(jobq: JobQueue, *, queues: Sequence[str] | None = None) -> WorkerStats:
    """Run every due job now, and those they enqueue, with a burst worker (``dbjobq worker --burst``);
    return its counts. Jobs not due yet (a ``delay``, a retry's backoff) stay pending."""
    worker = Worker(jobq, poll_interval=0.05, queues=list(queues) if queues else None)
    await worker.run(burst=True)
    return worker.stats
