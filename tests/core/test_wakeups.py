"""Wake-ups without LISTEN/NOTIFY: the change probes (SQLite's data_version, the largest job id) and
how often an idle worker asks them."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest
from sqlalchemy import insert

from dbjobq import JobQueue, Worker
from dbjobq.integration import new_job_row
from dbjobq.models import NewJob
from dbjobq.registry import job_name
from dbjobq.storage import SQLAlchemyStorage
from dbjobq.storage.schema import jobs as jobs_table
from dbjobq.worker.wakeups import probe_interval
from tests.core import jobs
from tests.waiting import wait_until

NOOP = job_name(jobs.noop)
#: Far longer than any wait below: a job started before it was found by a wake-up, not by a poll.
LONG_POLL = 30.0


def test_wakeups_probe_interval_backs_off_with_idle_time() -> None:
    fastest, slowest = 0.005, 1.0
    assert probe_interval(0.0, fastest, slowest) == fastest  # jobs just flowed
    assert probe_interval(0.02, fastest, slowest) == fastest
    assert probe_interval(2.0, fastest, slowest) == pytest.approx(0.2)  # a tenth of the idle time
    assert probe_interval(5.0, fastest, slowest) > probe_interval(2.0, fastest, slowest)
    assert probe_interval(3600.0, fastest, slowest) == slowest  # never slower than the poll


async def _insert_behind_dbjobq(url: str, job_type: str) -> str:
    """Insert a job row with a plain SQLAlchemy engine of its own, as another program (the Django ORM) would."""
    row = new_job_row(NewJob(type=job_type, data="{}"), time.time())
    other = SQLAlchemyStorage(url)
    await other.initialize()
    try:
        async with other.engine.begin() as conn:
            await conn.execute(insert(jobs_table).values(**row))
    finally:
        await other.close()
    return str(row["id"])


async def test_wakeups_probe_sees_an_insert_from_another_connection(storage: SQLAlchemyStorage, db_url: str) -> None:
    probe = await storage.open_change_probe()
    assert probe is not None and probe.fastest > 0
    try:
        assert await probe.changed() is False  # the baseline
        assert await probe.changed() is False  # nothing happened
        await _insert_behind_dbjobq(db_url, NOOP)
        assert await probe.changed() is True
        assert await probe.changed() is False  # seen once
    finally:
        await probe.close()


async def test_wakeups_memory_sqlite_has_no_probe() -> None:
    async with SQLAlchemyStorage("sqlite+aiosqlite:///:memory:") as storage:
        assert await storage.open_change_probe() is None  # one process: the in-process signal wakes it


@pytest.mark.slow
async def test_wakeups_idle_worker_in_another_process_starts_jobs_quickly(
    db_url: str, queue: JobQueue, spawn
) -> None:
    proc = spawn(db_url, poll_interval=LONG_POLL)

    async def registered() -> bool:
        return len(await queue.list_workers()) == 1

    await wait_until(registered, timeout=60)

    async def completed(job_id: str) -> bool:
        job = await queue.get_job(job_id)
        return job is not None and job.status == "completed"

    # Through DBJobQ from this process; then a row written behind DBJobQ's back (as the Django ORM does),
    # each while the worker is idle in a poll of LONG_POLL seconds.
    first = await queue.enqueue(jobs.noop)
    await wait_until(lambda: completed(first), timeout=LONG_POLL / 3)
    second = await _insert_behind_dbjobq(db_url, NOOP)
    await wait_until(lambda: completed(second), timeout=LONG_POLL / 3)
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(proc.wait, 60) == 0


@pytest.mark.slow
@pytest.mark.databases("sqlite", "mysql")
async def test_wakeups_idle_worker_probes_less_and_less_often(queue: JobQueue, db_url: str) -> None:
    worker = Worker(queue, poll_interval=LONG_POLL)
    async with worker:
        # Right after the start it counts as busy: the fastest pace (5 ms) would make ~400 probes in 2 s.
        await wait_until(lambda: _after(worker, 1), timeout=10)
        started = time.monotonic()
        await wait_until(lambda: _seconds_passed(started, 2.0), timeout=10)
        early = worker.stats.probes
        # Idle for 2 s and more: a probe every 0.2 s and slower, about 10 ln(4/2) ≈ 7 in the next 2 s.
        middle = time.monotonic()
        await wait_until(lambda: _seconds_passed(middle, 2.0), timeout=10)
        later = worker.stats.probes - early
        assert 0 < later < 25
        assert early > later
        # A job found by the probe makes it fast again.
        job_id = await _insert_behind_dbjobq(db_url, NOOP)
        await wait_until(lambda: _is_done(queue, job_id), timeout=LONG_POLL / 3)


async def _after(worker: Worker, probes: int) -> bool:
    return worker.stats.probes >= probes


async def _seconds_passed(since: float, seconds: float) -> bool:
    return time.monotonic() - since >= seconds


async def _is_done(queue: JobQueue, job_id: str) -> bool:
    job = await queue.get_job(job_id)
    return job is not None and job.status == "completed"
