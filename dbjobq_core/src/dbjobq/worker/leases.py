"""Leases: the heartbeat that renews this worker's claims, and the release of unfinished ones on stop.

The heartbeat also notices the jobs this worker no longer holds (cancelled, or taken over after its
lease expired) and stops their local work, and keeps the LISTEN subscription alive.
"""

from __future__ import annotations

import asyncio
import logging

from ..storage.base import BaseStorage
from .config import WorkerConfig
from .inflight import Claim, InFlight
from .outcomes import OutcomeBuffer
from .wakeups import Wakeups, sleep_until

logger = logging.getLogger(__name__)


class Heartbeat:
    """Renews the leases of this worker's running jobs every ``interval`` seconds, and takes back the
    attempt of the claimed jobs that have waited in the buffer since the last beat."""

    def __init__(
        self,
        storage: BaseStorage,
        worker_id: str,
        inflight: InFlight,
        wakeups: Wakeups,
        config: WorkerConfig,
        outcomes: OutcomeBuffer,
    ) -> None:
        self.storage = storage
        self.worker_id = worker_id
        self.inflight = inflight
        self.wakeups = wakeups
        self.outcomes = outcomes
        self.interval = config.heartbeat_interval
        self.lease_timeout = config.lease_timeout

    async def run(self, closing: asyncio.Event) -> None:
        """Renew leases until ``closing`` is set (once no job runs any more)."""
        while not await sleep_until(self.interval, closing):
            # Jobs claimed while the heartbeat is in flight may be missing from its answer: only
            # those claimed before it started can be judged lost.
            claims_before = self.inflight.claims
            try:
                held = await self.storage.extend_leases(self.worker_id, self.lease_timeout)
            except Exception:
                logger.exception("Heartbeat failed", extra={"action": "heartbeat_failed"})
                continue
            for job_id in self.inflight.lost(held, claims_before):
                logger.warning(
                    "Job %s is no longer held by this worker (cancelled or lease lost); stopping it",
                    job_id,
                    extra={"action": "job_revoked", "job_id": job_id},
                )
                self.inflight.revoke(job_id)
            # Jobs still waiting in the buffer since the last beat or before: not started, so their
            # attempt is taken back and a crash returns them uncounted.
            try:
                await self.outcomes.take_back_waiting(self.inflight, self.interval)
            except Exception:
                logger.exception("Taking back waiting jobs' attempts failed", extra={"action": "heartbeat_failed"})
            await self.wakeups.keep_listening()


async def release(storage: BaseStorage, claims: list[Claim]) -> None:
    """Put claimed jobs this worker will not finish back to pending (a few tries; else leases expire)."""
    if not claims:
        return
    for attempt in range(5):
        try:
            released = await storage.release_jobs(claims)
            logger.info(
                "Released %d unfinished job(s) back to pending", released, extra={"action": "jobs_released"}
            )
            return
        except Exception:
            logger.exception(
                "Releasing jobs failed (attempt %d); their leases will expire", attempt + 1,
                extra={"action": "release_failed"},
            )
            await asyncio.sleep(0.2 * (attempt + 1))
