"""Pydantic response models of the jobs API (they make its OpenAPI schema)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dbjobq import Job, JobStatus
from dbjobq.models import JobCounts, QueueStats


class JobOut(BaseModel):
    """One job as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: str = Field(description="The job id (36 characters).")
    type: str = Field(description="The registered job name, e.g. `app.jobs.send_email`.")
    data: dict[str, Any] = Field(description="The JSON payload the job runs with.")
    status: JobStatus
    queue: str
    priority: int
    attempts: int = Field(description="Runs started so far.")
    max_retries: int
    error: str | None = Field(description="Type, message and traceback of the last failure.")
    result: Any = Field(description="What the job function returned (JSON).")
    created_at: datetime | None
    updated_at: datetime | None
    execute_at: datetime | None = Field(description="When the job is (or was) due.")
    started_at: datetime | None
    finished_at: datetime | None
    worker_id: str | None = Field(description="The worker running (or that last ran) the job.")
    progress: dict[str, Any] | None = Field(
        default=None,
        description="The progress the job last reported: `fraction` (0.0 to 1.0), `message`, `at` (epoch seconds).",
    )

    @classmethod
    def from_job(cls, job: Job) -> JobOut:
        """The API view of a core :class:`~dbjobq.Job`."""
        return cls.model_validate(job)


class JobPage(BaseModel):
    """One page of jobs, in creation order (by id)."""

    items: list[JobOut]
    total: int | None = Field(description="Jobs matching the filters over all pages, with `count=true` (else null).")
    limit: int
    offset: int


class StatusCounts(BaseModel):
    """Job counts by status."""

    pending: int = 0
    running: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    total: int = 0
    claimed: int = Field(
        default=0,
        description=(
            "Running jobs claimed ahead and not started: they wait in a worker's buffer, and have done so "
            "past a heartbeat. Already counted in `running` (and `total`)."
        ),
    )

    def add(self, status: str, count: int) -> None:
        """Count ``count`` more jobs of ``status``."""
        name = JobStatus.parse(status).value
        setattr(self, name, getattr(self, name) + count)
        self.total += count


class JobStats(BaseModel):
    """Job counts by queue and status."""

    queues: dict[str, StatusCounts] = Field(description="Counts per queue name.")
    total: StatusCounts = Field(description="Counts over all queues.")
    capped: dict[str, list[str]] = Field(
        default_factory=dict,
        description=(
            "Per queue, the finished statuses whose count stopped at the cap (1,000 jobs per queue and "
            "status): those counts, and the totals that include them, are lower bounds. Pending and "
            "running counts are always exact."
        ),
    )

    @classmethod
    def from_queue_stats(cls, queues: Iterable[QueueStats]) -> JobStats:
        """Build from ``JobQueue.queue_stats()``: the counts of :meth:`from_counts`, and each queue's
        running jobs claimed ahead."""
        queues = list(queues)
        stats = cls.from_counts(JobCounts.from_queue_stats(queues))
        for queue in queues:
            if queue.claimed:
                stats.queues.setdefault(queue.name, StatusCounts()).claimed = queue.claimed
                stats.total.claimed += queue.claimed
        return stats

    @classmethod
    def from_counts(cls, counts: Mapping[tuple[str, str], int]) -> JobStats:
        """Build from ``JobQueue.job_counts()``: a mapping of (queue, status) to count, whose
        ``capped`` (when present) names the counts that are lower bounds."""
        stats = cls(queues={}, total=StatusCounts())
        for (queue, status), count in sorted(counts.items()):
            stats.queues.setdefault(queue, StatusCounts()).add(status, count)
            stats.total.add(status, count)
        for queue, status in sorted(getattr(counts, "capped", ())):
            stats.capped.setdefault(queue, []).append(status)
        return stats


class ErrorOut(BaseModel):
    """An error response."""

    detail: str
