"""Retention by the workers' maintenance: its cadence follows the retention age, on every database."""

from __future__ import annotations

import time

import pytest

from dbjobq import JobQueue, Worker
from dbjobq.worker import maintenance
from tests.core import jobs
from tests.waiting import wait_until


@pytest.mark.parametrize(
    ("ages", "interval"),
    [
        ((7 * 86400.0, 30 * 86400.0), 3600.0),  # the defaults: hourly, as before
        ((600.0, None), 60.0),  # a tenth of the shortest age
        ((None, 300.0), 30.0),
        ((1.0, 1.0), 5.0),  # never more often than every 5 s
        ((None, None), 3600.0),  # nothing to prune but silent workers
    ],
)
def test_retention_interval_follows_the_shortest_age(ages: tuple[float | None, float | None], interval: float) -> None:
    assert maintenance.retention_interval(*ages) == interval


async def test_retention_short_age_prunes_while_the_worker_runs(queue: JobQueue) -> None:
    async with Worker(queue, poll_interval=0.05, retention=1.0, failed_retention=None) as worker:
        assert worker._maintenance.retention_interval == maintenance.RETENTION_INTERVAL_MIN
        job_id = await queue.enqueue(jobs.noop, {})

        async def completed() -> bool:
            job = await queue.get_job(job_id)
            return job is not None and job.status == "completed"

        await wait_until(completed)
        finished = time.monotonic()
        # The pass at start saw nothing old enough: a later pass, within 1 s of age plus one interval, prunes it.
        await wait_until(lambda: _gone(queue, job_id), timeout=1.0 + maintenance.RETENTION_INTERVAL_MIN + 5.0)
        assert time.monotonic() - finished >= 0.5  # not before the job was about a second old


async def _gone(queue: JobQueue, job_id: str) -> bool:
    return await queue.get_job(job_id) is None
