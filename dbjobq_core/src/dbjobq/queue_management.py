"""JobQueue's job management: cancel, retry, delete and purge jobs, one by one or by filter. The jobs
waiting for a cancelled one fail at once; a retried job wakes a worker sharing the queue."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from .errors import JobNotFoundError
from .models import FINISHED_STATUSES, Job, JobStatus
from .queue_views import StatusFilter
from .storage.base import BaseStorage
from .timing import as_seconds


class JobManagement:
    """Part of :class:`~dbjobq.JobQueue`: ``cancel_job``, ``retry_job``, ``delete_job``, ``purge`` and
    their bulk forms."""

    storage: BaseStorage
    #: Wakes the workers sharing this queue (:class:`~dbjobq.JobQueue` sets it up).
    _notify: Callable[[], None]

    # -- managing -----------------------------------------------------------------------------
    async def cancel_job(self, job_id: str) -> bool:
        """Cancel a waiting, pending or running job (the jobs waiting for it then fail); False if it
        already finished. Unknown id: JobNotFoundError."""
        if await self.storage.cancel_job(job_id):
            await self.storage.resolve_waiting()
            return True
        await self._require(job_id)
        return False

    async def retry_job(self, job_id: str) -> bool:
        """Run a failed or cancelled job again; False if it is not failed or cancelled."""
        if await self.storage.retry_job(job_id):
            self._notify()
            return True
        await self._require(job_id)
        return False

    async def purge(
        self,
        older_than: float | timedelta = timedelta(days=7),
        statuses: Sequence[JobStatus | str] = FINISHED_STATUSES,
        *,
        batch_size: int = 5000,
        on_progress: Callable[[int], None] | None = None,
        dry_run: bool = False,
    ) -> int:
        """Delete jobs in ``statuses`` that finished more than ``older_than`` ago, ``batch_size`` rows per
        transaction (``on_progress`` gets each batch's count); return how many. With ``dry_run`` nothing
        is deleted: the count is how many would be."""
        seconds = float(as_seconds(older_than))
        return await self.storage.purge(
            seconds, statuses, batch_size=batch_size, on_progress=on_progress, dry_run=dry_run
        )

    async def delete_job(self, job_id: str) -> bool:
        """Delete a finished job; False if it is pending or running (cancel it first). Unknown id:
        JobNotFoundError."""
        if await self.storage.delete_job(job_id):
            return True
        await self._require(job_id)
        return False

    async def retry_failed_jobs(self, *, queue: str | None = None, job_type: str | None = None) -> int:
        """Retry every failed job (of ``queue`` and/or ``job_type``) as :meth:`retry_job` does; return
        how many. Count them first with ``count_jobs(JobStatus.FAILED, queue=…, job_type=…)``."""
        return await self.retry_jobs(JobStatus.FAILED, queue=queue, job_type=job_type)

    async def retry_jobs(
        self,
        status: StatusFilter = JobStatus.FAILED,
        *,
        queue: str | None = None,
        job_type: str | None = None,
        older_than: float | timedelta | None = None,
    ) -> int:
        """Retry every job that matches, as :meth:`retry_job` does; return how many.

        ``status`` is failed (the default), cancelled, or both as a list; ``older_than`` keeps the jobs
        created more than that long ago. Count them first with :meth:`count_jobs` and the same filters.
        Another status is a ``ValueError`` and nothing changes.
        """
        retried = await self.storage.retry_matching(
            status=status, queue=queue, job_type=job_type, older_than=as_seconds(older_than)
        )
        if retried:
            self._notify()
        return retried

    async def cancel_jobs(
        self,
        status: StatusFilter | None = None,
        *,
        queue: str | None = None,
        job_type: str | None = None,
        older_than: float | timedelta | None = None,
    ) -> int:
        """Cancel every job that matches, as :meth:`cancel_job` does; return how many.

        ``status`` is pending, running, or both (``None``, the default); the filters are those of
        :meth:`count_jobs`. A running job's late outcome is rejected. Another status is a ``ValueError``.
        """
        cancelled = await self.storage.cancel_matching(
            status=status, queue=queue, job_type=job_type, older_than=as_seconds(older_than)
        )
        if cancelled:
            await self.storage.resolve_waiting()  # the jobs waiting for the cancelled ones fail now
        return cancelled

    async def _require(self, job_id: str) -> Job:
        job = await self.storage.get_job(job_id)
        if job is None:
            raise JobNotFoundError(f"No job has id {job_id!r}")
        return job
