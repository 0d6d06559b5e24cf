"""Paused queues as this worker sees them: read from the database, kept out of every claim.

The set is read again when a notification says a queue was paused or resumed (PostgreSQL: at once)
and otherwise every poll interval, so a pause reaches every worker within that interval, and a pause
``until`` a time ends by itself. Between reads a claim costs nothing more: the set is local.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from ..storage.base import BaseStorage

logger = logging.getLogger(__name__)


class PausedQueues:
    """The queues paused now, refreshed from the storage at most every ``interval`` seconds (or when stale)."""

    def __init__(self, storage: BaseStorage, interval: float) -> None:
        self.storage = storage
        self.interval = interval
        self.names: frozenset[str] = frozenset()
        self._read_at = float("-inf")

    def mark_stale(self) -> None:
        """Read the set again before the next claim (a queue was paused or resumed)."""
        self._read_at = float("-inf")

    async def refresh(self) -> None:
        """Read the paused queues if the last read is older than the interval (raises on database errors)."""
        now = time.monotonic()
        if now - self._read_at < self.interval:
            return
        self._read_at = now
        names = frozenset(await self.storage.paused_queues())
        if names != self.names:
            for name in sorted(names - self.names):
                logger.info(
                    "Queue %s is paused: not claiming from it", name, extra={"action": "queue_paused", "queue": name}
                )
            for name in sorted(self.names - names):
                logger.info("Queue %s resumed", name, extra={"action": "queue_resumed", "queue": name})
            self.names = names

    def claim_filter(self, served: Sequence[str] | None) -> tuple[list[str] | None, list[str] | None] | None:
        """``(queues, exclude)`` for the claim of a worker serving ``served`` (None: all), or ``None``
        when every queue it serves is paused (nothing to claim)."""
        if not self.names:
            return (list(served) if served else None), None
        if served:
            left = [q for q in served if q not in self.names]
            return (left, None) if left else None
        return None, sorted(self.names)
