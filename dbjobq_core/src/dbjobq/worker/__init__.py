"""The worker: a coordinator (:class:`Worker`) over named parts, each in its own module.

``config`` (every option, :class:`WorkerConfig`), ``coordinator`` (start, stop, run), ``fetching``
(the fetch loop), ``inflight`` (the jobs held), ``running`` (one task per job), ``threads`` (sync jobs),
``outcomes`` (the outcome buffer), ``leases`` (heartbeat, release), ``maintenance`` (recovery,
retention, schedules), ``wakeups``, ``supervisor`` (the side tasks) and ``signals``.
"""

from __future__ import annotations

from typing import Any

from ..errors import WorkerError
from ..queue import JobQueue
from .config import WorkerConfig
from .coordinator import Worker
from .inflight import PREFETCH_FACTOR, PREFETCH_HORIZON
from .stats import WorkerStats

__all__ = [
    "PREFETCH_FACTOR",
    "PREFETCH_HORIZON",
    "Worker",
    "WorkerConfig",
    "WorkerError",
    "WorkerStats",
    "run_worker",
]


async def run_worker(queue: JobQueue, *, burst: bool = False, **options: Any) -> WorkerStats:
    """Run a worker on ``queue`` in the foreground (see :meth:`Worker.run`); return its counters."""
    worker = Worker.from_config(queue, WorkerConfig.from_options(options))
    await worker.run(burst=burst)
    return worker.stats
