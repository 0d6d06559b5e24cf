"""JobQueue's views: one job, lists and pages of jobs, counts, throughput, workers — what the CLI, the
dashboard and the Django admin show. Every count here is cheap on any table size unless it says not."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from .models import Job, JobCounts, JobStatus, QueueStats, WorkerInfo
from .storage.base import BaseStorage
from .timing import as_seconds

#: One job status, or several (any of them matches).
StatusFilter = JobStatus | str | Sequence[JobStatus | str]


class JobViews:
    """Part of :class:`~dbjobq.JobQueue`: reading jobs, counting them, and the operators' views."""

    storage: BaseStorage

    # -- reading ------------------------------------------------------------------------------
    async def get_job(self, job_id: str) -> Job | None:
        """The job with that id, or ``None``."""
        return await self.storage.get_job(job_id)

    async def list_jobs(
        self,
        status: JobStatus | str | None = None,
        limit: int | None = None,
        offset: int = 0,
        queue: str | None = None,
        job_type: str | None = None,
    ) -> list[Job]:
        """Jobs in creation order (by id, which is time-ordered); ``status`` must be one of the JobStatus values."""
        if status is not None:
            status = JobStatus.parse(status)
        return await self.storage.list_jobs(status=status, limit=limit, offset=offset, queue=queue, job_type=job_type)

    async def get_pending_jobs(self, limit: int | None = None) -> list[Job]:
        """Pending jobs."""
        return await self.list_jobs(JobStatus.PENDING, limit)

    async def get_running_jobs(self, limit: int | None = None) -> list[Job]:
        """Running jobs."""
        return await self.list_jobs(JobStatus.RUNNING, limit)

    async def get_completed_jobs(self, limit: int | None = None) -> list[Job]:
        """Completed jobs."""
        return await self.list_jobs(JobStatus.COMPLETED, limit)

    async def get_failed_jobs(self, limit: int | None = None) -> list[Job]:
        """Failed jobs."""
        return await self.list_jobs(JobStatus.FAILED, limit)

    async def job_counts(self, count_cap: int | None = 1_000) -> JobCounts:
        """Job counts keyed by (queue, status), statuses without jobs left out; cheap on any table size.

        Pending and running jobs are counted exactly, from the indexes. A finished status (completed,
        failed, cancelled) stops counting past ``count_cap`` per queue: its count is then a lower bound
        and listed in the result's ``capped``. ``count_cap=None`` counts every row exactly: a scan of
        the whole table, slow on a big one.
        """
        if count_cap is None:
            return JobCounts(await self.storage.count_jobs())
        return JobCounts.from_queue_stats(await self.storage.queue_stats(count_cap))

    # -- operators' views (dashboard, CLI) -------------------------------------------------------
    async def queue_stats(self, count_cap: int = 10_000) -> list[QueueStats]:
        """Each queue's job counts by status, its running jobs claimed ahead and not started, and its
        oldest due pending job; finished counts stop at ``count_cap`` (see
        :class:`~dbjobq.models.QueueStats`). Cheap on any table size."""
        return await self.storage.queue_stats(count_cap)

    async def count_jobs(
        self,
        status: StatusFilter | None = None,
        *,
        queue: str | None = None,
        job_type: str | None = None,
        older_than: float | timedelta | None = None,
    ) -> int:
        """How many jobs match every given filter: ``status`` one status or a list of them,
        ``older_than`` (seconds or a timedelta) those created more than that long ago."""
        return await self.storage.count_matching(
            status=status, queue=queue, job_type=job_type, older_than=as_seconds(older_than)
        )

    async def count_finished(self, within: float | timedelta = 60.0) -> int:
        """How many jobs completed or failed in the last ``within`` (seconds or a timedelta)."""
        return await self.storage.count_finished(float(as_seconds(within)))

    async def page_jobs(
        self,
        status: JobStatus | str | None = None,
        *,
        queue: str | None = None,
        job_type: str | None = None,
        before: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[Job]:
        """A page of job summaries, newest first, paged by id: pass the last id shown as ``before``
        for the next page, the first as ``after`` for the previous one. ``data`` and ``result`` are not
        loaded and ``error`` is cut: :meth:`get_job` has the whole job."""
        if status is not None:
            status = JobStatus.parse(status)
        return await self.storage.page_jobs(
            status=status, queue=queue, job_type=job_type, before=before, after=after, limit=limit
        )

    async def throughput(self, minutes: int = 60, *, now: float | None = None) -> list[tuple[float, int, int]]:
        """Jobs completed and failed in each of the last ``minutes`` minutes, oldest first, as
        (minute start in epoch seconds, completed, failed); the last minute is the current one."""
        current = int((await self.storage.now() if now is None else now) // 60) * 60
        first = current - (minutes - 1) * 60
        counts = {(minute, status): n for minute, status, n in await self.storage.finished_per_minute(first)}
        return [
            (float(m), counts.get((m, JobStatus.COMPLETED.value), 0), counts.get((m, JobStatus.FAILED.value), 0))
            for m in range(first, current + 60, 60)
        ]

    async def now(self) -> float:
        """The clock due times, leases, heartbeats and schedules are judged by, in epoch seconds: the
        database server's (SQLite: this process's). Compare stored times with it, not ``time.time()``."""
        return await self.storage.now()

    async def list_workers(self) -> list[WorkerInfo]:
        """The registered workers, oldest first (a worker that died without stopping stays listed,
        its heartbeat ageing, until a worker's maintenance prunes it)."""
        return await self.storage.list_workers()

    async def orphan_job_types(self, live_within: float = 60.0) -> dict[str, int]:
        """Pending jobs, counted by type, whose type no worker seen in the last ``live_within`` seconds
        registered: workers claim only their own types, so these wait (a typo, a missing ``--import``)."""
        return await self.storage.orphan_job_types(live_within)
