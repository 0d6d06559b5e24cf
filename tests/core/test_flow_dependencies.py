"""Job dependencies: ``enqueue(…, depends_on=[…])`` waits until every dependency completed, fails when
one fails or is cancelled, and settles at once when they finished already; on every database."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import pytest

from dbjobq import JobQueue, Worker, workflows
from tests.core import jobs
from tests.waiting import stop_processes, wait_until


async def _job(queue: JobQueue, job_id: str) -> Any:
    found = await queue.get_job(job_id)
    assert found is not None
    return found


async def test_flow_dependencies_wait_then_run_after_every_dependency(queue: JobQueue) -> None:
    first = await queue.enqueue(jobs.add, {"a": 1, "b": 1})
    second = await queue.enqueue(jobs.add, {"a": 2, "b": 2})
    last = await queue.enqueue(jobs.add, {"a": 3, "b": 3}, depends_on=[first, second])
    waiting = await _job(queue, last)
    assert waiting.status == "waiting" and waiting.depends_on == [first, second]
    assert [j.id for j in await queue.list_jobs(status="waiting")] == [last]
    assert await queue.count_jobs("waiting") == 1
    assert (await queue.queue_stats())[0].counts["waiting"] == 1
    await Worker(queue, poll_interval=0.05).run(burst=True)
    done = [await _job(queue, i) for i in (first, second, last)]
    assert [j.status for j in done] == ["completed"] * 3
    assert done[2].started_at >= max(done[0].finished_at, done[1].finished_at)


async def test_flow_dependencies_worker_runs_a_chain(queue: JobQueue) -> None:
    ids = [await queue.enqueue(jobs.add, {"a": 0, "b": 0})]
    for n in range(1, 4):
        ids.append(await queue.enqueue(jobs.add, {"a": n, "b": 0}, depends_on=[ids[-1]]))
    await Worker(queue, poll_interval=0.05).run(burst=True)
    chain = [await _job(queue, i) for i in ids]
    assert [j.status for j in chain] == ["completed"] * 4
    assert all(later.started_at >= earlier.finished_at for earlier, later in itertools.pairwise(chain))


async def test_flow_dependencies_failure_fails_the_dependents(queue: JobQueue) -> None:
    broken = await queue.enqueue(jobs.always_fails, {}, max_retries=0)
    dependent = await queue.enqueue(jobs.add, {"a": 1, "b": 1}, depends_on=[broken])
    grandchild = await queue.enqueue(jobs.add, {"a": 1, "b": 1}, depends_on=[dependent])
    await Worker(queue, poll_interval=0.05).run(burst=True)
    failed = await _job(queue, dependent)
    assert failed.status == "failed" and failed.attempts == 0
    assert broken in failed.error and "tests.core.jobs.always_fails" in failed.error and "failed" in failed.error
    chained = await _job(queue, grandchild)
    assert chained.status == "failed" and dependent in chained.error


async def test_flow_dependencies_cancelled_dependency_fails_the_dependent(queue: JobQueue) -> None:
    first = await queue.enqueue(jobs.add, {"a": 1, "b": 1}, delay=3600)
    dependent = await queue.enqueue(jobs.add, {"a": 1, "b": 1}, depends_on=[first])
    assert await queue.cancel_job(first)
    failed = await _job(queue, dependent)
    assert failed.status == "failed" and first in failed.error and "cancelled" in failed.error


async def test_flow_dependencies_finished_at_enqueue_settle_at_once(queue: JobQueue) -> None:
    done = await queue.enqueue(jobs.add, {"a": 1, "b": 1})
    broken = await queue.enqueue(jobs.always_fails, {}, max_retries=0)
    await Worker(queue, poll_interval=0.05).run(burst=True)
    ready = await queue.enqueue(jobs.add, {"a": 2, "b": 2}, depends_on=[done])
    assert (await _job(queue, ready)).status == "pending"
    doomed = await queue.enqueue(jobs.add, {"a": 2, "b": 2}, depends_on=[done, broken])
    failed = await _job(queue, doomed)
    assert failed.status == "failed" and broken in failed.error and failed.finished_at is not None
    before = await queue.count_jobs()
    with pytest.raises(ValueError, match="do not exist: nope"):
        await queue.enqueue(jobs.add, {}, depends_on=[done, "nope"])
    with pytest.raises(ValueError, match="list of job ids"):
        await queue.enqueue(jobs.add, {}, depends_on=done)  # type: ignore[arg-type]
    assert await queue.count_jobs() == before


async def test_flow_dependencies_bulk_cancel_fails_the_dependents(queue: JobQueue) -> None:
    first = await queue.enqueue(jobs.add, {"a": 1, "b": 1}, delay=3600, queue="bulk")
    dependent = await queue.enqueue(jobs.add, {}, depends_on=[first])
    assert await queue.cancel_jobs("pending", queue="bulk") == 1
    failed = await _job(queue, dependent)
    assert failed.status == "failed" and first in failed.error


async def test_flow_dependencies_waiting_jobs_can_be_cancelled(queue: JobQueue) -> None:
    first = await queue.enqueue(jobs.add, {"a": 1, "b": 1}, delay=3600)
    dependent = await queue.enqueue(jobs.add, {}, depends_on=[first])
    assert await queue.cancel_job(dependent)
    assert (await _job(queue, dependent)).status == "cancelled"


@pytest.mark.slow
async def test_flow_dependencies_across_three_worker_processes(
    db_url: str, queue: JobQueue, spawn: Any, tmp_path: Path
) -> None:
    workers = [spawn(db_url) for _ in range(3)]

    async def all_registered() -> bool:
        return len(await queue.list_workers()) == 3

    await wait_until(all_registered, timeout=60)
    fan_in = await queue.enqueue_many(jobs.add, [{"a": n, "b": 1} for n in range(30)])
    callback = await queue.enqueue(jobs.add, {"a": 0, "b": 0}, depends_on=list(fan_in))
    doomed_dep = await queue.enqueue(jobs.always_fails, {}, max_retries=0)
    doomed = await queue.enqueue(jobs.add, {"a": 0, "b": 0}, depends_on=[fan_in[0], doomed_dep])

    async def settled() -> bool:
        return (await _job(queue, callback)).status == "completed" and (await _job(queue, doomed)).status == "failed"

    await wait_until(settled, timeout=60)
    assert await stop_processes(workers) == [0] * len(workers)
    deps = [await _job(queue, i) for i in fan_in]
    final = await _job(queue, callback)
    assert final.started_at >= max(d.finished_at for d in deps)
    assert doomed_dep in (await _job(queue, doomed)).error


async def test_flow_dependencies_chain_and_group(queue: JobQueue) -> None:
    steps = await workflows.chain(queue, [(jobs.add, {"a": 1, "b": 1}), (jobs.add, {"a": 2, "b": 2}), ("x.last", {})])
    assert [(await _job(queue, i)).depends_on for i in steps] == [None, [steps[0]], [steps[1]]]
    members, callback = await workflows.group(
        queue, jobs.add, [{"a": n, "b": 0} for n in range(3)], then=(jobs.add, {"a": 0, "b": 0})
    )
    assert (await _job(queue, callback)).depends_on == members and (await _job(queue, callback)).status == "waiting"
    await Worker(queue, poll_interval=0.05).run(burst=True)
    assert (await _job(queue, callback)).status == "completed"
    assert (await _job(queue, steps[1])).status == "completed"
    # x.last is registered by no worker here: promoted to pending, it waits for a worker that registers it.
    assert (await _job(queue, steps[2])).status == "pending"
    with pytest.raises(ValueError, match="at least one"):
        await workflows.chain(queue, [])


async def test_flow_dependencies_cost_nothing_per_batch_while_no_job_waits(queue: JobQueue) -> None:
    """A worker that never sees depends_on looks at waiting jobs at most once a second, not after every
    batch of outcomes (it looks after each batch again, every 50 ms at most, once jobs wait)."""
    calls = {"resolve_waiting": 0, "record_outcomes": 0}
    storage: Any = queue.storage
    for name in calls:
        original = getattr(storage, name)

        async def counted(*args: Any, _original: Any = original, _name: str = name) -> Any:
            calls[_name] += 1
            return await _original(*args)

        setattr(storage, name, counted)
    await queue.enqueue_many(jobs.blocking_sleep, [{"seconds": 0.02}] * 60)
    started = time.monotonic()
    worker = Worker(queue, concurrency=1, flush_size=1, flush_interval=0, poll_interval=0.05)
    await worker.run(burst=True)
    elapsed = time.monotonic() - started
    assert worker.stats.completed == 60 and calls["record_outcomes"] >= 40  # a batch of outcomes per job...
    # ...and a look at the first batch, one per second after it, and the burst's end check
    assert calls["resolve_waiting"] <= 3 + elapsed, (calls, elapsed)


@pytest.mark.databases("postgresql", "sqlite")
async def test_flow_dependencies_waiting_jobs_are_read_through_their_index(storage: Any) -> None:
    # Schema version 8: the workers' pages of waiting jobs (after outcomes, and in maintenance) read the
    # index over waiting rows only, never the whole table, however many finished jobs it holds.
    from sqlalchemy import event, text

    queue = JobQueue(storage)
    first = await queue.enqueue(jobs.add, {"a": 1, "b": 1})
    await queue.enqueue_many(jobs.add, [{"a": n, "b": 0} for n in range(50)])
    await queue.enqueue(jobs.add, {"a": 2, "b": 2}, depends_on=[first])
    pages: list[tuple[str, Any]] = []

    def capture(_c: object, _cur: object, statement: str, params: object, _ctx: object, _m: bool) -> None:
        if "depends_on" in statement and statement.lstrip().upper().startswith("SELECT"):
            pages.append((statement, params))

    event.listen(storage.engine.sync_engine, "before_cursor_execute", capture)
    try:
        resolved = await storage.resolve_waiting()
    finally:
        event.remove(storage.engine.sync_engine, "before_cursor_execute", capture)
    assert (resolved.promoted, resolved.waiting) == (0, 1) and len(pages) == 1
    explain = "EXPLAIN " if storage.dialect == "postgresql" else "EXPLAIN QUERY PLAN "
    async with storage.engine.connect() as conn, conn.begin() as transaction:
        if storage.dialect == "postgresql":  # as on a big table: neither a scan of it nor of the primary key
            await conn.execute(text("ALTER TABLE dbjobq_jobs DROP CONSTRAINT dbjobq_jobs_pkey"))
            await conn.execute(text("ANALYZE dbjobq_jobs"))
            await conn.execute(text("SET LOCAL enable_seqscan = off"))
        [(statement, params)] = pages
        rows = (await conn.exec_driver_sql(explain + statement, params)).all()
        plan = "\n".join(str(row[-1]) for row in rows)
        assert "ix_dbjobq_jobs_waiting" in plan, f"{statement}\n{plan}"
        await transaction.rollback()
