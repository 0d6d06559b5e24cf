"""Test helpers for Django projects: what was enqueued, and running due jobs, through the ORM.

They read and run on the connection of ``DBJOBQ["DATABASE"]`` in the calling thread, so they see the
jobs a test wrote inside its own transaction (a plain ``@pytest.mark.django_db`` or ``TestCase``),
which the async core, on its own connections, cannot::

    from dbjobq_django import testing

    testing.assert_enqueued(send_welcome_email, {"user_id": user.pk})
    testing.run_due_jobs()   # each due job, as eager mode runs it
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from dbjobq import Job, JobStatus, WorkerStats
from dbjobq.integration import describe_miss
from dbjobq.integration import registry as job_registry

from . import clock, conf, eager

__all__ = ["assert_enqueued", "enqueued_jobs", "run_due_jobs"]

JobRef = Callable[..., Any] | str


def enqueued_jobs(
    func_or_name: JobRef | None = None, *, status: JobStatus | str | None = None, queue: str | None = None
) -> list[Job]:
    """The jobs of ``func_or_name`` (a ``@job`` function or a job type; any when ``None``), oldest first,
    optionally only those in ``status`` or on ``queue``."""
    from .models import Job as JobRow

    rows = JobRow.objects.using(conf.get_settings().database).order_by("id")
    if func_or_name is not None:
        rows = rows.filter(type=job_registry.job_name(func_or_name))
    if status is not None:
        rows = rows.filter(status=JobStatus.parse(status).value)
    if queue is not None:
        rows = rows.filter(queue=queue)
    return [eager.to_job(row) for row in rows]


def assert_enqueued(
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
    job_type = job_registry.job_name(func_or_name)
    found = enqueued_jobs(job_type, status=status, queue=queue)
    matching = [job for job in found if data is None or job.data == data]
    if matching:
        return matching[-1]
    raise AssertionError(describe_miss(job_type, data, found, enqueued_jobs()))


def run_due_jobs(*, queues: Sequence[str] | None = None) -> WorkerStats:
    """Run every due pending job (of ``queues``), highest priority first, and then those they enqueued,
    in this thread as eager mode runs them (a failed attempt with retries left runs again at once);
    return the counts. Jobs not due yet stay pending."""
    from .models import Job as JobRow

    using = conf.get_settings().database
    stats = WorkerStats()
    while True:
        due = JobRow.objects.using(using).filter(status=JobStatus.PENDING.value, execute_at__lte=clock.db_now(using))
        if queues:
            due = due.filter(queue__in=list(queues))
        ids = list(due.order_by("-priority", "execute_at", "id").values_list("id", flat=True))
        if not ids:
            return stats
        for job_id in ids:
            if eager.run_now(job_id, using) is None:
                continue  # no longer pending: taken meanwhile
            job = eager.to_job(JobRow.objects.using(using).get(id=job_id))
            stats.started += job.attempts
            stats.retried += max(0, job.attempts - 1)
            if job.status is JobStatus.COMPLETED:
                stats.completed += 1
            elif job.status is JobStatus.FAILED:
                stats.failed += 1
            else:
                stats.rejected += 1  # cancelled while it ran: its outcome was not recorded
