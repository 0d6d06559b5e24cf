"""SQLAlchemyStorage's operators' views (the dashboard, ``dbjobq stats``): per-queue figures, filtered
counts, pages of job summaries and throughput, each bounded by an index whatever the table holds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, select

from ..models import FINISHED_STATUSES, Job, JobStatus, QueueStats
from . import records
from .database import Database
from .schema import jobs

#: Characters of a job's error that a page of job summaries carries.
SUMMARY_ERROR_CHARS = 300
#: Queues whose figures one round trip reads.
_QUEUES_PER_STATEMENT = 20
_FINISHED_VALUES = frozenset(status.value for status in FINISHED_STATUSES)


def job_filters(
    status: JobStatus | str | Sequence[JobStatus | str] | None,
    queue: str | None,
    job_type: str | None,
    older_than: float | None = None,
    *,
    now: ColumnElement[float] | None = None,
) -> list[ColumnElement[bool]]:
    """The WHERE conditions for jobs of ``status`` (one or several), on ``queue``, of ``job_type``,
    created more than ``older_than`` seconds ago (each optional)."""
    found: list[ColumnElement[bool]] = []
    if status is not None:
        values = status_values(status)
        found.append(jobs.c.status.in_(values))
        if _FINISHED_VALUES.issuperset(values):
            # Always true of finished jobs; it lets the finished jobs' partial index serve the query.
            found.append(jobs.c.finished_at.is_not(None))
    if queue is not None:
        found.append(jobs.c.queue == queue)
    if job_type is not None:
        found.append(jobs.c.type == job_type)
    if older_than is not None:
        if not math.isfinite(older_than) or older_than < 0:
            raise ValueError("older_than must be a non-negative number of seconds")
        if now is None:
            raise TypeError("job_filters(older_than=…) needs the database's now (impl.now())")
        found.append(jobs.c.created_at < now - older_than)
    return found


def status_values(status: JobStatus | str | Sequence[JobStatus | str]) -> list[str]:
    """The status values a filter names: one status or several (``ValueError`` for unknown or none)."""
    given = [status] if isinstance(status, str) else list(status)
    if not given:
        raise ValueError("Give at least one status")
    return sorted({JobStatus.parse(s).value for s in given})


class ViewsSQL:
    """Part of :class:`~.sqlalchemy_storage.SQLAlchemyStorage`: what operators' tools read."""

    _db: Database

    async def queue_stats(self, count_cap: int = 10_000) -> list[QueueStats]:
        """Every queue with jobs: counts by status, its running jobs claimed ahead and not started,
        and its oldest due pending job, read from the (queue, status, execute_at) index (the claimed
        ahead count also reads the queue's running rows: few, bounded by the workers' capacity).

        Pending and running jobs are counted exactly; a finished status stops counting past
        ``count_cap`` and is then marked capped, so the cost stays bounded however many finished
        jobs the table keeps.
        """
        now = self._db.impl.now()
        async with self._db.transaction() as conn:
            names = list((await conn.execute(self._db.impl.queue_names())).scalars().all())
            found: list[QueueStats] = []
            for start in range(0, len(names), _QUEUES_PER_STATEMENT):
                chunk = names[start : start + _QUEUES_PER_STATEMENT]
                columns: list[Any] = []
                for name in chunk:
                    in_queue = (jobs.c.queue == name,)
                    for status in JobStatus:
                        rows = select(jobs.c.execute_at).where(*in_queue, jobs.c.status == status.value)
                        if status in FINISHED_STATUSES:
                            rows = rows.limit(count_cap + 1)
                        columns.append(select(func.count()).select_from(rows.subquery()).scalar_subquery())
                    claimed = select(func.count()).select_from(jobs).where(
                        *in_queue, jobs.c.status == JobStatus.RUNNING.value, jobs.c.started_at.is_(None)
                    )
                    columns.append(claimed.scalar_subquery())
                    oldest = (
                        select(jobs.c.execute_at)
                        .where(*in_queue, jobs.c.status == JobStatus.PENDING.value, jobs.c.execute_at <= now)
                        .order_by(jobs.c.execute_at)
                        .limit(1)
                    )
                    columns.append(oldest.scalar_subquery())
                row = (await conn.execute(select(*columns))).one()
                width = len(JobStatus) + 2  # a count per status, then claimed ahead, then the oldest due time
                for i, name in enumerate(chunk):
                    values = row[i * width : (i + 1) * width]
                    stats = QueueStats(
                        name, oldest_due_at=None if values[-1] is None else float(values[-1]), claimed=int(values[-2])
                    )
                    for status, count in zip(JobStatus, values[:-2], strict=True):
                        if status in FINISHED_STATUSES and count > count_cap:
                            stats.capped.add(status.value)
                            count = count_cap
                        stats.counts[status.value] = int(count)
                    found.append(stats)
        return found

    async def count_matching(
        self,
        *,
        status: JobStatus | str | Sequence[JobStatus | str] | None = None,
        queue: str | None = None,
        job_type: str | None = None,
        older_than: float | None = None,
    ) -> int:
        """How many jobs match every given filter (``older_than``: created more than that many seconds ago)."""
        stmt = (
            select(func.count())
            .select_from(jobs)
            .where(*job_filters(status, queue, job_type, older_than, now=self._db.impl.now()))
        )
        async with self._db.transaction() as conn:
            return int((await conn.execute(stmt)).scalar() or 0)

    async def page_jobs(
        self,
        *,
        status: JobStatus | str | None = None,
        queue: str | None = None,
        job_type: str | None = None,
        before: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[Job]:
        """One page of job summaries, newest first, paged by id (ids are time-ordered): the jobs just
        older than ``before``, or just newer than ``after``, or the newest. Summaries: ``data`` and
        ``result`` are not loaded and ``error`` holds at most its first :data:`SUMMARY_ERROR_CHARS`
        characters, so a page costs the same whatever the payloads weigh."""
        if not 0 < limit <= 1000:
            raise ValueError("limit must be between 1 and 1000")
        summary = [c for c in jobs.c if c.name not in ("data", "result", "error")]
        error = func.substr(jobs.c.error, 1, SUMMARY_ERROR_CHARS).label("error")
        stmt = select(*summary, error).where(*job_filters(status, queue, job_type)).limit(limit)
        if after is not None:
            stmt = stmt.where(jobs.c.id > after).order_by(jobs.c.id)
        else:
            stmt = stmt.order_by(jobs.c.id.desc())
            if before is not None:
                stmt = stmt.where(jobs.c.id < before)
        async with self._db.transaction() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        found = [records.job_from_row({**row, "data": None, "result": None}) for row in rows]
        return found[::-1] if after is not None else found

    async def finished_per_minute(self, since: float) -> list[tuple[float, str, int]]:
        """Completed and failed jobs per minute since ``since``: (minute start, status, count) rows,
        read from the (status, finished_at) index."""
        minute = self._db.impl.whole_minutes(jobs.c.finished_at)
        stmt = (
            select(minute.label("minute"), jobs.c.status, func.count())
            .where(jobs.c.status.in_([JobStatus.COMPLETED.value, JobStatus.FAILED.value]), jobs.c.finished_at >= since)
            .group_by(minute, jobs.c.status)
        )
        async with self._db.transaction() as conn:
            return [(float(m) * 60, s, int(n)) for m, s, n in (await conn.execute(stmt)).all()]
