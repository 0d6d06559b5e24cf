"""The worker: claims due jobs in batches, runs them concurrently, and records their outcomes in batches.

This module is the coordinator: the life cycle (start, stop, run, pause/resume), with the shutdown
order written once in :meth:`Worker.stop`. The parts it coordinates live beside it: the fetch loop
(``fetching``), the jobs held (``inflight``), running them (``running``, in ``threads`` for sync ones),
the outcome buffer (``outcomes``), leases and the heartbeat (``leases``), maintenance and schedules
(``maintenance``), wake-ups (``wakeups``), the supervised side tasks (``supervisor``) and signals
(``signals``). Every option is in ``config``. Delivery is at-least-once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Sequence
from datetime import timedelta
from types import TracebackType
from typing import Any

from .. import registry
from ..errors import WorkerError
from ..execution import SyncWrapper, safe_repr
from ..hooks import Hook, Hooks, JobEvent
from ..metrics.worker import serve_worker_metrics, worker_metrics
from ..queue import JobQueue
from .config import DEFAULTS, WorkerConfig
from .fetching import Fetcher
from .inflight import Claim, InFlight
from .leases import Heartbeat, release
from .maintenance import Maintenance, run_scheduler
from .outcomes import OutcomeBuffer
from .running import JobRunner
from .signals import stop_on_signals
from .stats import WorkerStats
from .supervisor import SideTasks
from .threads import JobThreads
from .wakeups import Wakeups

logger = logging.getLogger(__name__)


#: Side tasks that end on their own once told to, in the order the worker starts them.
_SIDE_LOOPS = ("flush", "heartbeat", "maintenance", "scheduler")


class Worker:
    """Runs jobs from a :class:`JobQueue`.

    ``concurrency`` jobs run at once (async ones as tasks, sync ones in threads). ``queues`` limits the
    queues served (``None``: all). Running jobs hold leases of ``lease_timeout`` seconds, renewed every
    ``heartbeat_interval``; a job whose worker dies returns to pending once its lease expires.
    ``stop()`` lets running jobs finish for up to ``shutdown_timeout`` seconds, then puts them back to
    pending. ``prefetch`` jobs are claimed beyond the free slots (default: adapted to the observed job
    duration, from ``concurrency`` up to 20 times it). ``retention`` (default 7 days) and
    ``failed_retention`` (30 days) bound how long finished jobs are kept; ``None`` keeps them.
    ``wrap_sync(call)`` wraps each sync job call in its thread. Every option and its default is in
    :class:`~dbjobq.worker.WorkerConfig`; ``Worker.from_config(queue, config)`` takes one.
    """

    def __init__(
        self,
        queue: JobQueue,
        poll_interval: float = DEFAULTS.poll_interval,
        schedule_poll_interval: float = DEFAULTS.schedule_poll_interval,
        concurrency: int = DEFAULTS.concurrency,
        queues: Sequence[str] | None = DEFAULTS.queues,
        heartbeat_interval: float = DEFAULTS.heartbeat_interval,
        lease_timeout: float = DEFAULTS.lease_timeout,
        shutdown_timeout: float = DEFAULTS.shutdown_timeout,
        *,
        prefetch: int | None = DEFAULTS.prefetch,
        retention: float | timedelta | None = DEFAULTS.retention,
        failed_retention: float | timedelta | None = DEFAULTS.failed_retention,
        maintenance_interval: float | None = DEFAULTS.maintenance_interval,
        flush_interval: float = DEFAULTS.flush_interval,
        flush_size: int = DEFAULTS.flush_size,
        error_limit: int | None = DEFAULTS.error_limit,
        name: str | None = DEFAULTS.name,
        wrap_sync: SyncWrapper | None = DEFAULTS.wrap_sync,
        metrics: bool | None = DEFAULTS.metrics,
        metrics_port: int | None = DEFAULTS.metrics_port,
        metrics_host: str = DEFAULTS.metrics_host,
        tracing: bool | None = DEFAULTS.tracing,
    ) -> None:
        config = WorkerConfig(
            concurrency=concurrency,
            queues=queues,  # type: ignore[arg-type]  # normalised to a tuple by WorkerConfig
            poll_interval=poll_interval,
            schedule_poll_interval=schedule_poll_interval,
            heartbeat_interval=heartbeat_interval,
            lease_timeout=lease_timeout,
            shutdown_timeout=shutdown_timeout,
            prefetch=prefetch,
            retention=retention,  # type: ignore[arg-type]  # normalised to seconds by WorkerConfig
            failed_retention=failed_retention,  # type: ignore[arg-type]
            maintenance_interval=maintenance_interval,
            flush_interval=flush_interval,
            flush_size=flush_size,
            error_limit=error_limit,
            name=name,
            wrap_sync=wrap_sync,
            metrics=metrics,
            metrics_port=metrics_port,
            metrics_host=metrics_host,
            tracing=tracing,
        )
        #: The validated options this worker runs with.
        self.config = config
        self.queue = queue
        self.storage = queue.storage
        self.id = (config.name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}")[:64]
        self.hooks = Hooks()
        self.stats = WorkerStats()
        self._state = "new"
        self._failure: tuple[str, BaseException] | None = None
        self._stopper: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = asyncio.Event()  # stop fetching; maintenance and the scheduler end
        self._closing = asyncio.Event()  # no job runs any more: the heartbeat and the flush loop end
        self._stopped = asyncio.Event()
        self._hurry = asyncio.Event()  # a second signal: stop waiting for running jobs
        self._inflight = InFlight(config.concurrency, config.prefetch)
        self._threads = JobThreads(on_abandoned_return=self._thread_returned)
        self._outcomes = OutcomeBuffer(
            self.storage, self.stats, config, on_recorded=self._outcomes_recorded, on_promoted=self._jobs_promoted
        )
        # Prometheus metrics when prometheus-client is installed (unless metrics=False): a few counter
        # increments per job; without it nothing is imported or recorded.
        self.metrics = worker_metrics() if config.metrics is not False else None
        self._metrics_server: Any = None
        self._runner = JobRunner(
            self._inflight, self._outcomes, self.stats, self.hooks, self._threads, config, on_done=self._job_done,
            metrics=self.metrics,
        )
        self._wakeups = Wakeups(
            queue, self.storage, config.poll_interval, on_queues=self._queues_changed, stats=self.stats
        )
        self._heartbeat = Heartbeat(self.storage, self.id, self._inflight, self._wakeups, config, self._outcomes)
        self._maintenance = Maintenance(self.storage, config)
        self._fetcher = Fetcher(
            self.storage, self.id, config, self._inflight, self._outcomes, self._threads, self._wakeups,
            self._maintenance, spawn=self._runner.spawn, stopping=self._stopping, metrics=self.metrics,
        )
        self._side = SideTasks(on_death=self._loop_died)

    @classmethod
    def from_config(cls, queue: JobQueue, config: WorkerConfig) -> Worker:
        """A worker on ``queue`` with the options of ``config``."""
        return cls(queue, **config.options())

    def __repr__(self) -> str:
        return f"Worker({self.id!r}, state={self._state})"

    @property
    def concurrency(self) -> int:
        """Jobs run at the same time."""
        return self.config.concurrency

    @property
    def queues(self) -> list[str] | None:
        """The queues served (``None``: all)."""
        return list(self.config.queues) if self.config.queues else None

    # -- public life cycle ----------------------------------------------------------------------
    def on(self, event: JobEvent, hook: Hook) -> None:
        """Call ``hook(job, result)`` on ``job_started``, ``job_succeeded``, ``job_failed`` or ``job_retried``."""
        self.hooks.add(event, hook)

    def is_running(self) -> bool:
        """True between :meth:`start` and the end of :meth:`stop` (paused or not)."""
        return self._state == "running"

    def is_paused(self) -> bool:
        """True while paused: running jobs go on, no new ones are claimed."""
        return self._fetcher.paused

    def pause(self) -> None:
        """Stop claiming new jobs; running ones finish."""
        self._fetcher.paused = True
        self._fetcher.resumed.clear()
        logger.info("Worker %s paused", self.id, extra={"action": "worker_paused"})

    def resume(self) -> None:
        """Claim jobs again after :meth:`pause`."""
        self._fetcher.paused = False
        self._fetcher.resumed.set()
        logger.info("Worker %s resumed", self.id, extra={"action": "worker_resumed"})

    async def start(self) -> None:
        """Start the background tasks and return. Raises if already started."""
        if self._state != "new":
            raise RuntimeError(f"This worker was already started ({self._state}); create a new Worker")
        self._loop = asyncio.get_running_loop()
        if not self._fetcher.paused:
            self._fetcher.resumed.set()
        self._runner.reset_context()  # every job starts from this context, not from the job before it
        # Schedules declared in code reach the database before anything fires (see dbjobq.declarations).
        await self.queue.sync_schedules()
        await self.storage.register_worker(
            self.id, queues=self.queues, concurrency=self.concurrency, job_types=self._fetcher.job_types()
        )
        if self.config.metrics_port is not None:
            self._metrics_server = serve_worker_metrics(self.config.metrics_host, self.config.metrics_port)
        await self._wakeups.open()
        self._state = "running"
        self._side.start("fetch", self._fetcher.run())
        self._side.start("flush", self._outcomes.run(self._closing))
        self._side.start("heartbeat", self._heartbeat.run(self._closing))
        self._side.start("maintenance", self._maintenance.run(self._stopping))
        self._side.start(
            "scheduler",
            run_scheduler(self.storage, self.config.schedule_poll_interval, self._wakeups.notify, self._stopping),
        )
        types = sorted(registry.registered())
        logger.info(
            "Worker %s started (concurrency %d, queues: %s; %d job type(s): %s)",
            self.id,
            self.concurrency,
            ", ".join(self.queues) if self.queues else "all",
            len(types),
            ", ".join(types) or "none registered",
            extra={"action": "worker_started", "queues": self.queues, "job_types": types},
        )

    async def stop(self, timeout: float | None = None) -> None:
        """Stop claiming, let running jobs finish (up to ``timeout``, default ``shutdown_timeout``),
        then put the unfinished ones back to pending. Nothing is lost."""
        if self._state == "stopping" and timeout == 0:
            self._hurry.set()  # already stopping (a second signal): stop waiting for the running jobs
            return
        if self._state != "running":
            return
        self._state = "stopping"
        timeout = self.config.shutdown_timeout if timeout is None else timeout
        unstarted = await self._stop_fetching(timeout)
        await self._drain(timeout)
        interrupted = await self._revoke_running()
        await self._final_flush()
        await release(self.storage, unstarted + interrupted)
        await self._finish_side_tasks()
        await self._close()

    async def run(self, burst: bool = False) -> None:
        """Run in the foreground until SIGTERM/SIGINT or :meth:`stop` (a second signal stops at once).

        With ``burst=True``, return once no due job is left. Raises :class:`~dbjobq.errors.WorkerError`
        if one of the worker's loops died (the worker stopped; the log has the traceback).
        """
        self._fetcher.burst = burst
        await self.start()
        with stop_on_signals(self.stop):
            waiters = [asyncio.ensure_future(self._stopped.wait())]
            if burst:
                waiters.append(asyncio.ensure_future(self._fetcher.idle.wait()))
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
            await self.stop()
            await self._stopped.wait()
        if self._failure is not None:
            name, exc = self._failure
            raise WorkerError(f"The worker's {name} loop died ({safe_repr(exc, 500)}); it stopped") from exc

    async def __aenter__(self) -> Worker:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- shutdown, in order ---------------------------------------------------------------------
    async def _stop_fetching(self, timeout: float) -> list[Claim]:
        """Stop claiming; return the claimed jobs that never started (to release)."""
        self._stopping.set()
        self._fetcher.wake_all()
        # A claim in flight lands first, so that its jobs are released rather than left to expire.
        await asyncio.wait({self._side.task("fetch")}, timeout=max(timeout, 5.0))
        self._side.cancel("fetch")
        return self._inflight.take_unstarted()

    async def _drain(self, timeout: float) -> None:
        """Let running jobs finish, for up to ``timeout`` seconds (or until a second signal)."""
        tasks = self._inflight.tasks()
        if not tasks:
            return
        logger.info("Waiting up to %gs for %d running job(s)", timeout, len(tasks), extra={"action": "draining"})
        all_done = asyncio.ensure_future(asyncio.wait(tasks))
        hurry = asyncio.ensure_future(self._hurry.wait())
        await asyncio.wait([all_done, hurry], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        all_done.cancel()
        hurry.cancel()

    async def _revoke_running(self) -> list[Claim]:
        """Interrupt the jobs still running; return their claims (to release)."""
        tasks = self._inflight.tasks()
        interrupted = self._inflight.revoke_all()
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)
        return interrupted

    async def _final_flush(self) -> None:
        """Record every buffered outcome (no job runs any more, so the heartbeat may end too)."""
        self._closing.set()
        self._outcomes.wake()
        try:
            await self._outcomes.flush(final=True)
        except Exception:
            logger.exception(
                "%d outcome(s) could not be recorded; those jobs run again once their leases expire",
                len(self._outcomes),
                extra={"action": "final_flush_failed"},
            )

    async def _finish_side_tasks(self) -> None:
        await self._side.finish(*_SIDE_LOOPS, timeout=10.0)

    async def _close(self) -> None:
        await self._wakeups.close()
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
            self._metrics_server.server_close()
        try:
            await self.storage.unregister_worker(self.id)
        except Exception:
            logger.warning("Could not unregister worker %s", self.id, exc_info=True)
        self._threads.shutdown()  # abandoned threads are logged and left to end with the process
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

    def _loop_died(self, name: str, exc: BaseException) -> None:
        if self._failure is None:
            self._failure = (name, exc)
        self._stopper = asyncio.ensure_future(self.stop())

    # -- callbacks from the parts ---------------------------------------------------------------
    def _job_done(self) -> None:
        if self._state == "running":
            self._fetcher.start_buffered()
        self._fetcher.capacity.set()

    def _queues_changed(self) -> None:
        self._fetcher.paused_queues.mark_stale()  # the wake-up that comes with it claims with the new set

    def _jobs_promoted(self) -> None:
        self._wakeups.notify()  # waiting jobs became pending: claim them now

    def _outcomes_recorded(self) -> None:
        self._fetcher.capacity.set()  # a claim held back by unrecorded outcomes may go ahead

    def _thread_returned(self) -> None:
        """An abandoned job thread returned (called from that thread): its slot is free again."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._job_done)
