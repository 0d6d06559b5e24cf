"""Worker: claims due jobs in batches, runs them concurrently, and records their outcomes in batches.

Side loops renew leases (heartbeat), recover jobs of dead workers and prune old jobs (maintenance),
and fire recurring schedules (scheduler). Delivery is at-least-once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType
from typing import Any

from .execution import RunResult, run_job
from .hooks import Hook, Hooks, JobEvent
from .models import Job, JobStatus, Outcome
from .queue import JobQueue
from .timing import as_seconds

logger = logging.getLogger(__name__)

_MAX_BACKOFF = 30.0


def _backoff(failures: int) -> float:
    """Seconds to wait after ``failures`` database errors in a row: 0.5, 1, 2, … up to 30."""
    return min(_MAX_BACKOFF, 0.5 * 2.0 ** (failures - 1))


#: With adaptive prefetch, claimed jobs cover about this many seconds of work per slot...
PREFETCH_HORIZON = 0.05
#: ...up to this many times ``concurrency`` jobs held beyond the running ones.
PREFETCH_FACTOR = 20


@dataclass
class WorkerStats:
    """Counters since the worker started."""

    started: int = 0
    completed: int = 0
    failed: int = 0
    retried: int = 0
    rejected: int = 0


class Worker:
    """Runs jobs from a :class:`JobQueue`.

    ``concurrency`` jobs run at once (async ones as tasks, sync ones in a thread pool). ``queues``
    limits the queues served (``None``: all). Running jobs hold leases of ``lease_timeout`` seconds,
    renewed every ``heartbeat_interval``; a job whose worker dies returns to pending once its lease
    expires. ``stop()`` lets running jobs finish for up to ``shutdown_timeout`` seconds, then puts
    them back to pending. ``prefetch`` jobs are claimed beyond the free slots (default: adapted to the
    observed job duration, from ``concurrency`` up to 20 times it). ``retention`` (default 7 days)
    and ``failed_retention`` (30 days) bound how long finished jobs are kept; ``None`` keeps them.
    """

    def __init__(
        self,
        queue: JobQueue,
        poll_interval: float = 1.0,
        schedule_poll_interval: float = 60.0,
        concurrency: int = 10,
        queues: Sequence[str] | None = None,
        heartbeat_interval: float = 5.0,
        lease_timeout: float = 30.0,
        shutdown_timeout: float = 30.0,
        *,
        prefetch: int | None = None,
        retention: float | timedelta | None = timedelta(days=7),
        failed_retention: float | timedelta | None = timedelta(days=30),
        maintenance_interval: float | None = None,
        flush_interval: float = 0.005,
        flush_size: int = 200,
        name: str | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        for label, value in (
            ("poll_interval", poll_interval),
            ("schedule_poll_interval", schedule_poll_interval),
            ("heartbeat_interval", heartbeat_interval),
            ("lease_timeout", lease_timeout),
        ):
            if value <= 0:
                raise ValueError(f"{label} must be positive")
        if heartbeat_interval >= lease_timeout:
            raise ValueError("heartbeat_interval must be shorter than lease_timeout")
        if shutdown_timeout < 0:
            raise ValueError("shutdown_timeout must be >= 0")
        self.queue = queue
        self.storage = queue.storage
        self.poll_interval = poll_interval
        self.schedule_poll_interval = schedule_poll_interval
        self.concurrency = concurrency
        self.queues = list(queues) if queues else None
        self.heartbeat_interval = heartbeat_interval
        self.lease_timeout = lease_timeout
        self.shutdown_timeout = shutdown_timeout
        if prefetch is not None and prefetch < 0:
            raise ValueError("prefetch must be >= 0")
        #: Jobs claimed ahead of free slots; ``None`` adapts it to how long jobs take (see _prefetch).
        self.prefetch = prefetch
        self._avg_duration: float | None = None
        self.retention = as_seconds(retention)
        self.failed_retention = as_seconds(failed_retention)
        self.maintenance_interval = maintenance_interval or min(lease_timeout / 2, 30.0)
        self.flush_interval = flush_interval
        self.flush_size = flush_size
        self.id = (name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}")[:64]
        self.hooks = Hooks()
        self.stats = WorkerStats()

        self._state = "new"
        self._paused = False
        self._burst = False
        self._running: dict[str, tuple[Job, asyncio.Task[None]]] = {}
        self._buffer: deque[Job] = deque()
        self._outcomes: list[Outcome] = []
        self._revoked: set[str] = set()
        self._claims = 0  # claim round trips so far; each job remembers the one that brought it
        self._claim_number: dict[str, int] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._executor: ThreadPoolExecutor | None = None
        self._subscription: Any = None
        self._last_retention = 0.0
        # Created in start(): events belong to the running loop.
        self._wake: asyncio.Event | None = None
        self._capacity: asyncio.Event | None = None
        self._resumed: asyncio.Event | None = None
        self._stopping: asyncio.Event | None = None
        self._stopped: asyncio.Event | None = None
        self._outcome_ready: asyncio.Event | None = None
        self._flush_lock = asyncio.Lock()
        self._idle: asyncio.Event | None = None
        self._hurry: asyncio.Event | None = None
        self._closing: asyncio.Event | None = None

    def __repr__(self) -> str:
        return f"Worker({self.id!r}, state={self._state})"

    # -- public life cycle ----------------------------------------------------------------------
    def on(self, event: JobEvent, hook: Hook) -> None:
        """Call ``hook(job, result)`` on ``job_started``, ``job_succeeded``, ``job_failed`` or ``job_retried``."""
        self.hooks.add(event, hook)

    def is_running(self) -> bool:
        """True between :meth:`start` and the end of :meth:`stop` (paused or not)."""
        return self._state == "running"

    def is_paused(self) -> bool:
        """True while paused: running jobs go on, no new ones are claimed."""
        return self._paused

    def pause(self) -> None:
        """Stop claiming new jobs; running ones finish."""
        self._paused = True
        if self._resumed is not None:
            self._resumed.clear()
        logger.info("Worker %s paused", self.id, extra={"action": "worker_paused"})

    def resume(self) -> None:
        """Claim jobs again after :meth:`pause`."""
        self._paused = False
        if self._resumed is not None:
            self._resumed.set()
        logger.info("Worker %s resumed", self.id, extra={"action": "worker_resumed"})

    async def start(self) -> None:
        """Start the background tasks and return. Raises if already started."""
        if self._state != "new":
            raise RuntimeError(f"This worker was already started ({self._state}); create a new Worker")
        self._wake = asyncio.Event()
        self._capacity = asyncio.Event()
        self._resumed = asyncio.Event()
        self._stopping = asyncio.Event()
        self._stopped = asyncio.Event()
        self._outcome_ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._hurry = asyncio.Event()
        self._closing = asyncio.Event()
        if not self._paused:
            self._resumed.set()
        await self.storage.register_worker(self.id, queues=self.queues, concurrency=self.concurrency)
        self._executor = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="dbjobq-job")
        self.queue.add_enqueue_listener(self._notify)
        await self._subscribe()
        self._state = "running"
        loops: list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]] = [
            ("fetch", self._fetch_loop),
            ("flush", self._flush_loop),
            ("heartbeat", self._heartbeat_loop),
            ("maintenance", self._maintenance_loop),
            ("scheduler", self._scheduler_loop),
        ]
        self._tasks = [asyncio.create_task(loop(), name=f"dbjobq-{label}") for label, loop in loops]
        logger.info(
            "Worker %s started (concurrency %d, queues %s)",
            self.id,
            self.concurrency,
            ",".join(self.queues) if self.queues else "all",
            extra={"action": "worker_started"},
        )

    async def stop(self, timeout: float | None = None) -> None:
        """Stop claiming, let running jobs finish (up to ``timeout``, default ``shutdown_timeout``),
        then put the unfinished ones back to pending. Nothing is lost."""
        if self._state == "stopping" and timeout == 0 and self._hurry is not None:
            # Already stopping (a second signal): stop waiting for the running jobs now.
            self._hurry.set()
            return
        if self._state != "running":
            return
        assert self._stopping is not None and self._stopped is not None
        self._state = "stopping"
        timeout = self.shutdown_timeout if timeout is None else timeout
        self._stopping.set()
        self._signal_all()
        fetch = self._tasks[0]
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(asyncio.shield(fetch), timeout=max(timeout, 5.0))
        fetch.cancel()
        unstarted = [(job.id, job.lease_token or "") for job in self._buffer]
        self._buffer.clear()
        tasks = [task for _, task in self._running.values()]
        if tasks:
            logger.info("Waiting up to %gs for %d running job(s)", timeout, len(tasks))
            all_done = asyncio.ensure_future(asyncio.wait(tasks))
            assert self._hurry is not None
            hurry = asyncio.ensure_future(self._hurry.wait())
            await asyncio.wait([all_done, hurry], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            all_done.cancel()
            hurry.cancel()
        interrupted = [(job.id, job.lease_token or "") for job, task in self._running.values() if not task.done()]
        for job, task in list(self._running.values()):
            self._revoked.add(job.id)
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)
        assert self._closing is not None
        self._closing.set()  # no job runs any more: the heartbeat may end
        await self._flush(final=True)
        await self._release(unstarted + interrupted)
        # The side loops end on their own between two queries: cancelling one mid-query would throw
        # its connection away (and with it an in-memory SQLite database).
        await asyncio.wait(self._tasks[2:], timeout=10.0)
        for task in self._tasks[1:]:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.queue.remove_enqueue_listener(self._notify)
        await self._unsubscribe()
        with contextlib.suppress(Exception):
            await self.storage.unregister_worker(self.id)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self._state = "stopped"
        self._stopped.set()
        logger.info(
            "Worker %s stopped: %d completed, %d failed, %d retried",
            self.id,
            self.stats.completed,
            self.stats.failed,
            self.stats.retried,
            extra={"action": "worker_stopped"},
        )

    async def run(self, burst: bool = False) -> None:
        """Run in the foreground until SIGTERM/SIGINT or :meth:`stop` (a second signal stops at once).

        With ``burst=True``, return once no due job is left.
        """
        self._burst = burst
        await self.start()
        assert self._stopped is not None and self._idle is not None
        loop = asyncio.get_running_loop()
        installed: list[int] = []
        stopping: list[asyncio.Future[None]] = []
        signals_seen = 0

        def on_signal(signum: int) -> None:
            nonlocal signals_seen
            signals_seen += 1
            name = signal.Signals(signum).name
            if signals_seen == 1:
                logger.info("%s received: stopping gracefully (send it again to stop now)", name)
                stopping.append(asyncio.ensure_future(self.stop()))
            else:
                logger.warning("%s received again: stopping now", name)
                stopping.append(asyncio.ensure_future(self.stop(timeout=0)))

        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, on_signal, int(sig))
                installed.append(int(sig))
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # not the main thread, or not supported on this platform
        try:
            waiters = [asyncio.create_task(self._stopped.wait())]
            if burst:
                waiters.append(asyncio.create_task(self._idle.wait()))
            _, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for waiter in pending:
                waiter.cancel()
            await self.stop()
            await self._stopped.wait()
        finally:
            for signum in installed:
                loop.remove_signal_handler(signum)

    async def __aenter__(self) -> Worker:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- wake-ups -------------------------------------------------------------------------------
    def _notify(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _signal_all(self) -> None:
        for event in (self._wake, self._capacity, self._resumed, self._outcome_ready):
            if event is not None:
                event.set()

    async def _subscribe(self) -> None:
        if not self.storage.supports_notifications:
            return
        try:
            self._subscription = await self.storage.listen(self._notify)
        except Exception:
            logger.warning("LISTEN failed; polling every %gs until it works", self.poll_interval, exc_info=True)
            self._subscription = None

    async def _unsubscribe(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.close()
            self._subscription = None

    async def _sleep(self, seconds: float, until: asyncio.Event | None = None) -> bool:
        """Sleep ``seconds`` unless ``until`` (default: stopping) is set first; return whether it is set."""
        event = until or self._stopping
        assert event is not None
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)
        return event.is_set()

    # -- fetching and running -------------------------------------------------------------------
    async def _fetch_loop(self) -> None:
        assert self._wake and self._capacity and self._resumed and self._stopping and self._idle
        failures = 0
        while not self._stopping.is_set():
            if self._paused:
                await self._resumed.wait()
                continue
            capacity = self.concurrency + self._prefetch()
            wanted = capacity - len(self._running) - len(self._buffer)
            # Wait for room, and while jobs are buffered, for room worth a round trip. Outcomes not yet
            # recorded count too once they exceed a batch: if recording lags (or fails), claiming waits
            # for it rather than piling up finished jobs in memory.
            if (
                wanted <= 0
                or (self._buffer and wanted < capacity // 2)
                or len(self._outcomes) > max(capacity, self.flush_size)
            ):
                self._capacity.clear()
                await self._capacity.wait()
                continue
            self._wake.clear()
            try:
                claimed = await self._claim(wanted)
                failures = 0
            except Exception:
                failures += 1
                delay = _backoff(failures)
                logger.exception("Claiming jobs failed; retrying in %.1fs", delay, extra={"action": "claim_failed"})
                await self._sleep(delay)
                continue
            if self._stopping.is_set():
                self._add_claimed(claimed, start=False)
                return
            self._add_claimed(claimed)
            if len(claimed) == wanted:
                continue
            if self._burst:
                if claimed:  # the rest of the backlog: come back as soon as a job finishes
                    self._capacity.clear()
                    await self._capacity.wait()
                    continue
                try:
                    done = await self._burst_done()
                    failures = 0
                except Exception:
                    failures += 1
                    delay = _backoff(failures)
                    logger.exception("Burst check failed; retrying in %.1fs", delay, extra={"action": "burst_failed"})
                    await self._sleep(delay)
                    continue
                if done:
                    self._idle.set()
                    return
                continue
            # Nothing more is due: sleep until an enqueue wakes us or the poll interval passes.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def _burst_done(self) -> bool:
        """In burst mode: True once nothing runs, every outcome is recorded and nothing is due."""
        assert self._capacity is not None
        while self._running:
            self._capacity.clear()
            await self._capacity.wait()
        await self._flush()
        if self._outcomes or await self._has_due_job():
            return False
        # A retry falling due within a poll interval still belongs to this burst.
        wait = await self.storage.seconds_until_due(self.queues)
        if wait is not None and wait <= self.poll_interval:
            await self._sleep(max(wait, 0.0))
            return False
        return True

    async def _claim(self, limit: int) -> list[Job]:
        return await self.storage.claim_jobs(
            limit, worker_id=self.id, lease_timeout=self.lease_timeout, queues=self.queues
        )

    async def _has_due_job(self) -> bool:
        claimed = await self._claim(self.concurrency + self._prefetch())
        self._add_claimed(claimed)
        return bool(claimed)

    def _add_claimed(self, claimed: list[Job], start: bool = True) -> None:
        self._claims += 1
        for job in claimed:
            self._claim_number[job.id] = self._claims
        self._buffer.extend(claimed)
        if start:
            self._start_buffered()

    def _prefetch(self) -> int:
        """How many jobs to hold beyond the free slots.

        Fixed if given; otherwise enough to keep every slot busy for about
        :data:`PREFETCH_HORIZON` seconds at the observed job duration, between ``concurrency`` and
        :data:`PREFETCH_FACTOR` times it: fast jobs come in large batches (one claim round trip serves
        many), slow jobs are not hoarded away from other workers.
        """
        if self.prefetch is not None:
            return self.prefetch
        if self._avg_duration is None:
            return self.concurrency
        wanted = int(self.concurrency * PREFETCH_HORIZON / max(self._avg_duration, 1e-6))
        return max(self.concurrency, min(self.concurrency * PREFETCH_FACTOR, wanted))

    def _observe(self, duration: float) -> None:
        previous = self._avg_duration
        self._avg_duration = duration if previous is None else previous + 0.1 * (duration - previous)

    def _start_buffered(self) -> None:
        while self._buffer and len(self._running) < self.concurrency:
            job = self._buffer.popleft()
            task = asyncio.create_task(self._execute(job), name=f"dbjobq-job-{job.id}")
            self._running[job.id] = (job, task)

    async def _execute(self, job: Job) -> None:
        assert self._capacity is not None and self._outcome_ready is not None
        try:
            self.stats.started += 1
            if self.hooks:
                await self.hooks.emit("job_started", job)
            result = await run_job(job, executor=self._executor)
            self._observe(result.duration)
            self._outcomes.append(result.outcome)
            if len(self._outcomes) == 1 or len(self._outcomes) >= self.flush_size:
                self._outcome_ready.set()
            await self._after_run(job, result)
        except asyncio.CancelledError:
            if job.id not in self._revoked:
                raise
            logger.info("Job %s interrupted", job.id, extra={"action": "job_interrupted", "job_id": job.id})
        finally:
            self._running.pop(job.id, None)
            self._claim_number.pop(job.id, None)
            self._revoked.discard(job.id)
            if self._state == "running":
                self._start_buffered()
            self._capacity.set()

    async def _after_run(self, job: Job, result: RunResult) -> None:
        status = result.outcome.status
        if status is JobStatus.COMPLETED:
            self.stats.completed += 1
            event: JobEvent = "job_succeeded"
        elif status is JobStatus.PENDING:
            self.stats.retried += 1
            event = "job_retried"
            logger.warning(
                "Job %s (%s) failed on attempt %d/%d, will retry: %r",
                job.id,
                job.type,
                job.attempts,
                job.max_retries + 1,
                result.exception,
                extra={"action": "job_retried", "job_id": job.id},
            )
        else:
            self.stats.failed += 1
            event = "job_failed"
            logger.error(
                "Job %s (%s) failed after %d attempt(s): %r",
                job.id,
                job.type,
                job.attempts,
                result.exception,
                extra={"action": "job_failed", "job_id": job.id},
            )
        if self.hooks:
            await self.hooks.emit(event, job, result)

    # -- recording outcomes ---------------------------------------------------------------------
    async def _flush_loop(self) -> None:
        assert self._outcome_ready is not None and self._stopping is not None
        failures = 0
        while True:
            await self._outcome_ready.wait()
            if len(self._outcomes) < self.flush_size:
                # A few milliseconds' wait gathers the outcomes of jobs finishing together.
                await asyncio.sleep(self.flush_interval)
            self._outcome_ready.clear()
            try:
                await self._flush()
                failures = 0
            except Exception:
                failures += 1
                delay = _backoff(failures)
                logger.exception(
                    "Recording %d outcome(s) failed; retrying in %.1fs",
                    len(self._outcomes),
                    delay,
                    extra={"action": "flush_failed"},
                )
                await asyncio.sleep(delay)
                self._outcome_ready.set()

    async def _flush(self, final: bool = False) -> None:
        """Record buffered outcomes. Failed writes stay buffered (final: retried a few times)."""
        async with self._flush_lock:  # a concurrent flush must land before anyone counts on it
            await self._flush_locked(final)

    async def _flush_locked(self, final: bool) -> None:
        attempts = 5 if final else 1
        for attempt in range(attempts):
            if not self._outcomes:
                return
            batch, self._outcomes = self._outcomes, []
            try:
                accepted = await self.storage.record_outcomes(batch)
            except BaseException:
                self._outcomes = batch + self._outcomes
                if not final or attempt == attempts - 1:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))
                continue
            if self._capacity is not None:
                self._capacity.set()  # a claim held back by unrecorded outcomes may go ahead
            for outcome in batch:
                if outcome.job_id not in accepted:
                    self.stats.rejected += 1
                    logger.warning(
                        "Outcome of job %s rejected: the job no longer holds this worker's claim "
                        "(cancelled, or its lease expired and it was requeued)",
                        outcome.job_id,
                        extra={"action": "outcome_rejected", "job_id": outcome.job_id},
                    )

    async def _release(self, claims: list[tuple[str, str]]) -> None:
        if not claims:
            return
        for attempt in range(5):
            try:
                released = await self.storage.release_jobs(claims)
                logger.info("Released %d unfinished job(s) back to pending", released)
                return
            except Exception:
                logger.exception("Releasing jobs failed (attempt %d); their leases will expire", attempt + 1)
                await asyncio.sleep(0.2 * (attempt + 1))

    # -- side loops -----------------------------------------------------------------------------
    async def _heartbeat_loop(self) -> None:
        while not await self._sleep(self.heartbeat_interval, until=self._closing):
            # Jobs claimed while the heartbeat is in flight may be missing from its answer: only
            # those claimed before it started can be judged lost.
            claims_before = self._claims
            try:
                held = await self.storage.extend_leases(self.id, self.lease_timeout)
            except Exception:
                logger.exception("Heartbeat failed", extra={"action": "heartbeat_failed"})
                continue
            self._revoke_lost(held, claims_before)
            if self.storage.supports_notifications and (
                self._subscription is None or not self._subscription.alive
            ):
                await self._unsubscribe()
                await self._subscribe()

    def _revoke_lost(self, held: set[str], claims_before: int) -> None:
        """Stop local work on jobs this worker no longer holds (cancelled, or lease lost)."""
        def lost(job: Job) -> bool:
            return job.id not in held and self._claim_number.get(job.id, claims_before + 1) <= claims_before

        for job in [j for j in self._buffer if lost(j)]:
            self._buffer.remove(job)
            self._claim_number.pop(job.id, None)
        for job_id, (job, task) in list(self._running.items()):
            if lost(job) and not task.done():
                logger.warning(
                    "Job %s is no longer held by this worker (cancelled or lease lost); stopping it",
                    job_id,
                    extra={"action": "job_revoked", "job_id": job_id},
                )
                self._revoked.add(job_id)
                task.cancel()

    async def _maintenance_loop(self) -> None:
        while True:
            try:
                await self.storage.recover_expired_leases()
                now = time.time()
                if now - self._last_retention >= 3600.0:
                    self._last_retention = now
                    await self._apply_retention()
            except Exception:
                logger.exception("Maintenance failed", extra={"action": "maintenance_failed"})
            if await self._sleep(self.maintenance_interval):
                return

    async def _apply_retention(self) -> None:
        removed = 0
        if self.retention is not None:
            removed += await self.storage.purge(self.retention, [JobStatus.COMPLETED, JobStatus.CANCELLED])
        if self.failed_retention is not None:
            removed += await self.storage.purge(self.failed_retention, [JobStatus.FAILED])
        await self.storage.prune_workers(max(3600.0, 10 * self.lease_timeout))
        if removed:
            logger.info("Retention removed %d finished job(s)", removed, extra={"action": "retention"})

    async def _scheduler_loop(self) -> None:
        while True:
            try:
                if await self.storage.fire_due_schedules():
                    self._notify()
            except Exception:
                logger.exception("Firing schedules failed", extra={"action": "scheduler_failed"})
            if await self._sleep(self.schedule_poll_interval):
                return


async def run_worker(queue: JobQueue, *, burst: bool = False, **options: Any) -> WorkerStats:
    """Run a worker on ``queue`` in the foreground (see :meth:`Worker.run`); return its counters."""
    worker = Worker(queue, **options)
    await worker.run(burst=burst)
    return worker.stats
