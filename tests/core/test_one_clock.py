"""One clock (DESIGN.md §3): due times, leases, recovery and schedules are judged by the database's
clock, so workers and enqueuers whose own clocks are a minute off neither run jobs early or late, nor
take over leases, nor fire schedules early or twice. The processes' clocks are shifted by
``tests.core.skewed_process``; SQLite keeps the process's clock, so only the servers are tested."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from dbjobq import JobQueue
from dbjobq.models import Schedule
from dbjobq.storage import SQLAlchemyStorage
from tests.core import jobs
from tests.core.conftest import FAST, ROOT
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.databases("postgresql", "mysql")]

AHEAD, BEHIND = 60.0, -60.0
#: How long a "must not happen" is watched: several polls, heartbeats and recovery passes of FAST.
WATCH = 3.0

Skewed = Callable[..., "subprocess.Popen[bytes]"]


@pytest.fixture
def skewed(tmp_path: Path) -> Iterator[Skewed]:
    """Start a worker in a process whose clock is off by ``skew`` seconds; killed at the end."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(url: str, skew: float, **options: float) -> subprocess.Popen[bytes]:
        args = [sys.executable, "-m", "tests.core.skewed_process", str(skew), "worker", url]
        log = open(tmp_path / f"worker-{len(procs)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen([*args, json.dumps({**FAST, **options})], cwd=ROOT, stdout=log, stderr=log)
        log.close()
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def enqueue_skewed(url: str, skew: float, job_type: str, data: dict[str, object], delay: float | None = None) -> str:
    """Enqueue from a process whose clock is off by ``skew`` seconds; the job's id."""
    args = [sys.executable, "-m", "tests.core.skewed_process", str(skew), "enqueue", url, job_type]
    options = json.dumps({"data": data, "delay": delay})
    done = subprocess.run([*args, options], cwd=ROOT, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode().split()[-1]


async def holds_for(check: Callable[[], Awaitable[bool]], seconds: float = WATCH) -> None:
    """Assert that ``check`` stays true for ``seconds`` (polled), e.g. that a job is not run early."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert await check()
        await asyncio.sleep(0.05)


async def worker_is_serving(queue: JobQueue, tmp_path: Path) -> None:
    """Wait until the workers run an immediate job: they are claiming (and recovering) by now."""
    marker = await queue.enqueue(jobs.noop)

    async def done() -> bool:
        job = await queue.get_job(marker)
        return job is not None and job.status == "completed"

    await wait_until(done, timeout=30)


async def test_one_clock_worker_ahead_does_not_take_over_a_renewed_lease(
    db_url: str, queue: JobQueue, skewed: Skewed, tmp_path: Path
) -> None:
    release, runs = tmp_path / "release", tmp_path / "runs.log"
    owner = skewed(db_url, 0.0)
    job_id = await queue.enqueue(jobs.log_then_wait, {"log": str(runs), "path": str(release)})

    async def running() -> bool:
        job = await queue.get_job(job_id)
        return job is not None and job.status == "running"

    await wait_until(running, timeout=30)
    first = await queue.get_job(job_id)
    assert first is not None
    skewed(db_url, AHEAD)

    async def all_registered() -> bool:
        return len(await queue.list_workers()) == 2

    await wait_until(all_registered, timeout=30)
    await worker_is_serving(queue, tmp_path)

    async def still_the_owners() -> bool:
        job = await queue.get_job(job_id)
        return job is not None and job.status == "running" and job.worker_id == first.worker_id

    await holds_for(still_the_owners)
    release.touch()

    async def completed() -> bool:
        job = await queue.get_job(job_id)
        return job is not None and job.status == "completed"

    await wait_until(completed, timeout=30)
    job = await queue.get_job(job_id)
    assert job is not None and job.attempts == 1 and job.worker_id == first.worker_id
    assert runs.read_text().split() == ["run"]
    assert owner.poll() is None


async def test_one_clock_delayed_job_not_run_early_by_worker_ahead(
    db_url: str, queue: JobQueue, skewed: Skewed, tmp_path: Path
) -> None:
    skewed(db_url, AHEAD)
    job_id = await queue.enqueue(jobs.noop, delay=40)
    await worker_is_serving(queue, tmp_path)

    async def pending() -> bool:
        job = await queue.get_job(job_id)
        return job is not None and job.status == "pending" and job.attempts == 0

    await holds_for(pending)


async def test_one_clock_immediate_job_from_enqueuer_ahead_runs_at_once(
    db_url: str, storage: SQLAlchemyStorage, queue: JobQueue, skewed: Skewed
) -> None:
    skewed(db_url, 0.0)
    before = await storage.now()
    job_id = await asyncio.to_thread(enqueue_skewed, db_url, AHEAD, "tests.core.jobs.noop", {})
    after = await storage.now()
    job = await queue.get_job(job_id)
    assert job is not None and job.execute_at is not None and job.created_at is not None
    assert before - 1 <= job.created_at.timestamp() <= after + 1  # stamped by the database's clock
    assert job.execute_at == job.created_at

    async def completed() -> bool:
        job = await queue.get_job(job_id)
        return job is not None and job.status == "completed"

    await wait_until(completed, timeout=20)  # far less than the minute the enqueuer's clock is ahead


async def test_one_clock_delay_from_enqueuer_behind_is_not_run_at_once(
    db_url: str, storage: SQLAlchemyStorage, queue: JobQueue, skewed: Skewed, tmp_path: Path
) -> None:
    skewed(db_url, 0.0)
    job_id = await asyncio.to_thread(enqueue_skewed, db_url, BEHIND, "tests.core.jobs.noop", {}, 30)
    job = await queue.get_job(job_id)
    assert job is not None and job.execute_at is not None and job.created_at is not None
    assert job.execute_at.timestamp() - job.created_at.timestamp() == pytest.approx(30, abs=0.01)
    assert job.execute_at.timestamp() > await storage.now() + 20
    await worker_is_serving(queue, tmp_path)

    async def pending() -> bool:
        job = await queue.get_job(job_id)
        return job is not None and job.status == "pending" and job.attempts == 0

    await holds_for(pending)


async def test_one_clock_schedules_fire_neither_early_nor_twice_with_skewed_workers(
    db_url: str, storage: SQLAlchemyStorage, queue: JobQueue, skewed: Skewed
) -> None:
    interval = 2.0
    first_run = await storage.now() + 3
    await queue.create_schedule(
        Schedule("tick", "tests.core.jobs.noop", {}, "interval", str(interval), next_run=first_run)
    )
    skewed(db_url, AHEAD, schedule_poll_interval=0.05)
    skewed(db_url, BEHIND, schedule_poll_interval=0.05)
    # When each job was first seen, by the database's clock read just after the listing that showed it:
    # an upper bound of when it was inserted, whatever the inserting worker's clock said.
    seen: dict[str, float] = {}

    async def fired_three() -> bool:
        ids = [j.id for j in await queue.list_jobs()]
        now = await storage.now()
        for job_id in ids:
            seen.setdefault(job_id, now)
        return len(seen) >= 3

    await wait_until(fired_three, timeout=30, interval=0.01)
    # The n-th job exists no earlier than the n-th occurrence: none early, and none twice (a duplicate
    # would make a later job come before its own occurrence).
    for n, at in enumerate(sorted(seen.values())):
        assert at >= first_run + n * interval, (n, [t - first_run for t in sorted(seen.values())])


async def test_one_clock_cli_pause_until_counts_from_the_database_clock(
    db_url: str, storage: SQLAlchemyStorage, queue: JobQueue
) -> None:
    args = [sys.executable, "-m", "tests.core.skewed_process", str(AHEAD), "cli", db_url]
    done = await asyncio.to_thread(
        subprocess.run, [*args, "queues", "pause", "mail", "--until", "30m"], cwd=ROOT, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode()
    (info,) = [q for q in await queue.list_queues() if q.name == "mail"]
    assert info.paused and info.paused_until is not None
    assert info.paused_until - await storage.now() == pytest.approx(1800, abs=10)
