"""PostgreSQL's asyncpg hot path for enqueue, claim and outcomes: the behaviour SQLAlchemy gave it is kept."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import event, text
from sqlalchemy.pool import NullPool

from dbjobq import JobQueue, StorageClosedError, StorageError, Worker
from dbjobq.models import JobStatus, Outcome
from dbjobq.storage import SQLAlchemyStorage
from dbjobq.storage.database import wrap_driver_errors
from dbjobq.storage.dialects import postgresql
from dbjobq.storage.sql_claims import transient
from tests.core import jobs
from tests.waiting import listening, wait_until

pytestmark = pytest.mark.databases("postgresql")


async def test_bulk_enqueue_by_copy_wakes_a_listening_worker(db_url: str, queue: JobQueue) -> None:
    async with SQLAlchemyStorage(db_url) as other_storage:
        producer = JobQueue(other_storage)
        async with Worker(queue, poll_interval=60) as worker:  # only a NOTIFY can wake it in time
            await wait_until(lambda: listening(worker))
            await wait_until(lambda: _idle(worker))
            ids = await producer.enqueue_many(jobs.add, [{"a": n, "b": 1} for n in range(50)])

            async def all_done() -> bool:
                return len(await queue.get_completed_jobs()) == 50

            await wait_until(all_done, timeout=10)
    done = {j.id: j.result for j in await queue.get_completed_jobs()}
    assert [done[i] for i in ids] == [n + 1 for n in range(50)]


async def test_bulk_enqueue_keeps_every_field_and_the_order(queue: JobQueue) -> None:
    ids = await queue.enqueue_many(jobs.add, [{"a": n, "b": 0} for n in range(3)], priority=7, queue="q", max_retries=2)
    listed = await queue.list_jobs()
    assert [j.id for j in listed] == ids
    assert {(j.priority, j.queue, j.max_retries, j.status, j.attempts) for j in listed} == {(7, "q", 2, "pending", 0)}
    assert [j.data for j in listed] == [{"a": n, "b": 0} for n in range(3)]


async def test_overlapping_calls_share_the_kept_connection_and_the_pool(queue: JobQueue) -> None:
    ids = await asyncio.gather(*(queue.enqueue(jobs.add, {"a": n, "b": 0}) for n in range(60)))
    batches = await asyncio.gather(
        *(queue.storage.claim_jobs(7, worker_id=f"w{n}", lease_timeout=30) for n in range(10))
    )
    claimed = [job.id for batch in batches for job in batch]
    # SKIP LOCKED lets a claimer racing the others come back short while rows remain (it skipped rows
    # another claimer held at that instant): overlapping claims must never hand out a job twice, and
    # what a round leaves is claimed by the next.
    assert len(claimed) == len(set(claimed)) and 0 < len(claimed) <= 60
    while len(claimed) < 60:
        more = [job.id for job in await queue.storage.claim_jobs(7, worker_id="sweeper", lease_timeout=30)]
        assert more, f"{60 - len(claimed)} due jobs left unclaimed"
        claimed += more
    assert len(claimed) == len(set(claimed)) == 60
    assert set(claimed) == set(ids)


def test_without_a_pool_each_event_loop_gets_its_own_connections(db_url: str) -> None:
    """NullPool (the Django adapter's default): no connection outlives the event loop that opened it."""
    storage = SQLAlchemyStorage(db_url, poolclass=NullPool)
    queue = JobQueue(storage)

    async def first() -> str:
        await storage.initialize()
        return await queue.enqueue(jobs.add, {"a": 1, "b": 2}, queue="nullpool")

    async def second(job_id: str) -> list[str]:
        await queue.enqueue(jobs.add, {"a": 3, "b": 4}, queue="nullpool")
        claimed = await storage.claim_jobs(10, worker_id="w", lease_timeout=30, queues=["nullpool"])
        await storage.close()
        return [j.id for j in claimed]

    job_id = asyncio.run(first())
    claimed = asyncio.run(second(job_id))  # a new event loop: a pooled asyncpg connection would fail here
    assert claimed[0] == job_id and len(claimed) == 2


async def test_lost_connections_are_replaced(db_url: str, queue: JobQueue) -> None:
    await queue.enqueue(jobs.add, {"a": 0, "b": 0})  # opens the hot path's pool
    async with queue.storage.engine.connect() as conn:  # type: ignore[attr-defined]
        killed = (
            await conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        ).scalar_one()
    assert killed >= 1
    outcomes: list[str] = []
    for n in range(3):  # at most the first call sees the dead connection; it fails cleanly
        try:
            await queue.enqueue(jobs.add, {"a": n, "b": 1})
            outcomes.append("ok")
        except StorageError as exc:
            assert "connection" in str(exc).lower()
            outcomes.append("error")
    assert outcomes[1:] == ["ok", "ok"]
    assert len(await queue.get_pending_jobs()) == 1 + outcomes.count("ok")
    assert len(await queue.storage.claim_jobs(10, worker_id="w", lease_timeout=30)) == 1 + outcomes.count("ok")


async def test_enqueue_and_claim_refuse_a_closed_storage(storage: SQLAlchemyStorage) -> None:
    await JobQueue(storage).enqueue(jobs.add, {"a": 1, "b": 1})
    await storage.close()
    with pytest.raises(StorageClosedError):
        await JobQueue(storage).enqueue(jobs.add, {"a": 1, "b": 1})
    with pytest.raises(StorageClosedError):
        await storage.claim_jobs(1, worker_id="w", lease_timeout=30)


async def _idle(worker: Worker) -> bool:
    return not worker._inflight.running and not worker._inflight.buffer


async def test_the_claim_walks_its_index_even_when_the_planner_thinks_the_table_is_empty(queue: JobQueue) -> None:
    """Statistics taken on an empty table (autovacuum off, or not yet run) make the planner sort every
    pending row for the LIMIT; the hot path's connections rule sorts out, so the claim reads the claim
    index in order and stops at the LIMIT, whatever the queue depth."""
    async with queue.storage.engine.connect() as conn:  # type: ignore[attr-defined]
        await conn.execute(text("ANALYZE dbjobq_jobs"))  # empty: the planner now expects no rows
    await queue.enqueue_many(jobs.add, [{"a": n, "b": 0} for n in range(20_000)])  # sorted from ~10,000 on
    fastpath = queue.storage._db.impl.fastpath(queue.storage.engine)  # type: ignore[attr-defined]
    for sql, extra in (
        (postgresql.CLAIM_SQL, []),
        (postgresql.CLAIM_TYPES_SQL, [["tests.core.jobs.add"]]),
        (postgresql.CLAIM_QUEUES_SQL, [["default"]]),
    ):
        async with fastpath._connection() as connection:  # EXPLAIN without ANALYZE changes nothing
            plan = "\n".join(row[0] for row in await connection.fetch("EXPLAIN " + sql, "w", "t", 30.0, 100, *extra))
        assert "ix_dbjobq_jobs_claim" in plan and "Sort" not in plan, plan
    claimed = await queue.storage.claim_jobs(100, worker_id="w", lease_timeout=30)
    assert len(claimed) == 100


async def test_outcomes_are_recorded_by_the_hot_path_fenced_by_each_jobs_own_token(queue: JobQueue) -> None:
    ids = await queue.enqueue_many(jobs.add, [{"a": n, "b": 0} for n in range(3)], max_retries=1)
    claimed = {job.id: job for job in await queue.storage.claim_jobs(3, worker_id="w", lease_timeout=30)}
    done, retried, snoozed = (claimed[i] for i in ids)
    stale_id = await queue.enqueue(jobs.add, {"a": 9, "b": 0})
    stale = await queue.storage.claim_job(stale_id, worker_id="w", lease_timeout=30)
    assert stale is not None and stale.lease_token != done.lease_token  # claimed apart: another claim token
    statements: list[str] = []
    engine = queue.storage.engine.sync_engine  # type: ignore[attr-defined]
    capture = lambda *args: statements.append(args[2])  # noqa: E731 (before_cursor_execute's statement)
    event.listen(engine, "before_cursor_execute", capture)
    try:
        accepted = await queue.storage.record_outcomes(
            [
                Outcome(done.id, done.lease_token or "", JobStatus.COMPLETED, result="42"),
                Outcome(retried.id, retried.lease_token or "", JobStatus.PENDING, error="Boom", retry_in=3600),
                Outcome(snoozed.id, snoozed.lease_token or "", JobStatus.PENDING, retry_in=60, snoozed=True),
                # another claim's token: the pair, not the id alone, must hold the claim
                Outcome(stale.id, done.lease_token or "", JobStatus.COMPLETED, result="1"),
            ]
        )
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert statements == []  # asyncpg's prepared statement, not SQLAlchemy's
    assert accepted == {done.id, retried.id, snoozed.id}
    rows = {job.id: job for job in await queue.list_jobs()}
    assert (rows[done.id].status, rows[done.id].result) == ("completed", 42)
    assert rows[done.id].finished_at is not None
    assert (rows[retried.id].status, rows[retried.id].error, rows[retried.id].attempts) == ("pending", "Boom", 1)
    assert rows[retried.id].execute_at is not None and rows[retried.id].finished_at is None
    assert rows[retried.id].execute_at.timestamp() > time.time() + 3000
    assert (rows[snoozed.id].status, rows[snoozed.id].attempts, rows[snoozed.id].error) == ("pending", 0, None)
    assert rows[stale.id].status == "running"


async def test_outcomes_find_their_rows_through_the_primary_key_whatever_the_statistics(queue: JobQueue) -> None:
    """With statistics of an empty table the planner walked a whole index holding the status (or the
    running rows' index, depending on what ran before); the outcome reaches its rows by primary key."""
    async with queue.storage.engine.connect() as conn:  # type: ignore[attr-defined]
        await conn.execute(text("ANALYZE dbjobq_jobs"))  # empty: the planner now expects no rows
    await queue.enqueue_many(jobs.add, [{"a": n, "b": 0} for n in range(5_000)])
    fastpath = queue.storage._db.impl.fastpath(queue.storage.engine)  # type: ignore[attr-defined]
    async with fastpath._connection() as connection:
        plan = "\n".join(
            row[0]
            for row in await connection.fetch(
                "EXPLAIN " + postgresql.OUTCOME_SQL, ["a", "b"], ["t", "u"], "completed", None, None, 0, None
            )
        )
    assert "Seq Scan" not in plan and "dbjobq_jobs_pkey" in plan, plan


def test_the_hot_paths_lost_connections_and_deadlocks_are_tried_again_bad_values_are_not() -> None:
    import asyncpg

    from dbjobq.storage.dialects import postgresql_fastpath  # its connection errors count once it is loaded

    lost = postgresql_fastpath.CONNECTION_ERRORS

    def wrapped(exc: BaseException) -> StorageError:
        try:
            with wrap_driver_errors(driver_errors=postgresql_fastpath.SERVER_ERRORS, connection_errors=lost):
                raise exc
        except StorageError as error:
            return error
        raise AssertionError("not wrapped")

    assert transient(wrapped(asyncpg.DeadlockDetectedError("deadlock detected")))
    assert transient(wrapped(asyncpg.AdminShutdownError("terminating connection")))
    assert transient(wrapped(asyncpg.ConnectionDoesNotExistError("connection was closed")))
    assert not transient(wrapped(asyncpg.StringDataRightTruncationError("value too long")))
    assert not transient(wrapped(asyncpg.CharacterNotInRepertoireError("invalid byte sequence")))


async def test_purges_of_any_size_prepare_one_delete_statement(queue: JobQueue) -> None:
    """Each IN-list length is a statement of its own, which asyncpg prepares and caches on every
    connection: retention, deleting a different number of rows each pass, filled those caches."""
    statements: set[str] = set()
    engine = queue.storage.engine.sync_engine  # type: ignore[attr-defined]
    capture = lambda *args: statements.add(args[2]) if args[2].lstrip().upper().startswith("DELETE") else None  # noqa: E731
    for count in (3, 7, 12):
        ids = await queue.enqueue_many(jobs.add, [{"a": n, "b": 0} for n in range(count)])
        claimed = await queue.storage.claim_jobs(count, worker_id="w", lease_timeout=30)
        outcomes = [Outcome(job.id, job.lease_token or "", JobStatus.COMPLETED) for job in claimed]
        assert await queue.storage.record_outcomes(outcomes) == set(ids)
        event.listen(engine, "before_cursor_execute", capture)
        try:
            assert await queue.storage.purge(0, batch_size=5) == count
        finally:
            event.remove(engine, "before_cursor_execute", capture)
    assert len(statements) == 1, statements
