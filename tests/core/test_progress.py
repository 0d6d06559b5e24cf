"""dbjobq.current_job() and job progress: stored in meta, throttled, kept across retries, on every database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import dbjobq
from dbjobq import JobQueue, Worker
from dbjobq.storage import SQLAlchemyStorage
from tests.core import jobs
from tests.waiting import wait_until


def _count_writes(storage: SQLAlchemyStorage, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    writes: list[dict[str, Any]] = []
    real = storage.set_job_meta

    async def counted(job_id: str, token: str, meta: dict[str, Any]) -> bool:
        writes.append(meta)
        return await real(job_id, token, meta)

    monkeypatch.setattr(storage, "set_job_meta", counted)
    return writes


async def test_progress_is_visible_while_running_and_throttled(
    queue: JobQueue, storage: SQLAlchemyStorage, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    writes = _count_writes(storage, monkeypatch)
    release = tmp_path / "release"
    job_id = await queue.enqueue(jobs.reports_progress, {"release": str(release)})
    async with Worker(queue, poll_interval=0.05):

        async def reported() -> dict[str, Any] | None:
            job = await queue.get_job(job_id)
            return job.progress if job is not None and job.status == "running" else None

        progress = await wait_until(reported)
        assert (progress["fraction"], progress["message"]) == (0.5, "attempt 1")
        assert len(writes) <= 2, "2,001 reports in a tight loop cost at most a couple of writes"
        release.touch()
        await wait_until(lambda: _status_is(queue, job_id, "completed"))
    job = await queue.get_job(job_id)
    assert job is not None and job.progress is not None and job.progress["message"] == "attempt 1"
    assert job.result == f"{job_id}:1"


async def test_progress_is_kept_across_retries(queue: JobQueue) -> None:
    job_id = await queue.enqueue(jobs.reports_progress, {"fail_first": True, "steps": 3})
    async with Worker(queue, poll_interval=0.05):
        await wait_until(lambda: _status_is(queue, job_id, "completed"))
    job = await queue.get_job(job_id)
    assert job is not None and job.attempts == 2
    assert job.progress is not None and job.progress["message"] == "attempt 2"


async def test_progress_from_a_sync_job_thread(
    queue: JobQueue, storage: SQLAlchemyStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes = _count_writes(storage, monkeypatch)
    job_id = await queue.enqueue(jobs.reports_progress_sync, {})
    async with Worker(queue, poll_interval=0.05):
        await wait_until(lambda: _status_is(queue, job_id, "completed"))
    job = await queue.get_job(job_id)
    assert job is not None and job.progress is not None
    assert (job.progress["fraction"], job.progress["message"]) == (1.0, "sync")  # the last report is written
    assert 1 <= len(writes) <= 4


async def test_progress_in_eager_mode_and_execute_job(storage: SQLAlchemyStorage) -> None:
    eager = JobQueue(storage, eager=True)
    job_id = await eager.enqueue(jobs.reports_progress, {"steps": 3})
    job = await eager.get_job(job_id)
    assert job is not None and job.status == "completed" and job.progress is not None
    by_hand = JobQueue(storage)
    await by_hand.enqueue(jobs.reports_progress_sync, {})
    claimed = await by_hand.dequeue()
    assert claimed is not None
    await by_hand.execute_job(claimed)
    done = await by_hand.get_job(claimed.id)
    assert done is not None and done.progress is not None and done.progress["fraction"] == 1.0


async def test_progress_current_job_outside_a_job_and_bad_values() -> None:
    with pytest.raises(RuntimeError, match="only available inside a job"):
        dbjobq.current_job()
    from dbjobq.models import Job, JobStatus
    from dbjobq.progress import CurrentJob

    current = CurrentJob(Job("id", "t", {}, JobStatus.RUNNING, attempts=1), write=None)
    for bad in (1.5, -0.1, True, "half"):
        with pytest.raises(ValueError, match=r"from 0\.0 to 1\.0"):
            current.set_progress(bad)  # type: ignore[arg-type]
    current.set_progress(0.25, "quarter")
    assert current.progress is not None and current.progress["message"] == "quarter"
    assert (current.id, current.attempt) == ("id", 1)


async def _status_is(queue: JobQueue, job_id: str, status: str) -> bool:
    job = await queue.get_job(job_id)
    return job is not None and job.status == status
