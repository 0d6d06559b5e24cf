"""Wake-ups: how an idle worker learns of new jobs before its next poll.

Two sources set one event: an enqueue through the worker's own ``JobQueue`` (in-process), and on
PostgreSQL a LISTEN subscription that the heartbeat re-opens if its connection is lost.

Where the database cannot push (SQLite, MySQL, MariaDB), the worker asks the storage's change probe
(:mod:`dbjobq.storage.probes`) between polls: every few milliseconds while jobs flow, then less
often the longer it stays idle — every tenth of its idle time — until the probe would be no sooner
than the next poll, when it stops probing and just polls every ``poll_interval`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from ..queue import JobQueue
from ..storage.base import BaseStorage, ChangeProbe, Subscription
from .stats import WorkerStats

logger = logging.getLogger(__name__)

#: An idle worker probes every ``IDLE_FRACTION`` times the seconds since it last saw jobs.
IDLE_FRACTION = 0.1


def probe_interval(idle: float, fastest: float, slowest: float) -> float:
    """Seconds until the next probe after ``idle`` seconds without jobs: ``fastest`` while jobs flowed
    recently, growing with the idle time (a tenth of it), never over ``slowest``."""
    return min(slowest, max(fastest, idle * IDLE_FRACTION))


async def sleep_until(seconds: float, event: asyncio.Event) -> bool:
    """Sleep ``seconds`` unless ``event`` is set first; return whether it is set."""
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
    return event.is_set()


class Wakeups:
    """The event an idle fetch loop waits on, and the subscriptions that set it."""

    def __init__(
        self,
        queue: JobQueue,
        storage: BaseStorage,
        poll_interval: float,
        on_queues: Callable[[], None] | None = None,
        stats: WorkerStats | None = None,
    ) -> None:
        self.queue = queue
        self.storage = storage
        self.poll_interval = poll_interval
        self.on_queues = on_queues  # a queue was paused or resumed (PostgreSQL's NOTIFY)
        self.stats = stats if stats is not None else WorkerStats()
        self.event = asyncio.Event()
        self.subscription: Subscription | None = None
        self.probe: ChangeProbe | None = None
        self._last_jobs = 0.0  # time.monotonic() when jobs last came (claimed, or an enqueue here)

    def notify(self) -> None:
        """Wake the fetch loop (an enqueue, a notification, a schedule that fired)."""
        self.event.set()
        self.saw_jobs()

    def saw_jobs(self) -> None:
        """Jobs are flowing (the fetch loop claimed some): probe at the fastest pace again."""
        self._last_jobs = time.monotonic()

    async def open(self) -> None:
        """Listen to in-process enqueues and, where the database can push them, to notifications;
        elsewhere open the storage's change probe."""
        self.queue.add_enqueue_listener(self.notify)
        await self._subscribe()
        if not self.storage.supports_notifications:
            self.probe = await self.storage.open_change_probe()
            if self.probe is not None:
                await self.probe.changed()  # the baseline, taken before the first claim
        self.saw_jobs()

    async def close(self) -> None:
        """Stop listening."""
        self.queue.remove_enqueue_listener(self.notify)
        await self._unsubscribe()
        probe, self.probe = self.probe, None
        if probe is not None:
            await probe.close()

    async def wait(self) -> None:
        """Wait for a wake-up, at most ``poll_interval`` seconds; with a probe, also until it sees a change."""
        deadline = time.monotonic() + self.poll_interval
        while True:
            now = time.monotonic()
            remaining = deadline - now
            if self.probe is None or remaining <= 0:
                await sleep_until(max(remaining, 0.0), self.event)
                return
            interval = probe_interval(now - self._last_jobs, self.probe.fastest, self.poll_interval)
            if interval >= remaining:
                await sleep_until(remaining, self.event)  # the poll comes first: no need to probe
                return
            if await sleep_until(interval, self.event):
                return
            self.stats.probes += 1
            if await self.probe.changed():
                return

    async def keep_listening(self) -> None:
        """Subscribe again if the LISTEN connection was lost (called by the heartbeat)."""
        if self.storage.supports_notifications and (self.subscription is None or not self.subscription.alive):
            await self._unsubscribe()
            await self._subscribe()

    async def _subscribe(self) -> None:
        if not self.storage.supports_notifications:
            return
        try:
            self.subscription = await self.storage.listen(self.notify, self.on_queues)
        except Exception:
            logger.warning(
                "LISTEN failed; polling every %gs until it works", self.poll_interval, exc_info=True,
                extra={"action": "listen_failed"},
            )
            self.subscription = None

    async def _unsubscribe(self) -> None:
        if self.subscription is not None:
            with contextlib.suppress(Exception):
                await self.subscription.close()
            self.subscription = None
