"""The outcome buffer: finished jobs' outcomes, recorded in batches on size or time.

A write that fails keeps its outcomes buffered for the next try; while more than a batch waits, the
worker claims nothing new (see ``Worker``), so a database that cannot keep up holds the worker back
instead of filling its memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from ..models import JobStatus, Outcome
from ..storage.base import BaseStorage
from .backoff import backoff
from .config import WorkerConfig
from .inflight import InFlight
from .stats import WorkerStats
from .wakeups import sleep_until

logger = logging.getLogger(__name__)

#: Seconds between two looks at waiting jobs after jobs finished (their dependents may be ready), while
#: the last look found jobs waiting.
SETTLE_INTERVAL = 0.05
#: The same when the last look found none: a worker that never sees ``depends_on`` makes one such
#: query a second, not one per flush. A dependent enqueued meanwhile starts at most this much later.
SETTLE_IDLE_INTERVAL = 1.0
_FINISHED = (JobStatus.COMPLETED, JobStatus.FAILED)


class OutcomeBuffer:
    """Outcomes waiting to be recorded; :meth:`run` is the flush loop, :meth:`flush` a flush now."""

    def __init__(
        self,
        storage: BaseStorage,
        stats: WorkerStats,
        config: WorkerConfig,
        *,
        on_recorded: Callable[[], None],
        on_promoted: Callable[[], None] | None = None,
    ) -> None:
        self.storage = storage
        self.stats = stats
        self.flush_size = config.flush_size
        self.flush_interval = config.flush_interval
        self._on_recorded = on_recorded
        self._on_promoted = on_promoted
        self._settled_at = 0.0  # when waiting jobs were last looked at (monotonic)
        self._settle_every = SETTLE_INTERVAL  # SETTLE_IDLE_INTERVAL once a look found no job waiting
        self._settle_owed = False  # a job finished since: its dependents may be ready
        self._settle_scheduled = False
        self._outcomes: list[Outcome] = []
        self._started: list[tuple[str, str]] = []  # claims of jobs taken back, now starting
        self._marked: asyncio.Future[None] | None = None  # done once those starts are written
        self._ready = asyncio.Event()
        self._lock = asyncio.Lock()  # a concurrent flush must land before anyone counts on it

    def __len__(self) -> int:
        return len(self._outcomes)

    def add(self, outcome: Outcome) -> None:
        """Buffer ``outcome``; the flush loop records it within ``flush_interval`` (at once when full)."""
        self._outcomes.append(outcome)
        if len(self._outcomes) == 1 or len(self._outcomes) >= self.flush_size:
            self._ready.set()

    async def take_back_waiting(self, inflight: InFlight, min_wait: float) -> None:
        """Take back the attempts of the jobs waiting in the buffer for ``min_wait`` seconds or more, so
        that they return uncounted if the worker dies (under the flush lock: a start recorded by
        :meth:`mark_started` always lands after it)."""
        async with self._lock:
            claims = inflight.take_back_waiting(min_wait)
            if claims:
                # If this fails the rows keep their attempt: mark_started then finds nothing to change.
                await self.storage.mark_unstarted(claims)

    def mark_started(self, claim: tuple[str, str]) -> asyncio.Future[None]:
        """Count again, at once, the attempt of a job taken back while it waited, with the others
        starting meanwhile; the returned future is done once it is written."""
        self._started.append(claim)
        if self._marked is None:
            self._marked = asyncio.get_running_loop().create_future()
        self._ready.set()
        return self._marked

    def wake(self) -> None:
        """Let the flush loop see that the worker is closing."""
        self._ready.set()

    async def run(self, closing: asyncio.Event) -> None:
        """Record outcomes as they come, until ``closing`` (the final flush is :meth:`flush` ``(final=True)``)."""
        failures = 0
        while True:
            await self._ready.wait()
            if closing.is_set():
                return
            wait = not self._started and len(self._outcomes) < self.flush_size  # starts are written at once
            if wait and await sleep_until(self.flush_interval, closing):
                return  # a few milliseconds' wait gathers the outcomes of jobs finishing together
            self._ready.clear()
            try:
                await self.flush()
                failures = 0
            except Exception:
                failures += 1
                delay = backoff(failures)
                logger.exception(
                    "Recording %d outcome(s) failed; retrying in %.1fs",
                    len(self._outcomes),
                    delay,
                    extra={"action": "flush_failed"},
                )
                if await sleep_until(delay, closing):
                    return
                self._ready.set()

    async def flush(self, final: bool = False) -> None:
        """Record the buffered outcomes. A failed write keeps them buffered (``final``: after 5 tries)."""
        async with self._lock:
            attempts = 5 if final else 1
            for attempt in range(attempts):
                if not self._outcomes and not self._started:
                    break
                batch, self._outcomes = self._outcomes, []
                started, self._started = self._started, []
                marked, self._marked = self._marked, None
                try:
                    if started:
                        await self.storage.mark_started(started)
                        if marked is not None:
                            marked.set_result(None)
                        started, marked = [], None
                    accepted = await self.storage.record_outcomes(batch)
                except BaseException:
                    self._outcomes = batch + self._outcomes
                    self._started = started + self._started
                    if marked is not None:
                        if self._marked is not None:  # later starts wait on the same write as these
                            self._marked.add_done_callback(lambda _f, m=marked: m.done() or m.set_result(None))
                        else:
                            self._marked = marked
                    if not final or attempt == attempts - 1:
                        raise
                    await asyncio.sleep(0.2 * (attempt + 1))
                    continue
                self._on_recorded()
                self._report_rejected(batch, accepted)
                if any(o.status in _FINISHED and o.job_id in accepted for o in batch):
                    self._settle_owed = True
            await self._settle()

    def _settle_due(self) -> None:
        self._settle_scheduled = False
        self._ready.set()

    async def _settle(self) -> None:
        """Promote (or fail) the jobs waiting for the jobs that just finished, at most every
        :data:`SETTLE_INTERVAL` s while jobs wait, every :data:`SETTLE_IDLE_INTERVAL` s while none
        did at the last look. Owed passes are made by the flush loop's next wake-up, and the
        maintenance loop looks too."""
        if not self._settle_owed:
            return
        now = time.monotonic()
        wait = self._settled_at + self._settle_every - now
        if wait > 0:
            if not self._settle_scheduled:
                self._settle_scheduled = True
                asyncio.get_running_loop().call_later(wait, self._settle_due)
            return
        self._settle_owed, self._settled_at = False, now
        try:
            resolved = await self.storage.resolve_waiting()
        except Exception:
            self._settle_owed = True
            logger.exception("Checking waiting jobs failed", extra={"action": "dependencies_failed"})
            return
        self._settle_every = SETTLE_INTERVAL if resolved.waiting or resolved.promoted else SETTLE_IDLE_INTERVAL
        if resolved.promoted and self._on_promoted is not None:
            self._on_promoted()

    def _report_rejected(self, batch: list[Outcome], accepted: set[str]) -> None:
        for outcome in batch:
            if outcome.job_id not in accepted:
                self.stats.rejected += 1
                logger.warning(
                    "Outcome of job %s rejected: the job no longer holds this worker's claim "
                    "(cancelled, or its lease expired and it was requeued)",
                    outcome.job_id,
                    extra={"action": "outcome_rejected", "job_id": outcome.job_id},
                )
