"""DBJobQ: an async, database-backed job queue. Your database is the queue."""

from __future__ import annotations

from .errors import (
    ConfigurationError,
    DBJobQError,
    InvalidJobStateError,
    JobNotFoundError,
    JobNotRegisteredError,
    PayloadTooLargeError,
    ScheduleExistsError,
    ScheduleNotFoundError,
    StorageClosedError,
    StorageError,
    StorageNotInitializedError,
)
from .execution import JobTimeoutError, RunResult
from .flow import Snooze
from .models import EnqueuedIds, Job, JobStatus, Schedule, ScheduleType
from .progress import CurrentJob, current_job
from .queue import JobQueue
from .registry import job
from .worker import Worker, WorkerStats

__version__ = "0.2.0"

__all__ = [
    "ConfigurationError",
    "CurrentJob",
    "DBJobQError",
    "EnqueuedIds",
    "InvalidJobStateError",
    "Job",
    "JobNotFoundError",
    "JobNotRegisteredError",
    "JobQueue",
    "JobStatus",
    "JobTimeoutError",
    "PayloadTooLargeError",
    "RunResult",
    "Schedule",
    "ScheduleExistsError",
    "ScheduleNotFoundError",
    "ScheduleType",
    "Snooze",
    "StorageClosedError",
    "StorageError",
    "StorageNotInitializedError",
    "Worker",
    "WorkerStats",
    "__version__",
    "current_job",
    "job",
]
