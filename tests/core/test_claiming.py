"""Claiming: every job to exactly one claimer, batches, leases and fencing."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import update

from dbjobq import JobQueue, JobStatus
from dbjobq.storage import Outcome, SQLAlchemyStorage
from dbjobq.storage.schema import jobs as jobs_table
from tests.core import jobs


async def test_claiming_twenty_concurrent_dequeuers_never_share_a_job(db_url: str, storage: SQLAlchemyStorage) -> None:
    queue = JobQueue(storage)
    ids = await queue.enqueue_many(jobs.add, [{"a": n, "b": 0} for n in range(300)])
    # Four independent engines (as four processes would have), five dequeuers on each.
    stores = [storage] + [SQLAlchemyStorage(db_url) for _ in range(3)]
    for extra in stores[1:]:
        await extra.initialize()
    got: list[str] = []

    async def dequeuer(store: SQLAlchemyStorage) -> None:
        while (job := await store.dequeue()) is not None:
            got.append(job.id)

    try:
        await asyncio.gather(*(dequeuer(store) for store in stores for _ in range(5)))
    finally:
        for extra in stores[1:]:
            await extra.close()
    assert len(got) == len(set(got)) == 300
    assert set(got) == set(ids)


async def test_claiming_takes_a_batch_in_one_call(storage: SQLAlchemyStorage) -> None:
    queue = JobQueue(storage)
    await queue.enqueue_many(jobs.add, [{"a": n, "b": 0} for n in range(10)])
    batch = await storage.claim_jobs(7, worker_id="w1", lease_timeout=30)
    assert len(batch) == 7 and len({j.lease_token for j in batch}) == 1
    assert all(j.status == "running" and j.attempts == 1 and j.worker_id == "w1" for j in batch)
    assert [j.data["a"] for j in batch] == list(range(7))
    assert len(await storage.claim_jobs(7, worker_id="w2", lease_timeout=30)) == 3

async def test_claiming_returns_each_job_as_stored(storage: SQLAlchemyStorage) -> None:
    # Where a claim cannot return the rows it updated (MySQL/MariaDB), it fills in what it set without
    # reading it back: every field must still be what the database holds.
    queue = JobQueue(storage)
    await queue.enqueue_many(jobs.add, [{"a": n, "b": 0} for n in range(3)], priority=2)
    for claimed in await storage.claim_jobs(3, worker_id="w1", lease_timeout=30):
        assert claimed == await storage.get_job(claimed.id)
        assert claimed.lease_token and claimed.started_at and claimed.lease_expires_at and claimed.priority == 2



async def test_claiming_respects_queues(storage: SQLAlchemyStorage) -> None:
    queue = JobQueue(storage)
    await queue.enqueue(jobs.add, {"a": 1, "b": 1}, queue="a")
    b = await queue.enqueue(jobs.add, {"a": 1, "b": 1}, queue="b")
    [claimed] = await storage.claim_jobs(5, worker_id="w", lease_timeout=30, queues=["b"])
    assert claimed.id == b


async def test_claiming_outcomes_recorded_in_batch(storage: SQLAlchemyStorage) -> None:
    queue = JobQueue(storage)
    await queue.enqueue_many(jobs.add, [{"a": n, "b": 0} for n in range(6)])
    batch = await storage.claim_jobs(6, worker_id="w", lease_timeout=30)
    outcomes = [Outcome(j.id, j.lease_token or "", JobStatus.COMPLETED, result=str(j.data["a"])) for j in batch[:4]]
    outcomes.append(Outcome(batch[4].id, batch[4].lease_token or "", JobStatus.FAILED, error="E: x"))
    outcomes.append(Outcome(batch[5].id, "stale-token", JobStatus.COMPLETED))
    accepted = await storage.record_outcomes(outcomes)
    assert accepted == {j.id for j in batch[:5]}
    assert len(await queue.get_completed_jobs()) == 4
    [failed] = await queue.get_failed_jobs()
    assert failed.error == "E: x"
    [still] = await queue.get_running_jobs()
    assert still.id == batch[5].id


async def test_claiming_expired_lease_is_requeued_and_old_claim_fenced(storage: SQLAlchemyStorage) -> None:
    queue = JobQueue(storage)
    job_id = await queue.enqueue(jobs.add, {"a": 1, "b": 1}, max_retries=1)
    [first] = await storage.claim_jobs(1, worker_id="dead", lease_timeout=30)
    async with storage.engine.begin() as conn:  # the worker died: its lease ran out
        await conn.execute(update(jobs_table).values(lease_expires_at=time.time() - 1))
    assert await storage.recover_expired_leases() == (1, 0)
    job = await queue.get_job(job_id)
    assert job is not None and job.status == "pending" and job.attempts == 1 and "WorkerLost" in (job.error or "")
    [second] = await storage.claim_jobs(1, worker_id="alive", lease_timeout=30)
    assert second.attempts == 2 and second.lease_token != first.lease_token
    late = Outcome(first.id, first.lease_token or "", JobStatus.COMPLETED, result='"late"')
    assert await storage.record_outcomes([late]) == set()
    assert await storage.record_outcomes([Outcome(second.id, second.lease_token or "", JobStatus.COMPLETED)]) == {
        job_id
    }


async def test_claiming_job_that_keeps_killing_workers_fails(storage: SQLAlchemyStorage) -> None:
    queue = JobQueue(storage)
    job_id = await queue.enqueue(jobs.add, {"a": 1, "b": 1}, max_retries=1)
    for _ in range(2):
        await storage.claim_jobs(1, worker_id="dies", lease_timeout=30)
        async with storage.engine.begin() as conn:
            await conn.execute(update(jobs_table).values(lease_expires_at=time.time() - 1))
        await storage.recover_expired_leases()
    job = await queue.get_job(job_id)
    assert job is not None and job.status == "failed" and job.attempts == 2 and "WorkerLost" in (job.error or "")


async def test_claiming_heartbeat_extends_and_release_returns(storage: SQLAlchemyStorage) -> None:
    queue = JobQueue(storage)
    job_id = await queue.enqueue(jobs.add, {"a": 1, "b": 1})
    [claimed] = await storage.claim_jobs(1, worker_id="w", lease_timeout=5)
    assert await storage.extend_leases("w", 600) == {job_id}
    job = await queue.get_job(job_id)
    assert job is not None and job.lease_expires_at is not None
    assert job.lease_expires_at.timestamp() > time.time() + 500
    assert await storage.extend_leases("other", 600) == set()
    assert await storage.release_jobs([(job_id, claimed.lease_token or "")]) == 1
    job = await queue.get_job(job_id)
    assert job is not None and job.status == "pending" and job.attempts == 0 and job.lease_token is None


async def test_outcomes_beyond_driver_parameter_limits_are_recorded(storage: SQLAlchemyStorage) -> None:
    """17,000 claims are 34,000 parameters: more than asyncpg and SQLite accept in one statement."""
    n = 17_000
    await JobQueue(storage).enqueue_many(jobs.noop, [{} for _ in range(n)])
    claimed = await storage.claim_jobs(n, worker_id="w", lease_timeout=300)
    assert len(claimed) == n
    outcomes = [Outcome(j.id, j.lease_token or "", JobStatus.COMPLETED) for j in claimed]
    assert await storage.record_outcomes(outcomes) == {j.id for j in claimed}
    assert await storage.count_jobs() == {("default", "completed"): n}


async def test_claiming_recovery_never_requeues_a_job_without_retries_left(storage: SQLAlchemyStorage) -> None:
    # Between recovery's two statements (fail the expired jobs out of attempts, requeue the rest) a job's
    # attempt may be counted again: its worker took the attempt back while the job waited in its buffer,
    # then started it as the lease ran out. Requeued then, it would run once more than it may.
    queue = JobQueue(storage)
    job_id = await queue.enqueue(jobs.add, {"a": 1, "b": 1}, max_retries=1)
    await storage.claim_jobs(1, worker_id="first", lease_timeout=30)
    async with storage.engine.begin() as conn:  # its first worker died...
        await conn.execute(update(jobs_table).values(lease_expires_at=time.time() - 1))
    assert await storage.recover_expired_leases() == (1, 0)
    [second] = await storage.claim_jobs(1, worker_id="second", lease_timeout=30)  # ...a second one took it,
    assert second.attempts == 2
    async with storage.engine.begin() as conn:  # ...took its attempt back, and its lease ran out
        await conn.execute(update(jobs_table).values(attempts=1, started_at=None, lease_expires_at=time.time() - 1))
    from sqlalchemy import event

    fired: list[str] = []

    def after(conn: Any, _cursor: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        if not fired and statement.lstrip().upper().startswith("UPDATE") and "max_retries" in statement:
            fired.append(statement)  # the first statement (fail those out of attempts) just ran
            conn.exec_driver_sql(f"UPDATE dbjobq_jobs SET attempts = attempts + 1 WHERE id = '{job_id}'")

    event.listen(storage.engine.sync_engine, "after_cursor_execute", after)
    try:
        assert await storage.recover_expired_leases() == (0, 0)  # neither failed yet, nor requeued
    finally:
        event.remove(storage.engine.sync_engine, "after_cursor_execute", after)
    assert fired
    job = await queue.get_job(job_id)
    assert job is not None and (job.status, job.attempts) == ("running", 2)
    assert await storage.recover_expired_leases() == (0, 1)  # the next pass fails it
    job = await queue.get_job(job_id)
    assert job is not None and (job.status, job.attempts) == ("failed", 2) and "no retries left" in (job.error or "")
