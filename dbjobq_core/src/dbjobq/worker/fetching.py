"""The fetch loop: claims as many due jobs as the worker has room for, in one round trip, and starts them.

It waits for room (a slot freed, outcomes recorded) or for a wake-up, backs off while the database
fails, and in burst mode decides when nothing is left to do.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from .. import registry
from ..flow import FlowLimit
from ..metrics.worker import WorkerMetrics
from ..models import Job
from ..storage.base import BaseStorage
from .backoff import backoff
from .config import WorkerConfig
from .inflight import InFlight
from .maintenance import Maintenance
from .outcomes import OutcomeBuffer
from .pausing import PausedQueues
from .threads import JobThreads
from .wakeups import Wakeups, sleep_until

logger = logging.getLogger(__name__)


class Fetcher:
    """Claims and starts jobs for one worker; :meth:`run` is its loop."""

    def __init__(
        self,
        storage: BaseStorage,
        worker_id: str,
        config: WorkerConfig,
        inflight: InFlight,
        outcomes: OutcomeBuffer,
        threads: JobThreads,
        wakeups: Wakeups,
        maintenance: Maintenance,
        *,
        spawn: Callable[[Job, asyncio.Future[None] | None], asyncio.Task[None]],
        stopping: asyncio.Event,
        metrics: WorkerMetrics | None = None,
    ) -> None:
        self.storage = storage
        self.worker_id = worker_id
        self.config = config
        self.queues = list(config.queues) if config.queues else None
        self.inflight = inflight
        self.outcomes = outcomes
        self.threads = threads
        self.wakeups = wakeups
        self.maintenance = maintenance
        self._spawn = spawn
        self.metrics = metrics
        self._stopping = stopping
        self.paused_queues = PausedQueues(storage, config.poll_interval)
        self.burst = False
        self.paused = False
        self.capacity = asyncio.Event()  # a slot freed, or outcomes were recorded
        self.resumed = asyncio.Event()
        self.idle = asyncio.Event()  # burst: nothing is left to do
        #: The flow-controlled job types registered here (read at the first claim), claimed apart.
        self.flow: list[FlowLimit] | None = None
        #: When the earliest rate-limit window that stopped a claim opens again (epoch seconds).
        self.wake_at: float | None = None
        self._types: tuple[str, ...] = ()
        self._types_generation = -1

    def wake_all(self) -> None:
        """Let the loop see that the worker is stopping, whatever it waits for."""
        for event in (self.wakeups.event, self.capacity, self.resumed):
            event.set()

    async def run(self) -> None:
        """Claim and start jobs until the worker stops (or, in burst mode, until nothing is left)."""
        failures = 0
        while not self._stopping.is_set():
            if self.paused:
                await self.resumed.wait()
                continue
            wanted = self.room()
            if wanted <= 0:
                await self._wait_for_room()
                continue
            self.wakeups.event.clear()
            try:
                claimed = await self._claim(wanted)
                failures = 0
            except Exception:
                failures += 1
                await self._back_off(failures, "Claiming jobs failed", "claim_failed")
                continue
            self.inflight.add_claimed(claimed)
            if claimed:
                self.wakeups.saw_jobs()
            if self._stopping.is_set():
                return  # stop() releases them
            self.start_buffered()
            if len(claimed) == wanted:
                continue
            if not self.burst:
                await self._wait_for_work()  # nothing more is due: until an enqueue wakes us, or the poll
            elif claimed:
                await self._wait_for_room()  # the rest of the backlog: back as soon as a job finishes
            else:
                try:
                    done = await self._burst_done()
                    failures = 0
                except Exception:
                    failures += 1
                    await self._back_off(failures, "Burst check failed", "burst_failed")
                    continue
                if done:
                    self.idle.set()
                    return

    def room(self) -> int:
        """How many jobs to claim now (0 or less: wait for room).

        While jobs are buffered, only room worth a round trip counts. Outcomes not yet recorded count
        too once they exceed a batch: if recording lags (or fails), claiming waits for it rather than
        piling up finished jobs in memory.
        """
        capacity = self.inflight.capacity()
        wanted = capacity - len(self.inflight) - self.threads_over()
        if self.inflight.buffer and wanted < capacity // 2:
            return 0
        if len(self.outcomes) > max(capacity, self.config.flush_size):
            return 0
        return wanted

    def threads_over(self) -> int:
        """Abandoned job threads beyond ``concurrency``: each holds a slot until it returns, so that a
        job that always hangs cannot pile up threads without bound."""
        return max(0, self.threads.abandoned_count() - self.config.concurrency)

    def slots(self) -> int:
        """Jobs that may run at once now."""
        return self.config.concurrency - self.threads_over()

    def start_buffered(self) -> None:
        """Start claimed jobs while slots are free. A job whose attempt the heartbeat took back while it
        waited runs once that attempt is counted again (one write for all the jobs starting meanwhile):
        a job that kills its worker at once still counts it."""

        def start(job: Job, uncounted: bool) -> asyncio.Task[None]:
            gate = self.outcomes.mark_started((job.id, job.lease_token or "")) if uncounted else None
            return self._spawn(job, gate)

        self.inflight.start_buffered(self.slots(), start)

    async def _wait_for_work(self) -> None:
        """Wait for a wake-up, at most a poll interval. With flow-controlled types, also for a job of
        ours to finish (it may free a slot), and at most until the next rate-limit window opens."""
        if not self.flow:
            await self.wakeups.wait()
            return
        self.capacity.clear()
        waiters = [asyncio.ensure_future(event.wait()) for event in (self.wakeups.event, self.capacity)]
        try:
            await asyncio.wait(waiters, timeout=self._flow_timeout(), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    def _flow_timeout(self) -> float:
        """A poll interval, or less when a rate-limit window opens sooner."""
        if self.wake_at is None:
            return self.config.poll_interval
        return max(0.0, min(self.config.poll_interval, self.wake_at - time.time()))

    async def _wait_for_room(self) -> None:
        self.capacity.clear()
        await self.capacity.wait()

    async def _back_off(self, failures: int, what: str, action: str) -> None:
        delay = backoff(failures)
        logger.exception("%s; retrying in %.1fs", what, delay, extra={"action": action})
        await sleep_until(delay, self._stopping)

    async def _burst_done(self) -> bool:
        """In burst mode: True once nothing runs, every outcome is recorded and nothing is due."""
        while self.inflight.running:
            await self._wait_for_room()
        await self.outcomes.flush()
        # Our own lease recovery first: a job whose lease expired under a dead worker is due now, and
        # the maintenance loop's concurrent pass may not have landed when we look.
        await self.maintenance.recover()
        if len(self.outcomes) or await self._has_due_job():
            return False
        # A retry falling due within a poll interval still belongs to this burst (paused queues aside).
        scope = self.paused_queues.claim_filter(self.queues)
        if scope is None:
            return True
        wait = await self.storage.seconds_until_due(scope[0], exclude=scope[1], job_types=self.job_types())
        if self.flow and wait is not None and wait <= 0:
            # Due jobs left unclaimed wait for a slot or a rate-limit window: look again after a poll
            # interval, or when the window opens.
            await sleep_until(self._flow_timeout(), self._stopping)
            return False
        if wait is not None and wait <= self.config.poll_interval:
            await sleep_until(max(wait, 0.0), self._stopping)
            return False
        return True

    async def _claim(self, limit: int) -> list[Job]:
        claimed = await self._claim_batch(limit)
        if self.metrics is not None:
            self.metrics.claimed(len(claimed))
        return claimed

    async def _claim_batch(self, limit: int) -> list[Job]:
        await self.paused_queues.refresh()
        scope = self.paused_queues.claim_filter(self.queues)
        if scope is None:  # every queue this worker serves is paused
            return []
        queues, exclude = scope
        if self.flow is None:
            self.flow = [FlowLimit.of(spec) for spec in registry.registered().values() if spec.flow_controlled]
        if not self.flow:  # the usual case: one claim, as if flow control did not exist
            return await self.storage.claim_jobs(
                limit,
                worker_id=self.worker_id,
                lease_timeout=self.config.lease_timeout,
                queues=queues,
                exclude=exclude,
                job_types=self.job_types(),
            )
        claimed: list[Job] = []
        self.wake_at = None
        for flow in self.flow:
            taken = await self.storage.claim_limited_jobs(
                flow,
                limit - len(claimed),
                worker_id=self.worker_id,
                lease_timeout=self.config.lease_timeout,
                queues=queues,
                exclude=exclude,
            )
            claimed += taken.jobs
            if taken.wake_at is not None:
                self.wake_at = taken.wake_at if self.wake_at is None else min(self.wake_at, taken.wake_at)
        if len(claimed) < limit:
            claimed += await self.storage.claim_jobs(
                limit - len(claimed),
                worker_id=self.worker_id,
                lease_timeout=self.config.lease_timeout,
                queues=queues,
                exclude=exclude,
                exclude_types=[flow.type for flow in self.flow],
                job_types=self.job_types(),
            )
        return claimed

    def job_types(self) -> tuple[str, ...]:
        """The job types this process registered: the only ones the worker claims (re-read when a type
        is registered later). A job of another type stays pending for a worker that registered it."""
        generation = registry.generation()
        if generation != self._types_generation:
            self._types, self._types_generation = registry.job_types(), generation
        return self._types

    async def _has_due_job(self) -> bool:
        claimed = await self._claim(self.inflight.capacity())
        self.inflight.add_claimed(claimed)
        self.start_buffered()
        return bool(claimed)
