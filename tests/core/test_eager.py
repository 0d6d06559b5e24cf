"""Eager mode (JobQueue(storage, eager=True)) and the test helpers of dbjobq.testing, on every database."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbjobq import JobQueue, testing
from dbjobq.storage import SQLAlchemyStorage
from tests.core import jobs


@pytest.fixture
def eager(storage: SQLAlchemyStorage) -> JobQueue:
    return JobQueue(storage, eager=True)


async def test_eager_runs_the_job_at_enqueue_and_records_it(eager: JobQueue) -> None:
    job_id = await eager.enqueue(jobs.add, {"a": 2, "b": 3})
    job = await eager.get_job(job_id)
    assert job is not None
    assert (job.status, job.result, job.attempts, job.error) == ("completed", 5, 1, None)
    assert job.started_at is not None and job.finished_at is not None
    assert job.worker_id is not None and job.worker_id.startswith("eager:")
    assert job.lease_token is None
    assert "eager=True" in repr(eager)


async def test_eager_runs_retries_back_to_back(eager: JobQueue, tmp_path: Path) -> None:
    # retry_delay defaults to 1 s: a worker would leave the retry pending for its backoff.
    failing = await eager.enqueue(jobs.fails_with_backoff, {})
    job = await eager.get_job(failing)
    assert job is not None and job.status == "failed" and job.attempts == 2  # max_retries=1: two runs
    assert job.error is not None and job.error.startswith("KeyError: 'x'")

    recovering = await eager.enqueue(jobs.fails_twice, {"counter": str(tmp_path / "count")})
    job = await eager.get_job(recovering)
    assert job is not None and (job.status, job.attempts, job.result) == ("completed", 3, "ok")


async def test_eager_ignores_delays_and_runs_every_job_of_a_batch(eager: JobQueue) -> None:
    later = await eager.enqueue(jobs.add, {"a": 1, "b": 1}, delay=3600)
    ids = await eager.enqueue_many(jobs.add, [{"a": n, "b": 0} for n in range(3)])
    for job_id, expected in zip([later, *ids], [2, 0, 1, 2], strict=True):
        job = await eager.get_job(job_id)
        assert job is not None and job.status == "completed" and job.result == expected


async def test_eager_unregistered_type_fails_as_on_a_worker(eager: JobQueue) -> None:
    job_id = await eager.enqueue("tests.nowhere.missing", {})
    job = await eager.get_job(job_id)
    assert job is not None and job.status == "failed" and job.attempts == 1
    assert job.error is not None and "Unknown job type 'tests.nowhere.missing'" in job.error


async def test_eager_leaves_a_job_of_an_open_transaction_pending(eager: JobQueue, storage: SQLAlchemyStorage) -> None:
    async with storage.engine.begin() as conn:
        job_id = await eager.enqueue(jobs.add, {"a": 1, "b": 2}, connection=conn)
    job = await eager.get_job(job_id)
    assert job is not None and job.status == "pending"  # not visible to another connection before commit
    stats = await testing.run_due_jobs(eager)
    assert stats.completed == 1
    job = await eager.get_job(job_id)
    assert job is not None and job.result == 3


async def test_eager_outcome_of_a_cancelled_run_is_rejected(eager: JobQueue, storage: SQLAlchemyStorage) -> None:
    # A claim lost during the run (the job was cancelled) stops the eager loop; the cancel stands.
    original = storage.record_outcomes

    async def cancel_first(outcomes):  # type: ignore[no-untyped-def]
        for outcome in outcomes:
            await storage.cancel_job(outcome.job_id)
        return await original(outcomes)

    storage.record_outcomes = cancel_first  # type: ignore[method-assign]
    job_id = await eager.enqueue(jobs.add, {"a": 1, "b": 1})
    job = await eager.get_job(job_id)
    assert job is not None and job.status == "cancelled" and job.result is None


async def test_testing_assert_enqueued_finds_the_job(queue: JobQueue) -> None:
    first = await queue.enqueue(jobs.add, {"a": 1, "b": 2})
    second = await queue.enqueue(jobs.add, {"a": 1, "b": 2}, queue="other")
    assert (await testing.assert_enqueued(queue, jobs.add, {"a": 1, "b": 2})).id == second  # the newest
    assert (await testing.assert_enqueued(queue, "tests.core.jobs.add", queue="default")).id == first
    assert (await testing.assert_enqueued(queue, jobs.add, status="pending")).id == second
    assert [j.id for j in await testing.enqueued_jobs(queue, jobs.add)] == [first, second]
    assert await testing.enqueued_jobs(queue, jobs.send_email) == []


async def test_testing_assert_enqueued_says_what_was_enqueued_instead(queue: JobQueue) -> None:
    with pytest.raises(AssertionError, match="no job was enqueued at all"):
        await testing.assert_enqueued(queue, jobs.add)
    await queue.enqueue(jobs.add, {"a": 1, "b": 2})
    with pytest.raises(AssertionError) as wrong_data:
        await testing.assert_enqueued(queue, jobs.add, {"a": 9, "b": 9})
    assert str(wrong_data.value) == (
        "No job of type 'tests.core.jobs.add' with data {'a': 9, 'b': 9} was enqueued; "
        "jobs of that type: {'a': 1, 'b': 2} (pending, queue 'default')"
    )
    with pytest.raises(AssertionError, match=r"enqueued types: tests\.core\.jobs\.add"):
        await testing.assert_enqueued(queue, jobs.send_email)


async def test_testing_run_due_jobs_runs_what_is_due(queue: JobQueue) -> None:
    now = await queue.enqueue(jobs.add, {"a": 1, "b": 1})
    later = await queue.enqueue(jobs.add, {"a": 1, "b": 1}, delay=3600)
    failing = await queue.enqueue(jobs.always_fails, {})
    stats = await testing.run_due_jobs(queue)
    assert (stats.completed, stats.failed) == (1, 1)  # always_fails retries at once (retry_delay=0)
    assert (await testing.assert_enqueued(queue, jobs.add, status="completed")).id == now
    assert (await testing.assert_enqueued(queue, jobs.add, status="pending")).id == later
    assert (await testing.assert_enqueued(queue, jobs.always_fails, status="failed")).id == failing
