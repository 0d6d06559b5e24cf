"""JobQueue's queue controls: pause a queue durably (every worker stops claiming from it; its jobs stay
pending, running ones finish), resume it, and list queues with their state and backlog."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from .models import QueueInfo
from .storage.base import BaseStorage

logger = logging.getLogger(__name__)


class QueueControls:
    """Part of :class:`~dbjobq.JobQueue`: ``pause_queue``, ``resume_queue``, ``list_queues``."""

    storage: BaseStorage

    async def pause_queue(self, name: str, until: datetime | timedelta | float | None = None) -> None:
        """Stop every worker claiming from queue ``name`` (durable: in the database) until
        :meth:`resume_queue`, or until ``until`` (a datetime, a timedelta from now, or epoch seconds)
        passes. Its jobs stay pending; running ones finish. On PostgreSQL workers hear it at once,
        elsewhere within their poll interval."""
        now = await self.storage.now()  # the clock workers judge the pause by
        until_epoch = _epoch(until, now)
        if until_epoch is not None and until_epoch <= now:
            raise ValueError("until is in the past: give a later time, or no until to pause until resumed")
        await self.storage.set_queue_paused(name, True, until=until_epoch)
        logger.info("Queue %s paused", name, extra={"action": "queue_paused", "queue": name, "until": until_epoch})

    async def resume_queue(self, name: str) -> None:
        """Let workers claim from queue ``name`` again."""
        await self.storage.set_queue_paused(name, False)
        logger.info("Queue %s resumed", name, extra={"action": "queue_resumed", "queue": name})

    async def list_queues(self) -> list[QueueInfo]:
        """Every queue with jobs or a pause, by name: paused (and until when), pending and running
        counts, and the age in seconds of its oldest due pending job. Cheap on any table size."""
        now = await self.storage.now()
        controls = await self.storage.queue_controls()
        found: dict[str, QueueInfo] = {}
        for stats in await self.storage.queue_stats(count_cap=0):
            found[stats.name] = QueueInfo(
                stats.name,
                pending=stats.counts.get("pending", 0),
                running=stats.counts.get("running", 0),
                oldest_pending_age=None if stats.oldest_due_at is None else max(0.0, now - stats.oldest_due_at),
            )
        for name, (paused, until) in controls.items():
            info = found.setdefault(name, QueueInfo(name))
            info.paused = paused and (until is None or until > now)
            info.paused_until = until if info.paused else None
        return [found[name] for name in sorted(found)]


def _epoch(until: datetime | timedelta | float | None, now: float) -> float | None:
    """``until`` as epoch seconds (a naive datetime is taken as UTC; a timedelta counts from ``now``)."""
    if until is None:
        return None
    if isinstance(until, timedelta):
        return now + until.total_seconds()
    if isinstance(until, datetime):
        return (until if until.tzinfo else until.replace(tzinfo=timezone.utc)).timestamp()
    if isinstance(until, bool) or not isinstance(until, (int, float)):
        raise TypeError("until must be a datetime, a timedelta or epoch seconds")
    return float(until)
