"""Enqueueing: defaults, overrides, validation, delays, bulk and transactional enqueue."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from dbjobq import JobNotRegisteredError, JobQueue, JobStatus
from dbjobq.models import NewJob
from dbjobq.registry import job_name
from dbjobq.storage import SQLAlchemyStorage
from dbjobq.storage.dialects import impl_for
from dbjobq.storage.dialects.default import without_null_columns
from dbjobq.storage.schema import jobs as jobs_table
from tests.core import jobs


async def test_enqueue_applies_decorator_defaults(queue: JobQueue) -> None:
    job_id = await queue.enqueue(jobs.send_email, {"to": "a@example.com"})
    job = await queue.get_job(job_id)
    assert job is not None
    assert (job.type, job.queue, job.priority, job.max_retries) == ("tests.core.jobs.send_email", "mail", 5, 2)
    assert job.status == "pending" and job.attempts == 0 and job.data == {"to": "a@example.com"}
    assert job.created_at is not None and job.created_at.tzinfo is timezone.utc


async def test_enqueue_overrides_decorator_defaults(queue: JobQueue) -> None:
    job_id = await queue.enqueue(jobs.send_email, {}, priority=-1, max_retries=0, queue="other")
    job = await queue.get_job(job_id)
    assert job is not None and (job.priority, job.max_retries, job.queue) == (-1, 0, "other")


async def test_enqueue_by_name_of_unregistered_type(queue: JobQueue) -> None:
    job_id = await queue.enqueue("elsewhere.defined", None)
    job = await queue.get_job(job_id)
    assert job is not None and job.type == "elsewhere.defined" and job.data == {}


async def test_enqueue_rejects_a_function_that_is_not_a_job(queue: JobQueue) -> None:
    def plain(data: dict) -> None: ...

    with pytest.raises(JobNotRegisteredError, match="@job"):
        await queue.enqueue(plain, {})


@pytest.mark.parametrize(
    "data", [{"when": datetime.now()}, {"obj": object()}, {"nan": float("nan")}, [1, 2], "not json", 42]
)
async def test_enqueue_non_json_data_raises_type_error_and_writes_nothing(queue: JobQueue, data: object) -> None:
    with pytest.raises(TypeError):
        await queue.enqueue(jobs.add, data)  # type: ignore[arg-type]
    assert await queue.list_jobs() == []


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"delay": -1}, ValueError),
        ({"delay": float("inf")}, ValueError),
        ({"delay": 1, "run_at": time.time()}, ValueError),
        ({"max_retries": -1}, ValueError),
        ({"queue": ""}, ValueError),
        ({"priority": "high"}, TypeError),
    ],
)
async def test_enqueue_bad_options_write_nothing(queue: JobQueue, kwargs: dict, error: type) -> None:
    with pytest.raises(error):
        await queue.enqueue(jobs.add, {"a": 1, "b": 2}, **kwargs)
    assert await queue.list_jobs() == []


async def test_enqueue_unknown_status_filter_is_rejected(queue: JobQueue) -> None:
    with pytest.raises(ValueError, match="Unknown job status 'done'"):
        await queue.list_jobs(status="done")


async def test_enqueue_delayed_job_is_not_due(queue: JobQueue) -> None:
    delayed = await queue.enqueue(jobs.add, {"a": 1, "b": 1}, delay=3600)
    later = await queue.enqueue(jobs.add, {"a": 1, "b": 1}, run_at=datetime.now() + timedelta(hours=1))
    assert await queue.dequeue() is None
    due = await queue.enqueue(jobs.add, {"a": 1, "b": 1}, delay=timedelta(0))
    claimed = await queue.dequeue()
    assert claimed is not None and claimed.id == due
    pending = {j.id for j in await queue.get_pending_jobs()}
    assert pending == {delayed, later}


async def test_enqueue_past_run_at_is_due(queue: JobQueue) -> None:
    job_id = await queue.enqueue(jobs.add, {"a": 1, "b": 1}, run_at=datetime.now(timezone.utc) - timedelta(days=1))
    claimed = await queue.dequeue()
    assert claimed is not None and claimed.id == job_id


async def test_enqueue_priority_order_then_due_time_then_id(queue: JobQueue) -> None:
    low = await queue.enqueue(jobs.add, {"a": 0, "b": 0}, priority=0)
    high = await queue.enqueue(jobs.add, {"a": 0, "b": 0}, priority=10)
    mid_old = await queue.enqueue(jobs.add, {"a": 0, "b": 0}, priority=5, run_at=time.time() - 60)
    mid_new = await queue.enqueue(jobs.add, {"a": 0, "b": 0}, priority=5)
    order = []
    while (job := await queue.dequeue()) is not None:
        order.append(job.id)
    assert order == [high, mid_old, mid_new, low]


async def test_enqueue_many_inserts_in_bulk(queue: JobQueue) -> None:
    ids = await queue.enqueue_many(jobs.add, ({"a": n, "b": 1} for n in range(2500)), queue="bulk")
    assert len(ids) == len(set(ids)) == 2500
    listed = await queue.list_jobs(queue="bulk", limit=5000)
    assert [j.id for j in listed] == ids
    assert [j.data["a"] for j in listed[:3]] == [0, 1, 2]


async def test_enqueue_many_validates_everything_first(queue: JobQueue) -> None:
    with pytest.raises(TypeError):
        await queue.enqueue_many(jobs.add, [{"a": 1, "b": 2}, {"bad": object()}])
    assert await queue.list_jobs() == []


async def test_enqueue_in_callers_transaction_rolls_back_with_it(storage: SQLAlchemyStorage) -> None:
    queue = JobQueue(storage)
    async with storage.engine.connect() as conn:
        trans = await conn.begin()
        job_id = await queue.enqueue(jobs.add, {"a": 1, "b": 2}, connection=conn)
        await trans.rollback()
    assert await queue.get_job(job_id) is None
    assert await queue.list_jobs() == []


async def test_enqueue_in_callers_transaction_commits_with_it(storage: SQLAlchemyStorage) -> None:
    queue = JobQueue(storage)
    async with storage.engine.begin() as conn:
        job_id = await queue.enqueue(jobs.add, {"a": 1, "b": 2}, connection=conn)
    assert (await queue.get_job(job_id)) is not None


async def test_enqueue_in_callers_session(storage: SQLAlchemyStorage) -> None:
    queue = JobQueue(storage)
    async with AsyncSession(storage.engine) as session:
        kept = await queue.enqueue(jobs.add, {"a": 1, "b": 2}, connection=session)
        await session.commit()
    async with AsyncSession(storage.engine) as session:
        dropped = await queue.enqueue(jobs.add, {"a": 1, "b": 2}, connection=session)
        await session.rollback()
    assert await queue.get_job(kept) is not None
    assert await queue.get_job(dropped) is None


async def test_enqueue_job_status_values(queue: JobQueue) -> None:
    job_id = await queue.enqueue(jobs.add, {"a": 1, "b": 2})
    job = await queue.get_job(job_id)
    assert job is not None and job.status is JobStatus.PENDING


@pytest.mark.databases("mysql")
async def test_bulk_enqueue_on_mysql_sends_plain_placeholders_so_the_driver_batches_rows(
    queue: JobQueue, storage: SQLAlchemyStorage
) -> None:
    """aiomysql folds an executemany into multi-row INSERTs only when VALUES holds nothing but
    placeholders: the server's now is bound as a value (read once), not called per row."""
    sent: list[tuple[str, bool]] = []

    def record(_conn, _cursor, statement, _params, _context, executemany) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("INSERT INTO DBJOBQ_JOBS"):
            sent.append((statement, executemany))

    event.listen(storage.engine.sync_engine, "before_cursor_execute", record)
    try:
        before = await queue.now()
        ids = await queue.enqueue_many(jobs.add, [{"a": n, "b": 0} for n in range(300)], delay=60)
    finally:
        event.remove(storage.engine.sync_engine, "before_cursor_execute", record)
    [(statement, executemany)] = sent
    assert executemany and re.search(r"VALUES \((%s, )*%s\)\s*$", statement), statement
    stored = await queue.get_job(ids[-1])
    assert stored is not None and stored.created_at.timestamp() >= before - 1
    assert stored.execute_at.timestamp() == pytest.approx(stored.created_at.timestamp() + 60, abs=0.01)


async def test_enqueue_many_rows_with_and_without_optional_columns_keep_them(queue: JobQueue) -> None:
    # A multi-row INSERT leaves out the columns that are NULL in every row (MySQL/MariaDB, in-memory
    # SQLite): a column set in some rows only must still reach those rows, and stay NULL in the others.
    noop = job_name(jobs.noop)
    ids = await queue.storage.enqueue_many(
        [NewJob(noop, "{}", meta={"note": "first"}), NewJob(noop, "{}"), NewJob(noop, "{}", flow_key="k")]
    )
    first, second, third = [await queue.get_job(job_id) for job_id in ids]
    assert first is not None and second is not None and third is not None
    assert first.meta == {"note": "first"} and second.meta == {} and third.meta == {}
    assert (first.flow_key, second.flow_key, third.flow_key) == (None, None, "k")
    assert {j.status for j in (first, second, third)} == {"pending"} and first.result is None and first.error is None


def test_enqueue_bulk_insert_leaves_out_only_columns_null_in_every_row() -> None:
    nulls = dict.fromkeys(c.name for c in jobs_table.c if c.nullable)
    rows = [{**nulls, "id": "a", "flow_key": "k"}, {**nulls, "id": "b"}]
    assert without_null_columns(rows) == [{"id": "a", "flow_key": "k"}, {"id": "b", "flow_key": None}]
    full = [{**nulls, **{name: "x" for name in nulls}, "id": "a"}]
    assert without_null_columns(full) is full


@pytest.mark.parametrize(
    ("url", "built_once"),
    [("postgresql+asyncpg://u@h/db", True), ("mysql+aiomysql://u@h/db", True), ("sqlite+aiosqlite:///x.db", False)],
)
def test_enqueue_insert_statement_is_built_once_only_with_the_servers_clock(url: str, built_once: bool) -> None:
    # The server's now is the same SQL in every statement; SQLite's is this process's clock, bound as a
    # value when the statement is built, so its INSERT must be built afresh for every enqueue.
    impl = impl_for(make_url(url), {})
    assert (impl.insert_jobs_statement() is impl.insert_jobs_statement()) is built_once
