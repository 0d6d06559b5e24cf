"""Wake-ups: how an idle worker learns of new jobs before its next poll.

Two sources set one event: an enqueue through the worker's own ``JobQueue`` (in-process), and on
PostgreSQL a LISTEN subscription that the heartbeat re-opens if its connection is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from ..queue import JobQueue
from ..storage.base import BaseStorage, Subscription

logger = logging.getLogger(__name__)


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
    ) -> None:
        self.queue = queue
        self.storage = storage
        self.poll_interval = poll_interval
        self.on_queues = on_queues  # a queue was paused or resumed (PostgreSQL's NOTIFY)
        self.event = asyncio.Event()
        self.subscription: Subscription | None = None

    def notify(self) -> None:
        """Wake the fetch loop (an enqueue, a notification, a schedule that fired)."""
        self.event.set()

    async def open(self) -> None:
        """Listen to in-process enqueues and, where the database can push them, to notifications."""
        self.queue.add_enqueue_listener(self.notify)
        await self._subscribe()

    async def close(self) -> None:
        """Stop listening."""
        self.queue.remove_enqueue_listener(self.notify)
        await self._unsubscribe()

    async def wait(self) -> None:
        """Wait for a wake-up, at most ``poll_interval`` seconds."""
        await sleep_until(self.poll_interval, self.event)

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
