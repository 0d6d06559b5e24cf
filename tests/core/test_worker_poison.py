"""Poison jobs: a job that kills its own worker process ends failed, however often the worker restarts."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest

from dbjobq import JobQueue
from tests.core import jobs
from tests.core.conftest import Spawn

pytestmark = pytest.mark.slow

#: Short leases, so that a killed worker's jobs are recovered within a second or two.
LEASES = {"lease_timeout": 1.0, "heartbeat_interval": 0.2, "maintenance_interval": 0.2, "concurrency": 4}


async def test_worker_poison_jobs_fail_while_a_supervisor_restarts_the_worker(
    db_url: str, queue: JobQueue, spawn: Spawn, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    others = await queue.enqueue_many(jobs.log_run, [{"n": n, "log": str(log)} for n in range(40)], max_retries=5)
    # Each poison job has two attempts (max_retries=1), and each attempt kills the worker running it.
    poison = [await queue.enqueue(jobs.kills_its_process, {}), await queue.enqueue(jobs.sigkills_its_process, {})]

    async def all_finished() -> bool:
        return all(job.is_finished for job in await queue.list_jobs())

    restarts = 0
    worker = spawn(db_url, **LEASES)
    deadline = time.monotonic() + 120
    while not await all_finished():  # the supervisor: restart the worker whenever it dies
        assert time.monotonic() < deadline, f"not done after {restarts} restarts: {await queue.list_jobs()}"
        if worker.poll() is not None:
            assert worker.returncode != 0
            restarts += 1
            assert restarts <= 4, "a poison job killed more workers than it has attempts"
            worker = spawn(db_url, **LEASES)
        await asyncio.sleep(0.05)

    for job_id in poison:
        job = await queue.get_job(job_id)
        assert job is not None and job.status == "failed" and job.attempts == 2, job
        assert (job.error or "").startswith("WorkerLost: the worker running this job stopped renewing its lease")
    assert restarts >= 2  # each poison job killed at least one worker
    completed = await queue.get_completed_jobs()
    assert {j.id for j in completed} == set(others)  # the jobs beside them all completed
    assert set(Counter(log.read_text().split())) == {str(n) for n in range(40)}
    assert worker.poll() is None  # the last worker is still up, serving the queue
