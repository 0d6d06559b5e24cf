from __future__ import annotations

import dbjobq
import dbjobq.storage
import dbjobq.testing


def test_public_api_exports_are_pinned() -> None:
    assert dbjobq.__all__ == sorted(dbjobq.__all__)
    assert set(dbjobq.__all__) == {
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
    }
    assert dbjobq.storage.__all__ == ["BaseStorage", "NewJob", "Outcome", "SQLAlchemyStorage"]
    assert dbjobq.testing.__all__ == ["assert_enqueued", "enqueued_jobs", "run_due_jobs"]


def test_public_api_imports_the_seed_documentation_shows() -> None:
    from dbjobq import JobQueue, Worker, job  # noqa: F401
    from dbjobq.models import Job, Schedule  # noqa: F401
    from dbjobq.storage import BaseStorage, SQLAlchemyStorage  # noqa: F401


def test_public_api_status_compares_equal_to_strings() -> None:
    assert dbjobq.JobStatus.PENDING == "pending"
    assert "completed" == dbjobq.JobStatus.COMPLETED  # noqa: SIM300 (the reflected comparison is the point)
    assert str(dbjobq.JobStatus.FAILED) == "failed"


def test_public_api_errors_share_one_base() -> None:
    for name in dbjobq.__all__:
        obj = getattr(dbjobq, name)
        if isinstance(obj, type) and issubclass(obj, Exception) and name.endswith("Error"):
            assert issubclass(obj, dbjobq.DBJobQError) or obj is dbjobq.JobTimeoutError
