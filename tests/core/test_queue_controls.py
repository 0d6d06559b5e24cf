"""Durable queue controls: pause_queue / resume_queue / list_queues, honoured by every worker."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

import pytest

from dbjobq import JobQueue, Worker
from dbjobq.storage import SQLAlchemyStorage
from tests.core import jobs
from tests.waiting import stop_processes, wait_until


async def _status(queue: JobQueue, job_id: str) -> str:
    job = await queue.get_job(job_id)
    assert job is not None
    return job.status.value


async def test_queue_controls_list_pause_resume(queue: JobQueue) -> None:
    await queue.enqueue_many(jobs.noop, [{}, {}], queue="mail")
    await queue.enqueue(jobs.noop, {}, queue="default", delay=3600)
    await queue.pause_queue("mail")
    await queue.pause_queue("empty", until=timedelta(hours=1))
    listed = {q.name: q for q in await queue.list_queues()}
    assert sorted(listed) == ["default", "empty", "mail"]
    mail, empty, default = listed["mail"], listed["empty"], listed["default"]
    assert (mail.paused, mail.paused_until, mail.pending, mail.running) == (True, None, 2, 0)
    assert mail.oldest_pending_age is not None and 0 <= mail.oldest_pending_age < 60
    assert empty.paused and empty.paused_until is not None and empty.paused_until > time.time() + 3500
    assert (default.paused, default.pending, default.oldest_pending_age) == (False, 1, None)  # not due yet
    await queue.resume_queue("mail")
    assert not {q.name: q for q in await queue.list_queues()}["mail"].paused


async def test_queue_controls_refuse_bad_input(queue: JobQueue) -> None:
    with pytest.raises(ValueError, match="in the past"):
        await queue.pause_queue("mail", until=time.time() - 1)
    with pytest.raises(ValueError, match="at most 64"):
        await queue.pause_queue("x" * 65)
    with pytest.raises(TypeError, match="until must be"):
        await queue.pause_queue("mail", until="tomorrow")  # type: ignore[arg-type]
    assert await queue.list_queues() == []


async def test_queue_controls_claims_skip_paused_queues(queue: JobQueue, storage: SQLAlchemyStorage) -> None:
    held = await queue.enqueue(jobs.noop, {}, queue="held", priority=9)
    free = await queue.enqueue(jobs.noop, {}, queue="free")
    await queue.pause_queue("held")
    assert await storage.paused_queues() == {"held"}
    claimed = await storage.claim_jobs(5, worker_id="w", lease_timeout=30, exclude=["held"])
    assert [j.id for j in claimed] == [free]
    assert await storage.claim_jobs(5, worker_id="w", lease_timeout=30, queues=["held", "free"], exclude=["held"]) == []
    assert await _status(queue, held) == "pending"
    assert await storage.seconds_until_due(exclude=["held"]) is None


async def test_queue_controls_dequeue_skips_paused_queues(queue: JobQueue) -> None:
    await queue.enqueue(jobs.noop, {}, queue="held", priority=9)
    free = await queue.enqueue(jobs.noop, {}, queue="free")
    await queue.pause_queue("held")
    claimed = await queue.dequeue()
    assert claimed is not None and claimed.id == free
    assert await queue.dequeue() is None


async def test_queue_controls_worker_skips_a_paused_queue_until_resumed(queue: JobQueue) -> None:
    await queue.pause_queue("held")
    held = await queue.enqueue(jobs.noop, {}, queue="held")
    async with Worker(queue, poll_interval=0.05, queues=["held", "free"]):
        free = await queue.enqueue(jobs.noop, {}, queue="free")
        await wait_until(lambda: _is(queue, free, "completed"))
        assert await _status(queue, held) == "pending"
        await queue.resume_queue("held")
        await wait_until(lambda: _is(queue, held, "completed"))


async def test_queue_controls_pause_until_ends_by_itself(queue: JobQueue) -> None:
    job_id = await queue.enqueue(jobs.noop, {}, queue="held")
    await queue.pause_queue("held", until=time.time() + 0.5)
    async with Worker(queue, poll_interval=0.05):
        await asyncio.sleep(0)  # the first claim runs with the pause in force
        assert await _status(queue, job_id) == "pending"
        await wait_until(lambda: _is(queue, job_id, "completed"), timeout=10)
    assert not (await queue.list_queues())[0].paused


async def test_queue_controls_burst_worker_ends_with_a_paused_backlog(queue: JobQueue) -> None:
    held = await queue.enqueue(jobs.noop, {}, queue="held")
    done = await queue.enqueue(jobs.noop, {})
    await queue.pause_queue("held")
    await asyncio.wait_for(Worker(queue, poll_interval=0.05).run(burst=True), timeout=20)
    assert (await _status(queue, held), await _status(queue, done)) == ("pending", "completed")


@pytest.mark.slow
async def test_queue_controls_two_worker_processes(db_url: str, queue: JobQueue, spawn, tmp_path: Path) -> None:
    # A long poll interval on PostgreSQL: the pause must arrive by NOTIFY, not by the next poll.
    poll = 30.0 if db_url.startswith("postgresql") else 0.2
    workers = [spawn(db_url, poll_interval=poll) for _ in range(2)]

    async def both_registered() -> bool:
        return len(await queue.list_workers()) == 2

    await wait_until(both_registered, timeout=60)
    logs = [tmp_path / f"worker-{n}.log" for n in range(2)]
    await queue.pause_queue("default")
    await wait_until(lambda: _all_logged(logs, "Queue default is paused"), timeout=10)
    held = await queue.enqueue_many(jobs.noop, [{}, {}, {}])
    other = await queue.enqueue(jobs.noop, {}, queue="other")
    await wait_until(lambda: _is(queue, other, "completed"), timeout=10 + poll)
    assert [await _status(queue, job_id) for job_id in held] == ["pending"] * 3
    await queue.resume_queue("default")
    await wait_until(lambda: _all_logged(logs, "Queue default resumed"), timeout=10)
    for job_id in held:
        await wait_until(lambda job_id=job_id: _is(queue, job_id, "completed"), timeout=10 + poll)
    assert await stop_processes(workers) == [0] * len(workers)


async def _is(queue: JobQueue, job_id: str, status: str) -> bool:
    return await _status(queue, job_id) == status


async def _all_logged(logs: list[Path], line: str) -> bool:
    return all(log.exists() and line in log.read_text() for log in logs)
