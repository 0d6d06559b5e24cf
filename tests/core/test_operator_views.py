"""JobQueue's operator views (the dashboard's reads and bulk changes) on every database."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select, text, update

from dbjobq import JobNotFoundError, JobQueue, JobStatus, Schedule, ScheduleNotFoundError
from dbjobq.storage import SQLAlchemyStorage
from dbjobq.storage.schema import QUEUE_STATUS_INDEX, SCHEMA_VERSION, meta
from dbjobq.storage.schema import jobs as jobs_table


async def _set(storage: SQLAlchemyStorage, ids: list[str], **values: object) -> None:
    async with storage.engine.begin() as conn:
        await conn.execute(update(jobs_table).where(jobs_table.c.id.in_(ids)).values(**values))


async def test_operator_views_queue_stats_count_by_queue_and_status(queue: JobQueue) -> None:
    storage = queue.storage
    assert isinstance(storage, SQLAlchemyStorage)
    emails = await queue.enqueue_many("x.send", [{"n": n} for n in range(5)], queue="emails")
    await queue.enqueue_many("x.report", [{"n": n} for n in range(2)], queue="reports", delay=3600)
    now = time.time()
    await _set(storage, emails[:3], status="completed", finished_at=now)
    await _set(storage, emails[3:4], status="failed", finished_at=now, error="boom")
    await _set(storage, emails[4:], execute_at=now - 120)

    stats = {s.name: s for s in await queue.queue_stats(count_cap=2)}

    assert sorted(stats) == ["emails", "reports"]
    assert stats["emails"].counts == {
        "pending": 1, "running": 0, "completed": 2, "failed": 1, "cancelled": 0, "waiting": 0
    }
    assert stats["emails"].capped == {"completed"}  # 3 completed, counted up to the cap of 2
    assert stats["emails"].oldest_due_at == pytest.approx(now - 120, abs=1)
    assert stats["reports"].counts["pending"] == 2
    assert stats["reports"].oldest_due_at is None  # pending, but not due yet


async def test_operator_views_queue_stats_of_an_empty_table(queue: JobQueue) -> None:
    assert await queue.queue_stats() == []


async def test_operator_views_queue_stats_count_jobs_claimed_ahead(queue: JobQueue, storage: SQLAlchemyStorage) -> None:
    # 23 queues: two statements' worth (20 queues each), so every figure must land in its own queue's row.
    names = [f"q{i:02}" for i in range(23)]
    for name in names:
        await queue.enqueue_many("x.y", [{}] * 2, queue=name)
    claimed = await storage.claim_jobs(100, worker_id="w", lease_timeout=60)
    assert len(claimed) == 46
    now = time.time()
    for name in names:  # one pending due job per queue, behind the claimed ones
        await queue.enqueue("x.y", queue=name, run_at=now - 60)
    buffered = [j for j in claimed if j.queue in ("q01", "q21")][:3]  # q01's two and one of q21's
    assert {j.queue for j in buffered} == {"q01", "q21"}
    claims = [(j.id, j.lease_token or "") for j in buffered]

    assert await storage.mark_unstarted(claims) == {j.id for j in buffered}
    stats = {s.name: s for s in await queue.queue_stats()}
    expected = {name: sum(1 for j in buffered if j.queue == name) for name in names}
    assert {name: s.claimed for name, s in stats.items()} == expected
    assert {s.counts["running"] for s in stats.values()} == {2}  # claimed ahead: counted in running too
    assert {s.counts["pending"] for s in stats.values()} == {1}
    assert all(s.oldest_due_at == pytest.approx(now - 60, abs=5) for s in stats.values())

    assert await storage.mark_started(claims) == {j.id for j in buffered}
    stats = {s.name: s for s in await queue.queue_stats()}
    assert {s.claimed for s in stats.values()} == {0}
    assert {s.counts["running"] for s in stats.values()} == {2}


async def test_operator_views_job_counts_are_bounded_and_say_so(queue: JobQueue) -> None:
    storage = queue.storage
    assert isinstance(storage, SQLAlchemyStorage)
    emails = await queue.enqueue_many("x.send", [{"n": n} for n in range(6)], queue="emails")
    await queue.enqueue("x.report", queue="reports")
    await _set(storage, emails[:3], status="completed", finished_at=time.time())
    await _set(storage, emails[3:4], status="running")

    counts = await queue.job_counts(count_cap=2)
    # Statuses without jobs are left out; pending and running are exact, a finished status stops at the cap.
    assert counts == {("emails", "completed"): 2, ("emails", "running"): 1, ("emails", "pending"): 2,
                      ("reports", "pending"): 1}  # fmt: skip
    assert counts.capped == {("emails", "completed")} and counts.approximate
    exact = await queue.job_counts(count_cap=None)
    assert exact == {**counts, ("emails", "completed"): 3} and not exact.approximate
    default = await queue.job_counts()
    assert default == exact and not default.capped
    assert await queue.job_counts(count_cap=3) == exact and not (await queue.job_counts(count_cap=3)).capped


async def test_operator_views_page_jobs_newest_first_by_key(queue: JobQueue) -> None:
    ids = await queue.enqueue_many("x.y", [{"n": n, "blob": "x" * 1000} for n in range(7)])
    other = await queue.enqueue("x.other", {"n": 99}, queue="other")
    newest_first = [other, *reversed(ids)]

    first = await queue.page_jobs(limit=3)
    assert [j.id for j in first] == newest_first[:3]
    assert first[0].data == {} and first[0].result is None  # summaries: payloads not loaded
    second = await queue.page_jobs(before=first[-1].id, limit=3)
    assert [j.id for j in second] == newest_first[3:6]
    back = await queue.page_jobs(after=second[0].id, limit=3)
    assert [j.id for j in back] == newest_first[:3]

    assert [j.id for j in await queue.page_jobs(queue="default", limit=2)] == newest_first[1:3]
    assert [j.id for j in await queue.page_jobs(job_type="x.other")] == [other]
    assert await queue.page_jobs("running") == []
    with pytest.raises(ValueError, match="Unknown job status"):
        await queue.page_jobs("nope")


async def test_operator_views_page_jobs_cuts_the_error(queue: JobQueue) -> None:
    storage = queue.storage
    assert isinstance(storage, SQLAlchemyStorage)
    job_id = await queue.enqueue("x.y")
    await _set(storage, [job_id], status="failed", error="E" * 5000, finished_at=time.time())
    [summary] = await queue.page_jobs("failed")
    assert summary.error is not None and 0 < len(summary.error) <= 300
    job = await queue.get_job(job_id)
    assert job is not None and job.error == "E" * 5000


async def test_operator_views_count_jobs_by_filter(queue: JobQueue) -> None:
    await queue.enqueue_many("x.a", [{}] * 3, queue="q1")
    await queue.enqueue_many("x.b", [{}] * 2, queue="q2")
    assert await queue.count_jobs() == 5
    assert await queue.count_jobs("pending", queue="q1") == 3
    assert await queue.count_jobs(job_type="x.b") == 2
    assert await queue.count_jobs(JobStatus.FAILED) == 0


async def test_operator_views_throughput_per_minute(queue: JobQueue) -> None:
    storage = queue.storage
    assert isinstance(storage, SQLAlchemyStorage)
    now = 1_800_000_030.0  # 30 s into a minute
    ids = await queue.enqueue_many("x.y", [{}] * 6)
    await _set(storage, ids[:3], status="completed", finished_at=now - 5)
    await _set(storage, ids[3:4], status="failed", finished_at=now - 70)
    await _set(storage, ids[4:5], status="completed", finished_at=now - 4000)  # outside the hour
    await _set(storage, ids[5:], status="cancelled", finished_at=now - 5)  # not counted

    points = await queue.throughput(60, now=now)

    assert len(points) == 60
    assert points[-1] == (now - 30, 3, 0)
    assert points[-2] == (now - 90, 0, 1)
    assert sum(c for _, c, _ in points) == 3 and sum(f for _, _, f in points) == 1


async def test_operator_views_delete_only_finished_jobs(queue: JobQueue) -> None:
    storage = queue.storage
    assert isinstance(storage, SQLAlchemyStorage)
    pending, done = await queue.enqueue_many("x.y", [{}, {}])
    await _set(storage, [done], status="completed", finished_at=time.time())
    assert await queue.delete_job(pending) is False
    assert await queue.delete_job(done) is True
    assert await queue.get_job(done) is None
    with pytest.raises(JobNotFoundError):
        await queue.delete_job(done)


async def test_operator_views_retry_failed_jobs_by_filter(queue: JobQueue) -> None:
    storage = queue.storage
    assert isinstance(storage, SQLAlchemyStorage)
    a = await queue.enqueue_many("x.a", [{}] * 3, queue="q1")
    b = await queue.enqueue_many("x.b", [{}] * 2, queue="q2")
    await _set(storage, a + b, status="failed", attempts=2, finished_at=time.time(), error="boom")

    assert await queue.count_jobs("failed", queue="q1") == 3
    assert await queue.retry_failed_jobs(queue="q1") == 3
    assert await queue.count_jobs("pending") == 3
    assert await storage.retry_failed(job_type="x.b", batch_size=1) == 2  # several batches
    retried = await queue.get_job(b[0])
    assert retried is not None and retried.status == "pending" and retried.attempts == 0
    assert await queue.retry_failed_jobs() == 0


async def test_operator_views_workers(queue: JobQueue) -> None:
    await queue.storage.register_worker("w-1", queues=["a", "b"], concurrency=4)
    await queue.storage.register_worker("w-2", queues=None, concurrency=1)
    workers = {w.id: w for w in await queue.list_workers()}
    assert workers["w-1"].queues == ["a", "b"] and workers["w-1"].concurrency == 4
    assert workers["w-2"].queues is None and workers["w-2"].pid > 0
    assert workers["w-1"].last_heartbeat == pytest.approx(time.time(), abs=60)


async def test_operator_views_schedule_management(queue: JobQueue) -> None:
    schedule = Schedule("nightly", "x.report", {"k": 1}, "interval", "3600", time.time() + 3600, queue="reports")
    await queue.storage.create_schedule(schedule)

    assert (await queue.set_schedule_enabled("nightly", False)).enabled is False
    assert (await queue.get_schedule("nightly")).enabled is False  # type: ignore[union-attr]
    job_id = await queue.run_schedule_now("nightly")
    job = await queue.get_job(job_id)
    assert job is not None and job.type == "x.report" and job.queue == "reports" and job.data == {"k": 1}
    assert [s.id for s in await queue.list_schedules()] == ["nightly"]
    assert await queue.delete_schedule("nightly") is True
    with pytest.raises(ScheduleNotFoundError):
        await queue.run_schedule_now("nightly")


async def test_operator_views_schema_1_gains_the_queue_index(storage: SQLAlchemyStorage) -> None:
    # A database made by schema version 1: no (queue, status) index, version row "1".
    async with storage.engine.begin() as conn:
        await conn.run_sync(QUEUE_STATUS_INDEX.drop)
        await conn.execute(update(meta).where(meta.c.key == "schema_version").values(value="1"))
    again = SQLAlchemyStorage(storage.url)
    await again.initialize()
    try:
        async with again.engine.connect() as conn:
            version = (await conn.execute(select(meta.c.value).where(meta.c.key == "schema_version"))).scalar()
            names = await conn.run_sync(
                lambda c: {ix["name"] for ix in __import__("sqlalchemy").inspect(c).get_indexes("dbjobq_jobs")}
            )
        assert version == str(SCHEMA_VERSION)
        assert "ix_dbjobq_jobs_queue_status" in names
    finally:
        await again.close()


@pytest.mark.databases("postgresql")
async def test_operator_views_queue_stats_read_no_table_rows(storage: SQLAlchemyStorage) -> None:
    # The plan of the per-queue counts: index scans only, never a scan of the table itself.
    queue = JobQueue(storage)
    await queue.enqueue_many("x.y", [{}] * 50, queue="a")
    statements: list[str] = []
    from sqlalchemy import event

    def capture(_c: object, _cur: object, statement: str, params: object, _ctx: object, _m: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            statements.append((statement, params))  # type: ignore[arg-type]

    event.listen(storage.engine.sync_engine, "before_cursor_execute", capture)
    try:
        await queue.queue_stats()
    finally:
        event.remove(storage.engine.sync_engine, "before_cursor_execute", capture)
    async with storage.engine.connect() as conn:
        await conn.execute(text("SET enable_seqscan = off"))  # as on a big table, where the planner avoids it
        for statement, params in statements:
            plan = "\n".join(
                r[0] for r in (await conn.exec_driver_sql("EXPLAIN " + statement, params)).all()  # type: ignore[arg-type]
            )
            assert "Seq Scan" not in plan, plan


@pytest.mark.databases("postgresql", "sqlite")
async def test_operator_views_finished_jobs_are_read_through_the_finished_index(storage: SQLAlchemyStorage) -> None:
    # Schema version 7: the (status, finished_at) index holds finished rows only. Every read of finished
    # jobs by status still reaches them through it (its condition implied), never by scanning the table.
    queue = JobQueue(storage)
    ids = await queue.enqueue_many("x.y", [{}] * 60)
    now = time.time()
    await _set(storage, ids[:40], status="completed", finished_at=now - 30)
    await _set(storage, ids[40:50], status="failed", finished_at=now - 30, error="boom")
    statements: list[tuple[str, object]] = []
    from sqlalchemy import event

    def capture(_c: object, _cur: object, statement: str, params: object, _ctx: object, _m: bool) -> None:
        if "dbjobq_jobs" in statement and statement.lstrip().upper().startswith("SELECT"):  # DELETEs go by id
            statements.append((statement, params))

    event.listen(storage.engine.sync_engine, "before_cursor_execute", capture)
    try:
        assert await queue.count_jobs("failed") == 10
        assert await queue.count_jobs(["completed", "failed"]) == 50
        assert await queue.count_finished(within=3600) == 50
        assert sum(c + f for _, c, f in await queue.throughput(minutes=3)) == 50
        assert len(await queue.page_jobs("failed")) == 10
        assert await queue.purge(older_than=10, dry_run=True) == 50
    finally:
        event.remove(storage.engine.sync_engine, "before_cursor_execute", capture)
    assert len(statements) == 6
    # On a table this small the planner may as well read the (queue, status, …) index, or walk the primary
    # key for a page ordered by id; without them (in a transaction rolled back), the finished index must be
    # usable, or only a scan of the table is left.
    async with storage.engine.connect() as conn, conn.begin() as transaction:
        await conn.execute(text(f"DROP INDEX {QUEUE_STATUS_INDEX.name}"))
        if storage.dialect == "postgresql":
            await conn.execute(text("ALTER TABLE dbjobq_jobs DROP CONSTRAINT dbjobq_jobs_pkey"))
            await conn.execute(text("ANALYZE dbjobq_jobs"))  # statistics as autovacuum keeps them
            await conn.execute(text("SET LOCAL enable_seqscan = off"))  # as on a big table
        explain = "EXPLAIN " if storage.dialect == "postgresql" else "EXPLAIN QUERY PLAN "
        for statement, params in statements:
            rows = (await conn.exec_driver_sql(explain + statement, params)).all()  # type: ignore[arg-type]
            plan = "\n".join(str(row[-1]) for row in rows)
            assert "ix_dbjobq_jobs_status_finished" in plan, f"{statement}\n{plan}"
        await transaction.rollback()
    assert await queue.purge(older_than=10) == 50  # its batches select as the dry run counts
    assert await queue.count_jobs("pending") == 10  # the rest untouched
