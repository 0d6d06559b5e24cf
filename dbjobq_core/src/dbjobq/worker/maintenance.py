"""Keeping the queue healthy: lease recovery and retention (maintenance), and firing due schedules.

Any number of workers run these loops: the storage makes each pass safe to race (a recovered job is
requeued once, a schedule occurrence fires once).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from ..models import JobStatus
from ..storage.base import BaseStorage
from .config import WorkerConfig
from .wakeups import sleep_until

logger = logging.getLogger(__name__)

#: Bounds of the time between two retention passes of one worker, in seconds: a tenth of the shortest
#: retention age, so that a short retention reaches a steady state, but no more often than every
#: RETENTION_INTERVAL_MIN seconds and at least every RETENTION_INTERVAL_MAX (an hour).
RETENTION_INTERVAL_MIN = 5.0
RETENTION_INTERVAL_MAX = 3600.0


def retention_interval(*ages: float | None) -> float:
    """Seconds between two retention passes for these retention ages (``None``: kept forever)."""
    kept = [age for age in ages if age is not None]
    if not kept:
        return RETENTION_INTERVAL_MAX
    return min(RETENTION_INTERVAL_MAX, max(RETENTION_INTERVAL_MIN, min(kept) / 10))


class Maintenance:
    """Requeues the jobs of dead workers every ``interval`` s; prunes old jobs and workers at start and
    then every :func:`retention_interval` of the retention ages (hourly for the default 7 days)."""

    def __init__(self, storage: BaseStorage, config: WorkerConfig) -> None:
        self.storage = storage
        self.interval = config.maintenance_interval or min(config.lease_timeout / 2, 30.0)
        self.lease_timeout = config.lease_timeout
        self.retention = config.retention
        self.failed_retention = config.failed_retention
        self.retention_interval = retention_interval(config.retention, config.failed_retention)

    async def run(self, stopping: asyncio.Event) -> None:
        """Maintenance passes until ``stopping`` is set (a failed pass is logged and tried again)."""
        now = time.monotonic()
        next_recovery = next_retention = now
        while True:
            now = time.monotonic()
            # Each task is rescheduled before it runs, so that a failing pass waits its turn too.
            try:
                if now >= next_recovery:
                    next_recovery = now + self.interval
                    await self.recover()
                if now >= next_retention:
                    next_retention = now + self.retention_interval
                    await self.apply_retention()
            except Exception:
                logger.exception("Maintenance failed", extra={"action": "maintenance_failed"})
            if await sleep_until(max(0.0, min(next_recovery, next_retention) - time.monotonic()), stopping):
                return

    async def recover(self) -> int:
        """Requeue (or fail, out of attempts) running jobs whose lease expired; return how many."""
        requeued, failed = await self.storage.recover_expired_leases()
        # A dependent enqueued while its last dependency finished is promoted here at the latest.
        await self.storage.resolve_waiting()
        return requeued + failed

    async def apply_retention(self) -> None:
        """Delete finished jobs older than the retention ages, and workers long silent."""
        removed = 0
        if self.retention is not None:
            removed += await self.storage.purge(self.retention, [JobStatus.COMPLETED, JobStatus.CANCELLED])
        if self.failed_retention is not None:
            removed += await self.storage.purge(self.failed_retention, [JobStatus.FAILED])
        await self.storage.prune_workers(max(3600.0, 10 * self.lease_timeout))
        if removed:
            logger.info("Retention removed %d finished job(s)", removed, extra={"action": "retention"})


async def run_scheduler(
    storage: BaseStorage, interval: float, on_fired: Callable[[], None], stopping: asyncio.Event
) -> None:
    """Fire due schedules every ``interval`` s until ``stopping``; ``on_fired`` wakes the fetch loop."""
    while True:
        try:
            if await storage.fire_due_schedules():
                on_fired()
        except Exception:
            logger.exception("Firing schedules failed", extra={"action": "scheduler_failed"})
        if await sleep_until(interval, stopping):
            return
