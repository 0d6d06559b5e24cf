"""Running jobs by hand: dequeue + execute_job, retries, errors, unknown types, threads, timeouts."""

from __future__ import annotations

import sys
import threading

import pytest

from dbjobq import JobQueue, JobStatus
from dbjobq.execution import retry_delay
from tests.core import jobs


async def run_next(queue: JobQueue) -> None:
    job = await queue.dequeue()
    assert job is not None
    await queue.execute_job(job)


async def test_execution_completes_and_stores_result(queue: JobQueue) -> None:
    job_id = await queue.enqueue(jobs.add, {"a": 2, "b": 3})
    claimed = await queue.dequeue()
    assert claimed is not None and claimed.status == "running" and claimed.attempts == 1
    await queue.execute_job(claimed)
    job = await queue.get_job(job_id)
    assert job is not None
    assert (job.status, job.result, job.attempts, job.error) == ("completed", 5, 1, None)
    assert job.started_at is not None and job.finished_at is not None and job.finished_at >= job.started_at


async def test_execution_max_retries_n_means_n_plus_one_attempts(queue: JobQueue) -> None:
    job_id = await queue.enqueue(jobs.always_fails, {"n": 7})  # max_retries=2, retry_delay=0
    for expected_attempts in (1, 2):
        await run_next(queue)
        job = await queue.get_job(job_id)
        assert job is not None and job.status == "pending" and job.attempts == expected_attempts
    await run_next(queue)
    job = await queue.get_job(job_id)
    assert job is not None and job.status == "failed" and job.attempts == 3
    assert job.error is not None
    assert job.error.startswith("RuntimeError: boom 7")
    assert "Traceback (most recent call last)" in job.error and "always_fails" in job.error
    assert await queue.dequeue() is None
    assert [j.id for j in await queue.get_failed_jobs()] == [job_id]


async def test_execution_succeeds_after_retries(queue: JobQueue, tmp_path) -> None:
    job_id = await queue.enqueue(jobs.fails_twice, {"counter": str(tmp_path / "count")})
    for _ in range(3):
        await run_next(queue)
    job = await queue.get_job(job_id)
    assert job is not None and job.status == "completed" and job.attempts == 3 and job.result == "ok"


async def test_execution_retry_waits_with_backoff(queue: JobQueue) -> None:
    job_id = await queue.enqueue(jobs.fails_with_backoff, {})  # retry_delay defaults to 1 s
    await run_next(queue)
    job = await queue.get_job(job_id)
    assert job is not None and job.status == "pending" and job.execute_at is not None
    assert job.updated_at is not None
    assert 0.45 <= (job.execute_at - job.updated_at).total_seconds() <= 1.05
    assert job.error is not None and job.error.startswith("KeyError")
    assert await queue.dequeue() is None  # the retry is not due yet


def test_execution_backoff_is_exponential_capped_and_jittered() -> None:
    for attempt, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (10, 300.0), (50, 300.0)):
        delays = [retry_delay(attempt, 1.0, 300.0) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1
    assert retry_delay(3, 0.0, 300.0) == 0.0


async def test_execution_unknown_type_fails_with_registration_hint(queue: JobQueue) -> None:
    job_id = await queue.enqueue("myapp.jobs.not_there", {}, max_retries=3)
    await run_next(queue)
    job = await queue.get_job(job_id)
    assert job is not None and job.status == "failed" and job.attempts == 1
    assert job.error is not None and "@job()" in job.error and "--import" in job.error


async def test_execution_never_calls_an_unregistered_function(queue: JobQueue, tmp_path) -> None:
    marker = tmp_path / "pwned"
    job_id = await queue.enqueue("os.system", {"cmd": f"touch {marker}"})
    await run_next(queue)
    job = await queue.get_job(job_id)
    assert job is not None and job.status == "failed" and "Unknown job type 'os.system'" in (job.error or "")
    assert not marker.exists()


async def test_execution_runs_sync_jobs_in_a_thread(queue: JobQueue) -> None:
    job_id = await queue.enqueue(jobs.record_thread, {"key": "sync"})
    await run_next(queue)
    job = await queue.get_job(job_id)
    assert job is not None and job.status == "completed"
    assert jobs.THREADS["sync"] != threading.current_thread().name


async def test_execution_timeout_counts_as_failed_attempt(queue: JobQueue) -> None:
    job_id = await queue.enqueue(jobs.too_slow, {})
    await run_next(queue)
    job = await queue.get_job(job_id)
    assert job is not None and job.status == "failed" and job.attempts == 1
    assert (job.error or "").startswith("JobTimeoutError: Job exceeded its timeout of 0.2s")


async def test_execution_unserializable_result_is_dropped_not_fatal(queue: JobQueue) -> None:
    job_id = await queue.enqueue(jobs.returns_object, {})
    await run_next(queue)
    job = await queue.get_job(job_id)
    assert job is not None and job.status == "completed" and job.result is None


async def test_execution_requires_a_claimed_job(queue: JobQueue) -> None:
    job_id = await queue.enqueue(jobs.add, {"a": 1, "b": 1})
    job = await queue.get_job(job_id)
    assert job is not None
    with pytest.raises(ValueError, match="dequeue"):
        await queue.execute_job(job)


async def test_execution_never_imports_the_module_named_by_the_type(queue: JobQueue, tmp_path, monkeypatch) -> None:
    # Job types are data (issue 13): the module a type names is not imported, even if it would register it.
    (tmp_path / "lazy_jobs_mod.py").write_text(
        "from dbjobq import job\n@job()\ndef hello(data):\n    return 'hi ' + data['name']\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    job_id = await queue.enqueue("lazy_jobs_mod.hello", {"name": "db"})
    await run_next(queue)
    job = await queue.get_job(job_id)
    assert job is not None and job.status == "failed" and "Unknown job type 'lazy_jobs_mod.hello'" in (job.error or "")
    assert "lazy_jobs_mod" not in sys.modules


async def test_execution_job_status_after_run_is_a_status(queue: JobQueue) -> None:
    await queue.enqueue(jobs.add, {"a": 1, "b": 1})
    await run_next(queue)
    [job] = await queue.get_completed_jobs()
    assert job.status is JobStatus.COMPLETED
