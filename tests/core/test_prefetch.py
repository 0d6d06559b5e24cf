"""Prefetch: a worker holds at most its bound of jobs, and the jobs waiting in its buffer have their
attempt taken back at the next heartbeat (counted again as they start), so a worker's stop or death
returns them with their attempts unchanged; on every database."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from dbjobq import JobQueue, Worker
from dbjobq.storage import SQLAlchemyStorage
from dbjobq.storage.schema import jobs as jobs_table
from tests.core import jobs
from tests.waiting import wait_until


async def _held(storage: SQLAlchemyStorage) -> list[tuple[str, str | None, int, float | None]]:
    """(id, worker_id, attempts, started_at) of every running row."""
    stmt = select(jobs_table.c.id, jobs_table.c.worker_id, jobs_table.c.attempts, jobs_table.c.started_at).where(
        jobs_table.c.status == "running"
    )
    async with storage.engine.connect() as conn:
        return [tuple(row) for row in (await conn.execute(stmt)).all()]  # type: ignore[misc]


@pytest.mark.parametrize(("prefetch", "bound"), [(3, 5), (None, 4)])  # default: as many as run, at first
async def test_prefetch_holds_at_most_the_bound_and_takes_back_waiting_attempts(
    storage: SQLAlchemyStorage, tmp_path: Path, prefetch: int | None, bound: int
) -> None:
    queue = JobQueue(storage)
    release = tmp_path / "release"
    ids = await queue.enqueue_many(jobs.wait_for_file, [{"path": str(release)}] * 12)
    async with Worker(queue, concurrency=2, prefetch=prefetch, poll_interval=0.05, heartbeat_interval=0.1) as worker:
        # Two run, their attempt counted; the others wait: after a heartbeat, uncounted and not started.
        waiting = [(0, True)] * (bound - 2) + [(1, False)] * 2
        await wait_until(lambda: _attempts_held(storage, waiting))
        deadline = time.monotonic() + 0.5  # a few polls and heartbeats: it never takes more
        while time.monotonic() < deadline:
            held = await _held(storage)
            assert len(held) == bound and {w for _, w, _, _ in held} == {worker.id}
            assert sorted((a, s is None) for _, _, a, s in held) == waiting
            await asyncio.sleep(0.05)
        release.touch()
        await wait_until(lambda: _all_completed(queue, ids), timeout=20)
    finished = [await queue.get_job(job_id) for job_id in ids]
    assert all(j is not None and j.attempts == 1 and j.started_at is not None for j in finished)


async def test_prefetch_stop_releases_waiting_jobs_with_attempts_unchanged(
    storage: SQLAlchemyStorage, tmp_path: Path
) -> None:
    queue = JobQueue(storage)
    release = tmp_path / "release"
    ids = await queue.enqueue_many(jobs.wait_for_file, [{"path": str(release)}] * 4)
    worker = Worker(queue, concurrency=1, prefetch=2, poll_interval=0.05, heartbeat_interval=0.1, shutdown_timeout=0.2)
    await worker.start()
    await wait_until(lambda: _attempts_held(storage, [(0, True), (0, True), (1, False)]))
    await worker.stop()
    after = [await queue.get_job(job_id) for job_id in ids]
    assert [j.status.value for j in after if j] == ["pending"] * 4
    assert [j.attempts for j in after if j] == [0] * 4  # the interrupted one un-counted, the waiting ones not twice


@pytest.mark.slow
async def test_prefetch_kill_9_returns_unstarted_jobs_without_an_attempt(
    db_url: str, queue: JobQueue, spawn, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    storage = queue.storage
    assert isinstance(storage, SQLAlchemyStorage)
    release = tmp_path / "release"
    blocker = await queue.enqueue(jobs.wait_for_file, {"path": str(release)}, priority=5, max_retries=1)
    waiting = await queue.enqueue_many(jobs.add, [{"a": n, "b": n} for n in range(2)])
    victim = spawn(db_url, concurrency=1, prefetch=2)  # heartbeat every 0.2 s
    await wait_until(lambda: _attempts_held(storage, [(0, True), (0, True), (1, False)]), timeout=20)
    held = {job_id: (attempts, started) for job_id, _, attempts, started in await _held(storage)}
    assert held[blocker][0] == 1 and all(held[j] == (0, None) for j in waiting)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    rescuer = spawn(db_url)
    await wait_until(lambda: _all_completed(queue, waiting), timeout=30)
    release.touch()
    await wait_until(lambda: _all_completed(queue, [blocker]), timeout=30)
    for job_id in waiting:  # ran once, elsewhere: the claim ahead by the dead worker counted nothing
        job = await queue.get_job(job_id)
        assert job is not None and job.attempts == 1 and f":{victim.pid}:" not in (job.worker_id or "")
    job = await queue.get_job(blocker)
    assert job is not None and job.attempts == 2  # it had started: that attempt counts
    rescuer.send_signal(signal.SIGTERM)
    assert rescuer.wait(timeout=30) == 0


async def _attempts_held(storage: SQLAlchemyStorage, expected: list[tuple[int, bool]]) -> bool:
    """Whether the running rows' (attempts, not started) pairs are ``expected`` (sorted)."""
    return sorted((a, s is None) for _, _, a, s in await _held(storage)) == expected


async def _all_completed(queue: JobQueue, ids: list[str]) -> bool:
    found = [await queue.get_job(job_id) for job_id in ids]
    return all(j is not None and j.status.value == "completed" for j in found)
