"""The storage contract: every method JobQueue, Worker, the CLI and the adapters call on a store.

Implement it to add a store. ``tests/core/test_storage_contract.py`` fails when a caller uses a
storage method this class does not declare.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Protocol

from ..flow import FlowLimit, LimitedClaim
from ..models import Job, JobStatus, NewJob, Outcome, QueueStats, Resolved, Schedule, WorkerInfo

__all__ = ["BaseStorage", "ChangeProbe", "NewJob", "Outcome", "Subscription"]
Names = Sequence[str] | None  # queue or job type names, or None


class Subscription(Protocol):
    """A live push of wake-ups returned by :meth:`BaseStorage.listen`."""

    @property
    def alive(self) -> bool:
        """False once the push stopped (e.g. its connection was lost): listen again."""
        ...

    async def close(self) -> None:
        """Stop the push and release its connection."""
        ...


class ChangeProbe(Protocol):
    """A cheap "did the jobs table change?" returned by :meth:`BaseStorage.open_change_probe`."""

    #: The shortest sensible interval between two probes, in seconds (what one probe costs allows).
    fastest: float

    async def changed(self) -> bool:
        """True if jobs may have been added since the last call (the first call only takes a baseline).

        An error counts as a change (the claim that follows reports it); it never raises.
        """
        ...

    async def close(self) -> None:
        """Release the probe's connection."""
        ...


class BaseStorage(ABC):
    """Abstract job and schedule store. Times are epoch seconds; payloads are JSON text."""

    async def __aenter__(self) -> BaseStorage:
        await self.initialize()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def supports_notifications(self) -> bool:
        """True if :meth:`listen` can push wake-ups for new jobs."""
        return False

    async def now(self) -> float:
        """The store's clock in epoch seconds: what due times, leases and schedules are judged by
        (a database server's clock; here, and on SQLite, this process's)."""
        return time.time()

    @abstractmethod
    async def initialize(self) -> None:
        """Create the tables if they are missing; idempotent and safe to race."""

    @abstractmethod
    async def close(self) -> None:
        """Release every connection; the storage refuses use afterwards."""

    async def stored_schema_version(self) -> int | None:
        """The schema version the store is at, read without upgrading (``None``: not created yet, or a
        store without versions). ``initialize()`` upgrades it (``dbjobq migrate`` shows both)."""
        return None

    # -- jobs ---------------------------------------------------------------------------------
    @abstractmethod
    async def enqueue(
        self,
        job_type: str,
        data: dict[str, Any] | str | None = None,
        *,
        queue: str = "default",
        priority: int = 0,
        max_retries: int = 0,
        execute_at: float | None = None,
        connection: Any = None,
    ) -> str:
        """Insert one pending job and return its id (inside ``connection``'s transaction if given)."""

    @abstractmethod
    async def enqueue_many(self, jobs: Sequence[NewJob], *, connection: Any = None) -> list[str]:
        """Insert many pending jobs in one round trip per batch; return their ids in order.

        A job whose ``unique_key`` is held by a waiting, pending or running job is not written: its
        place holds the holder's id, and a store may return an :class:`~dbjobq.models.EnqueuedIds`
        listing those positions in ``duplicates``.
        """

    @abstractmethod
    async def get_job(self, job_id: str) -> Job | None:
        """The job with that id, or ``None``."""

    @abstractmethod
    async def list_jobs(
        self,
        status: JobStatus | str | None = None,
        limit: int | None = None,
        offset: int = 0,
        queue: str | None = None,
        job_type: str | None = None,
    ) -> list[Job]:
        """Jobs, oldest first, optionally filtered. A row that cannot be decoded is listed with empty
        data and the reason in ``error``, never failing the page."""

    @abstractmethod
    async def count_jobs(self) -> dict[tuple[str, str], int]:
        """Job counts keyed by (queue, status)."""

    @abstractmethod
    async def count_finished(self, within: float) -> int:
        """How many jobs finished (completed or failed) in the last ``within`` seconds."""

    async def seconds_until_due(
        self, queues: Sequence[str] | None = None, *, exclude: Names = None, job_types: Names = None
    ) -> float | None:
        """Seconds until the first pending job matching the filters is due by the database's clock, or None."""
        return None

    @abstractmethod
    async def claim_jobs(
        self,
        limit: int,
        *,
        worker_id: str,
        lease_timeout: float,
        queues: Names = None, exclude: Names = None,
        exclude_types: Names = None, job_types: Names = None,
    ) -> list[Job]:
        """Claim up to ``limit`` due pending jobs (of ``queues`` if given, of none of ``exclude``: the
        paused queues; of none of ``exclude_types``: the flow-controlled types, which
        :meth:`claim_limited_jobs` claims; of ``job_types`` if given: a worker's registered types) in one round
        trip, highest priority first.

        Each claimed job becomes running, its attempts go up by one, and it carries a fresh
        ``lease_token`` that expires after ``lease_timeout`` seconds unless renewed. A claimed row that
        cannot be decoded is failed at once (fenced by its token) with the reason, and left out.
        """

    @abstractmethod
    async def claim_limited_jobs(
        self,
        limit: FlowLimit,
        room: int,
        *,
        worker_id: str,
        lease_timeout: float,
        queues: Sequence[str] | None = None,
        exclude: Sequence[str] | None = None,
    ) -> LimitedClaim:
        """Claim up to ``room`` due jobs of ``limit.type`` (on ``queues``, not on ``exclude``) without
        exceeding its concurrency limit (per concurrency key, counting every worker's running jobs) or
        its rate limit (starts per window), even when workers claim at the same instant; say when the
        rate-limit window opens again if that is what stopped the claim. Claimed jobs are as
        :meth:`claim_jobs` leaves them."""

    @abstractmethod
    async def resolve_waiting(self) -> Resolved:
        """Promote waiting jobs whose dependencies all completed to pending (due now), and fail those
        with a dependency that failed, was cancelled or no longer exists (the error names it); return
        (promoted, failed, still waiting)."""

    @abstractmethod
    async def claim_job(self, job_id: str, *, worker_id: str, lease_timeout: float) -> Job | None:
        """Claim the pending job ``job_id`` as :meth:`claim_jobs` claims, due or not (eager mode runs a
        job at enqueue, and each retry at once); ``None`` if it is not pending."""

    async def dequeue(self) -> Job | None:
        """Claim the next due job of a queue that is not paused, or return ``None``."""
        paused = sorted(await self.paused_queues())
        claimed = await self.claim_jobs(1, worker_id="dequeue", lease_timeout=300.0, exclude=paused or None)
        return claimed[0] if claimed else None

    @abstractmethod
    async def record_outcomes(self, outcomes: Sequence[Outcome]) -> set[str]:
        """Record many outcomes at once; return the ids of those accepted (claim still held)."""

    @abstractmethod
    async def set_job_meta(self, job_id: str, lease_token: str, meta: dict[str, Any]) -> bool:
        """Replace a running job's ``meta`` while it holds the claim ``lease_token``; False if it does not."""

    @abstractmethod
    async def mark_unstarted(self, claims: Sequence[tuple[str, str]]) -> set[str]:
        """Take back the attempt of claimed jobs (id, lease_token) waiting in their worker's buffer and
        empty their ``started_at``; return the ids still held. Lease recovery and :meth:`release_jobs`
        then return them with their attempts unchanged."""

    @abstractmethod
    async def mark_started(self, claims: Sequence[tuple[str, str]]) -> set[str]:
        """Count again the attempt of jobs :meth:`mark_unstarted` took back, now starting; return the
        ids still held."""

    @abstractmethod
    async def extend_leases(self, worker_id: str, lease_timeout: float) -> set[str]:
        """Renew the leases of the worker's running jobs; return the ids it still holds."""

    @abstractmethod
    async def release_jobs(self, claims: Sequence[tuple[str, str]]) -> int:
        """Put claimed jobs (id, lease_token) back to pending without counting the attempt."""

    @abstractmethod
    async def recover_expired_leases(self) -> tuple[int, int]:
        """Return expired running jobs to pending, or fail those out of attempts: (requeued, failed)."""

    @abstractmethod
    async def cancel_job(self, job_id: str) -> bool:
        """Cancel a pending or running job; False if it was already finished or does not exist."""

    @abstractmethod
    async def retry_job(self, job_id: str) -> bool:
        """Send a failed or cancelled job back to pending with fresh attempts; False otherwise."""

    @abstractmethod
    async def purge(
        self,
        older_than: float,
        statuses: Sequence[JobStatus | str],
        *,
        batch_size: int = 5000,
        on_progress: Callable[[int], None] | None = None,
        dry_run: bool = False,
    ) -> int:
        """Delete jobs in ``statuses`` that finished more than ``older_than`` seconds ago; return how
        many (with ``dry_run``: how many would go, deleting nothing)."""

    @abstractmethod
    async def delete_job(self, job_id: str) -> bool:
        """Delete a finished job; False if it is pending, running or unknown."""

    async def retry_failed(self, *, queue: str | None = None, job_type: str | None = None) -> int:
        """Send every failed job (of ``queue``/``job_type``) back to pending; return how many."""
        return await self.retry_matching(status=JobStatus.FAILED, queue=queue, job_type=job_type)

    @abstractmethod
    async def retry_matching(
        self,
        *,
        status: JobStatus | str | Sequence[JobStatus | str] = JobStatus.FAILED,
        queue: str | None = None,
        job_type: str | None = None,
        older_than: float | None = None,
    ) -> int:
        """Send every matching failed or cancelled job back to pending as :meth:`retry_job` does
        (filters as in :meth:`count_matching`; another status is a ``ValueError``); return how many."""

    @abstractmethod
    async def cancel_matching(
        self,
        *,
        status: JobStatus | str | Sequence[JobStatus | str] | None = None,
        queue: str | None = None,
        job_type: str | None = None,
        older_than: float | None = None,
    ) -> int:
        """Cancel every matching pending or running job as :meth:`cancel_job` does (``status`` None:
        both; another status is a ``ValueError``); return how many."""

    # -- operators' views: per-queue figures, pages of jobs -----------------------------------
    @abstractmethod
    async def queue_stats(self, count_cap: int = 10_000) -> list[QueueStats]:
        """Every queue with jobs: exact pending/running counts, finished ones up to ``count_cap`` (then
        capped), ``claimed`` (running, ``started_at`` empty) and its oldest due time. No table scan."""

    @abstractmethod
    async def count_matching(
        self,
        *,
        status: JobStatus | str | Sequence[JobStatus | str] | None = None,
        queue: str | None = None,
        job_type: str | None = None,
        older_than: float | None = None,
    ) -> int:
        """How many jobs match every given filter: ``status`` one status or several, ``older_than``
        created more than that many seconds ago."""

    @abstractmethod
    async def page_jobs(
        self,
        *,
        status: JobStatus | str | None = None,
        queue: str | None = None,
        job_type: str | None = None,
        before: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[Job]:
        """Job summaries newest first, paged by id: older than ``before``, newer than ``after``, or the
        newest. ``data`` and ``result`` are not loaded; ``error`` may be cut."""

    @abstractmethod
    async def finished_per_minute(self, since: float) -> list[tuple[float, str, int]]:
        """(minute start, status, count) of the jobs completed or failed since ``since``."""

    # -- schedules ----------------------------------------------------------------------------
    @abstractmethod
    async def create_schedule(self, schedule: Schedule) -> None:
        """Insert a schedule; raises ``ScheduleExistsError`` or ``ValueError``, writing nothing."""

    @abstractmethod
    async def get_schedule(self, schedule_id: str) -> Schedule | None:
        """The schedule with that id, or ``None``."""

    @abstractmethod
    async def list_schedules(self, enabled_only: bool = False) -> list[Schedule]:
        """Every schedule, by id."""

    @abstractmethod
    async def update_schedule(self, schedule: Schedule, *, if_updated_at: float | None = None) -> bool:
        """Replace a schedule's fields; raises ``ScheduleNotFoundError``. With ``if_updated_at`` only if
        its ``updated_at`` is still that (compare-and-set), returning False otherwise."""

    @abstractmethod
    async def update_schedule_next_run(self, schedule_id: str, next_run: float, last_run: float | None) -> None:
        """Set when a schedule fires next and last fired."""

    @abstractmethod
    async def delete_schedule(self, schedule_id: str, *, if_updated_at: float | None = None) -> bool:
        """Delete a schedule; False if there was none (or, with ``if_updated_at``, if it changed since)."""

    @abstractmethod
    async def fire_due_schedules(self, now: float | None = None) -> list[str]:
        """Enqueue one job for every enabled schedule due at ``now`` (default: the database's clock),
        exactly once across workers. A schedule whose row cannot be decoded is disabled and logged.

        Returns the ids of the jobs enqueued.
        """

    # -- workers ------------------------------------------------------------------------------
    @abstractmethod
    async def register_worker(
        self, worker_id: str, *, queues: Names, concurrency: int, job_types: Names = None
    ) -> None:
        """Record a live worker and the job types it registered (for operators' tools)."""

    @abstractmethod
    async def unregister_worker(self, worker_id: str) -> None:
        """Forget a worker that stopped."""

    @abstractmethod
    async def list_workers(self) -> list[WorkerInfo]:
        """The registered workers, oldest first."""

    @abstractmethod
    async def orphan_job_types(self, live_within: float) -> dict[str, int]:
        """Pending jobs by type that no worker seen in ``live_within`` s registered (None recorded: knows all)."""

    @abstractmethod
    async def prune_workers(self, older_than: float) -> int:
        """Forget workers whose heartbeat is more than ``older_than`` seconds old; return how many."""

    # -- queue controls -----------------------------------------------------------------------
    @abstractmethod
    async def set_queue_paused(self, name: str, paused: bool, *, until: float | None = None) -> None:
        """Pause the queue ``name`` (until ``until``, epoch seconds, if given) or resume it; durable, and
        announced to listening workers where the database can push it."""

    @abstractmethod
    async def queue_controls(self) -> dict[str, tuple[bool, float | None]]:
        """Every queue with a control row: ``name -> (paused, paused_until)`` as stored."""

    @abstractmethod
    async def paused_queues(self) -> set[str]:
        """The queues paused now (a pause whose ``until`` passed no longer counts)."""

    async def listen(
        self, on_notify: Callable[[], None], on_queues: Callable[[], None] | None = None
    ) -> Subscription | None:
        """Call ``on_notify`` whenever new jobs are committed (and ``on_queues`` when a queue is paused or
        resumed), until the subscription is closed.

        Stores without push notifications return ``None`` and workers poll instead.
        """
        return None

    async def open_change_probe(self) -> ChangeProbe | None:
        """A cheap check that jobs may have been added, for workers without :meth:`listen`
        (:mod:`.probes`); ``None`` if the store has none (workers then poll at ``poll_interval``)."""
        return None
