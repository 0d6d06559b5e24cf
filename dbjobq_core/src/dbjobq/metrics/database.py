"""Database gauges: jobs by queue and status, running jobs claimed ahead per queue, the oldest due job's
wait per queue, paused queues and the workers alive, read through ``JobQueue`` from the indexes (cheap
with a million rows) and cached for a few seconds, so that any number of scrapers cost one read per
interval."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from ..models import JobStatus
from .worker import existing_worker_metrics

if TYPE_CHECKING:
    from ..queue import JobQueue

#: A worker whose heartbeat is older than this counts as not alive (the default lease is 30 s).
ALIVE_SECONDS = 30.0


class DatabaseMetrics:
    """The database gauges of one queue (its storage), cached for ``cache_seconds``.

    Pending and running jobs are counted exactly; each finished status of a queue stops counting at
    ``count_cap`` (the dashboard's bound), so its gauge is then a lower bound.
    """

    def __init__(self, cache_seconds: float = 5.0, count_cap: int = 10_000) -> None:
        self.cache_seconds = cache_seconds
        self.count_cap = count_cap
        self._cached: tuple[float, list[Any]] | None = None
        self._lock = asyncio.Lock()

    async def families(self, queue: JobQueue) -> list[Any]:
        """The gauge families (read again when the cache is older than ``cache_seconds``)."""
        async with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] >= self.cache_seconds:
                self._cached = (now, await self._read(queue))
            return self._cached[1]

    async def _read(self, queue: JobQueue) -> list[Any]:
        from prometheus_client.core import GaugeMetricFamily

        now = time.time()
        jobs = GaugeMetricFamily("dbjobq_jobs", "Jobs in the database now, by queue and status (each finished "
                                 "status counted up to a cap per queue).", labels=["queue", "status"])
        claimed = GaugeMetricFamily("dbjobq_jobs_claimed_ahead", "Running jobs claimed ahead that have not "
                                    "started: waiting in a worker's buffer past a heartbeat (included in "
                                    'dbjobq_jobs{status="running"}).', labels=["queue"])
        oldest = GaugeMetricFamily("dbjobq_queue_oldest_pending_age_seconds",
                                   "How long the oldest due pending job of each queue has waited (0: none).",
                                   labels=["queue"])
        paused = GaugeMetricFamily("dbjobq_queue_paused", "1 while the queue is paused.", labels=["queue"])
        stats = await queue.queue_stats(self.count_cap)
        for entry in stats:
            for status in JobStatus:
                count = entry.counts.get(status.value, 0)
                jobs.add_metric([entry.name, status.value], float(count))
            claimed.add_metric([entry.name], float(entry.claimed))
        for info in await queue.list_queues():
            oldest.add_metric([info.name], info.oldest_pending_age or 0.0)
            paused.add_metric([info.name], 1.0 if info.paused else 0.0)
        workers = await queue.list_workers()
        alive = GaugeMetricFamily("dbjobq_workers_alive", "Workers whose heartbeat is recent.",
                                  value=float(sum(1 for w in workers if now - w.last_heartbeat < ALIVE_SECONDS)))
        return [jobs, claimed, oldest, paused, alive]


async def render_metrics(queue: JobQueue, database: DatabaseMetrics, *, include_worker: bool = True) -> bytes:
    """Prometheus text: the database gauges and (when this process runs a worker that records them)
    the worker metrics."""
    from prometheus_client import CollectorRegistry, generate_latest

    families = await database.families(queue)

    class _Snapshot:
        def collect(self) -> list[Any]:
            return families

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot())  # type: ignore[arg-type]
    text = generate_latest(registry)
    metrics = existing_worker_metrics() if include_worker else None
    if metrics is not None:
        text += generate_latest(metrics.registry)
    return text
