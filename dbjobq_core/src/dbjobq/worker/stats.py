"""A worker's counters."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class WorkerStats:
    """Counters since the worker started."""

    started: int = 0
    completed: int = 0
    failed: int = 0
    retried: int = 0
    snoozed: int = 0
    rejected: int = 0
    #: Change probes asked while idle (databases without LISTEN: see dbjobq.worker.wakeups).
    probes: int = 0
