"""Eager mode: a job runs as it is enqueued, each attempt claimed and recorded as a worker would.

The loop is shared by ``JobQueue(storage, eager=True)`` and the adapters that write through their own
ORM (Django), which pass their own ``claim`` and ``record``: the job row ends with the status,
result or error and attempts a worker would have left. A failed attempt with retries left runs again
at once, without the backoff wait (as Celery's ``task_always_eager`` does); a job that lost its claim
meanwhile (cancelled) stops there.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor

from .execution import RunResult, run_job
from .models import Job, Outcome
from .storage.base import BaseStorage

logger = logging.getLogger(__name__)

#: Seconds an eager run's claim lasts (no heartbeat renews it; a longer run could be recovered).
LEASE_TIMEOUT = 3600.0

Claim = Callable[[str], Awaitable[Job | None]]
Record = Callable[[Outcome], Awaitable[bool]]


def worker_id() -> str:
    """The ``worker_id`` eager runs are recorded under: ``eager:<host>:<pid>``."""
    return f"eager:{socket.gethostname()}:{os.getpid()}"


async def run_eagerly(
    job_id: str,
    *,
    claim: Claim,
    record: Record,
    executor: Executor | None = None,
    storage: BaseStorage | None = None,
) -> RunResult | None:
    """Run job ``job_id`` now, attempt after attempt, until it completes, fails for good or loses its
    claim; return the last run (``None`` if the job was not pending).

    ``claim(job_id)`` claims the pending job whether it is due or not; ``record(outcome)`` records an
    outcome and says whether the claim still held. Sync job functions run in ``executor``.
    """
    last: RunResult | None = None
    while True:
        job = await claim(job_id)
        if job is None:
            return last
        last = await run_job(job, executor=executor, storage=storage)
        if not await record(last.outcome):
            logger.warning(
                "Outcome of eagerly run job %s rejected: it no longer holds its claim (cancelled)",
                job_id,
                extra={"action": "outcome_rejected", "job_id": job_id},
            )
            return last
        logger.debug(
            "Ran job %s (%s) eagerly: attempt %d, %s",
            job_id,
            job.type,
            job.attempts,
            last.outcome.status.value,
            extra={"action": "eager_run", "job_id": job_id},
        )
        if not last.retried:  # completed, failed, or snoozed (pending, due later)
            return last


async def run_stored(storage: BaseStorage, job_ids: list[str]) -> None:
    """Run each job of ``job_ids`` eagerly, in order, claiming and recording through ``storage``."""

    async def claim(job_id: str) -> Job | None:
        return await storage.claim_job(job_id, worker_id=worker_id(), lease_timeout=LEASE_TIMEOUT)

    async def record(outcome: Outcome) -> bool:
        return outcome.job_id in await storage.record_outcomes([outcome])

    for job_id in job_ids:
        await run_eagerly(job_id, claim=claim, record=record, storage=storage)
