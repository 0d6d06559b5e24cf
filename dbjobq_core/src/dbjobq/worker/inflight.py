"""The jobs a worker holds: claimed but not started yet (the buffer), and running (one task each).

It also sizes the next claim (adaptive prefetch) and decides which jobs the worker no longer holds.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone

from ..models import Job

#: With adaptive prefetch, claimed jobs cover about this many seconds of work per slot...
PREFETCH_HORIZON = 0.05
#: ...up to this many times ``concurrency`` jobs held beyond the running ones.
PREFETCH_FACTOR = 20

Claim = tuple[str, str]  # (job id, lease token)


class InFlight:
    """Claimed and running jobs of one worker, with the claim round trip that brought each."""

    def __init__(self, concurrency: int, prefetch: int | None) -> None:
        self.concurrency = concurrency
        self.fixed_prefetch = prefetch
        self.buffer: deque[Job] = deque()
        self.running: dict[str, tuple[Job, asyncio.Task[None]]] = {}
        #: Jobs whose task the worker cancelled itself (stop, lost lease): their end is no failure.
        self.revoked: set[str] = set()
        #: Buffered jobs whose attempt was taken back while they waited (counted again as they start).
        self.uncounted: set[str] = set()
        self._claimed_at: dict[str, float] = {}  # time.monotonic() of each buffered job's claim
        self.claims = 0  # claim round trips so far
        self._claim_number: dict[str, int] = {}
        self._avg_duration: float | None = None

    def __len__(self) -> int:
        return len(self.buffer) + len(self.running)

    # -- sizing ---------------------------------------------------------------------------------
    def prefetch(self) -> int:
        """How many jobs to hold beyond the free slots.

        Fixed if given; otherwise enough to keep every slot busy for about :data:`PREFETCH_HORIZON`
        seconds at the observed job duration, between ``concurrency`` and :data:`PREFETCH_FACTOR`
        times it: fast jobs come in large batches (one claim round trip serves many), slow jobs are not
        hoarded away from other workers.
        """
        if self.fixed_prefetch is not None:
            return self.fixed_prefetch
        if self._avg_duration is None:
            return self.concurrency
        wanted = int(self.concurrency * PREFETCH_HORIZON / max(self._avg_duration, 1e-6))
        return max(self.concurrency, min(self.concurrency * PREFETCH_FACTOR, wanted))

    def capacity(self) -> int:
        """Jobs this worker may hold at once: running plus claimed ahead."""
        return self.concurrency + self.prefetch()

    def observe(self, duration: float) -> None:
        """Fold one run's duration into the moving average prefetch is sized by."""
        previous = self._avg_duration
        self._avg_duration = duration if previous is None else previous + 0.1 * (duration - previous)

    # -- claimed and running --------------------------------------------------------------------
    def add_claimed(self, claimed: list[Job]) -> None:
        """Buffer the jobs of one claim round trip."""
        self.claims += 1
        now = time.monotonic()
        for job in claimed:
            self._claim_number[job.id] = self.claims
            self._claimed_at[job.id] = now
        self.buffer.extend(claimed)

    def take_back_waiting(self, min_wait: float) -> list[Claim]:
        """The claims of buffered jobs waiting ``min_wait`` seconds or more whose attempt is still
        counted: from now on they count as not started (here in memory; the caller writes it)."""
        oldest = time.monotonic() - min_wait
        taken: list[Claim] = []
        for job in self.buffer:
            if job.id not in self.uncounted and self._claimed_at.get(job.id, oldest) <= oldest:
                self.uncounted.add(job.id)
                job.attempts -= 1
                job.started_at = None
                taken.append((job.id, job.lease_token or ""))
        return taken

    def start_buffered(self, slots: int, spawn: Callable[[Job, bool], asyncio.Task[None]]) -> None:
        """Start buffered jobs while fewer than ``slots`` run: ``spawn(job, uncounted)``, ``uncounted``
        for a job whose attempt was taken back (counted again here in memory, still to be written)."""
        while self.buffer and len(self.running) < slots:
            job = self.buffer.popleft()
            self._claimed_at.pop(job.id, None)
            uncounted = job.id in self.uncounted
            if uncounted:
                self.uncounted.discard(job.id)
                job.attempts += 1
                job.started_at = datetime.now(timezone.utc)
            self.running[job.id] = (job, spawn(job, uncounted))

    def finished(self, job_id: str) -> None:
        """Forget a job whose task ended."""
        self.running.pop(job_id, None)
        self._claim_number.pop(job_id, None)
        self.revoked.discard(job_id)

    def take_unstarted(self) -> list[Claim]:
        """Empty the buffer, returning the claims to release."""
        claims = [(job.id, job.lease_token or "") for job in self.buffer]
        for job in self.buffer:
            self._claim_number.pop(job.id, None)
        self.buffer.clear()
        self.uncounted.clear()
        self._claimed_at.clear()
        return claims

    def revoke(self, job_id: str) -> None:
        """Cancel a running job's task; its end is then an interruption, not a failure."""
        entry = self.running.get(job_id)
        if entry is not None and not entry[1].done():
            self.revoked.add(job_id)
            entry[1].cancel()

    def revoke_all(self) -> list[Claim]:
        """Cancel every running job (stop); return the claims of those that had not finished."""
        interrupted = [(job.id, job.lease_token or "") for job, task in self.running.values() if not task.done()]
        for job_id in list(self.running):
            self.revoke(job_id)
        return interrupted

    def tasks(self) -> list[asyncio.Task[None]]:
        """The running jobs' tasks."""
        return [task for _, task in self.running.values()]

    def lost(self, held: set[str], claims_before: int) -> list[str]:
        """Drop buffered jobs this worker no longer holds; return the running ones to revoke.

        ``held`` is the heartbeat's answer; jobs claimed while it was in flight (after round trip
        ``claims_before``) may be missing from it, so only earlier ones are judged.
        """

        def gone(job: Job) -> bool:
            return job.id not in held and self._claim_number.get(job.id, claims_before + 1) <= claims_before

        for job in [j for j in self.buffer if gone(j)]:
            self.buffer.remove(job)
            self._claim_number.pop(job.id, None)
            self.uncounted.discard(job.id)
            self._claimed_at.pop(job.id, None)
        return [job_id for job_id, (job, task) in self.running.items() if gone(job) and not task.done()]
