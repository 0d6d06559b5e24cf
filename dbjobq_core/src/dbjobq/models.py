"""The records DBJobQ stores: jobs, their statuses, recurring schedules and live workers."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple, TypedDict


class JobStatus(str, enum.Enum):
    """The life-cycle states of a job. Members compare equal to their string values."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    #: Enqueued with ``depends_on``: waits until every job it depends on completed.
    WAITING = "waiting"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: str | JobStatus) -> JobStatus:
        """Return the status named by ``value``, or raise ``ValueError`` listing the valid ones."""
        try:
            return cls(value)
        except ValueError:
            valid = ", ".join(s.value for s in cls)
            raise ValueError(f"Unknown job status {value!r}: expected one of {valid}") from None


#: Statuses a job never leaves on its own.
FINISHED_STATUSES: tuple[JobStatus, ...] = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


class EnqueueOptions(TypedDict, total=False):
    """The options every enqueue function takes, written once (``**options: Unpack[EnqueueOptions]``).

    ``JobQueue.enqueue``/``enqueue_many``/``prepare_job`` and the adapters' enqueue functions all take
    these; a new option is added here and in :meth:`dbjobq.JobQueue.prepare_job`, nowhere else.
    ``None`` (or leaving it out) means the ``@job`` default.
    """

    #: Seconds (or a timedelta) after the database's ``now`` at insert.
    delay: float | timedelta | None
    #: An absolute due time: an aware datetime or epoch seconds.
    run_at: datetime | float | None
    #: Higher runs first.
    priority: int | None
    #: Retries after the first attempt.
    max_retries: int | None
    #: The queue the job goes to.
    queue: str | None
    #: While a job holding this key is waiting, pending or running, add nothing and return its id.
    unique_key: str | None
    #: Ids of jobs that must complete first: the job waits (status ``waiting``) until they have.
    depends_on: Sequence[str] | None


@dataclass(frozen=True)
class NewJob:
    """A job to insert: ``data`` is JSON text (see ``serialization.dumps_payload``).

    When it falls due is judged by the database's clock: ``delay`` seconds after the database's
    ``now`` at insert time, or at ``execute_at`` (epoch seconds, an absolute time the caller chose, e.g.
    ``run_at``); neither means due at once.
    """

    type: str
    data: str
    queue: str = "default"
    priority: int = 0
    max_retries: int = 0
    execute_at: float | None = None
    delay: float | None = None
    meta: dict[str, Any] | None = None
    #: While a job with this key is waiting, pending or running, no other is added (see docs/flow-control.md).
    unique_key: str | None = None
    #: Set for a job type with a concurrency or rate limit: its concurrency key ("" for none).
    flow_key: str | None = None
    #: Ids of the jobs that must complete before this one runs.
    depends_on: tuple[str, ...] = ()


class EnqueuedIds(list[str]):
    """The ids ``enqueue_many`` returns, in the order of the jobs given: a plain ``list`` of ids, and
    ``duplicates``, the positions whose unique key was already held (their id is the holder's, and
    nothing was written for them)."""

    def __init__(self, ids: list[str] = [], duplicates: frozenset[int] = frozenset()) -> None:  # noqa: B006
        super().__init__(ids)
        #: Positions (indexes into the list) of the jobs not added because their unique key was held.
        self.duplicates = duplicates


@dataclass(frozen=True)
class Outcome:
    """What came of one claimed run, to be recorded if the job still holds the claim ``lease_token``.

    ``status`` is COMPLETED, FAILED, or PENDING for a retry due ``retry_in`` seconds after the
    database's ``now`` when the outcome is recorded.
    """

    job_id: str
    lease_token: str
    status: JobStatus
    result: str | None = None
    error: str | None = None
    retry_in: float | None = None
    #: A ``Snooze``: pending again, due ``retry_in`` seconds later, without counting the attempt.
    snoozed: bool = False


class Resolved(NamedTuple):
    """What a pass over waiting jobs did: jobs promoted to pending, jobs failed, jobs still waiting."""

    promoted: int
    failed: int
    waiting: int


@dataclass
class Job:
    """One job: what to run (``type`` and ``data``), where it stands, and what came of it.

    Times are timezone-aware UTC datetimes. ``attempts`` counts the runs started so far. ``error`` holds
    the exception type, message and traceback of the last failure. ``lease_token`` identifies the
    current claim of a running job (fencing): an outcome is recorded only while the job still holds it.
    ``meta`` is what DBJobQ keeps beside the payload: the enqueue site's trace context
    (``traceparent``) and the job's ``progress`` (``{"fraction", "message", "at"}``).
    """

    id: str
    type: str
    data: dict[str, Any]
    status: JobStatus
    queue: str = "default"
    priority: int = 0
    attempts: int = 0
    max_retries: int = 0
    error: str | None = None
    result: Any = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    execute_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    worker_id: str | None = None
    lease_token: str | None = field(default=None, repr=False)
    lease_expires_at: datetime | None = field(default=None, repr=False)
    meta: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def progress(self) -> dict[str, Any] | None:
        """The progress the job last reported (``fraction``, ``message``, ``at``), or ``None``."""
        progress = self.meta.get("progress")
        return progress if isinstance(progress, dict) else None

    #: The unique key given at enqueue (held while the job is waiting, pending or running), or ``None``.
    unique_key: str | None = None
    #: For a job type with a concurrency or rate limit, its concurrency key ("" for none); else ``None``.
    flow_key: str | None = None
    #: The ids of the jobs this one waited for (``depends_on`` at enqueue), or ``None``.
    depends_on: list[str] | None = None

    @property
    def is_finished(self) -> bool:
        """True once the job is completed, failed or cancelled."""
        return self.status in FINISHED_STATUSES


class ScheduleType(str, enum.Enum):
    """How a schedule's expression is read."""

    CRON = "cron"
    INTERVAL = "interval"

    def __str__(self) -> str:
        return self.value


#: Where a schedule comes from: declared in code (``@job(cron=…)``, a ``SCHEDULES`` setting) and kept
#: in step with it when workers start, or made by an operator (CLI, admin, API), which code never touches.
ORIGINS: tuple[str, ...] = ("operator", "code")


@dataclass
class Schedule:
    """A recurring job: ``job_type`` runs with ``job_data`` each time the schedule fires.

    ``schedule_type`` is ``"cron"`` (croniter syntax, in UTC or in the IANA time zone ``tz``) or
    ``"interval"`` (seconds, as a string). ``next_run`` and ``last_run`` are epoch seconds. ``origin``
    is ``"operator"`` (made by hand) or ``"code"`` (declared in code and synced when workers start).
    """

    id: str
    job_type: str
    job_data: dict[str, Any]
    schedule_type: str
    schedule_expression: str
    next_run: float
    enabled: bool = True
    priority: int = 0
    max_retries: int = 0
    last_run: float | None = None
    queue: str = "default"
    created_at: float | None = None
    updated_at: float | None = None
    tz: str | None = None
    origin: str = "operator"


@dataclass
class QueueStats:
    """One queue as the dashboard shows it: job counts by status and how long its oldest due job waits.

    Counts of ``pending`` and ``running`` jobs are exact; a finished status counted past the store's cap
    is a lower bound and is listed in ``capped`` (shown as "10,000+"). ``oldest_due_at`` is the due
    time (epoch seconds) of the longest-waiting due pending job, or ``None``.

    ``claimed`` (exact) counts the running jobs that have not started: claimed ahead, they wait in a
    worker's buffer and have done so past a heartbeat (their ``started_at`` emptied). They are included
    in ``counts["running"]``. A job that has waited in a buffer for less than one heartbeat shows as
    running only.
    """

    name: str
    counts: dict[str, int] = field(default_factory=dict)
    capped: set[str] = field(default_factory=set)
    oldest_due_at: float | None = None
    claimed: int = 0


class JobCounts(dict[tuple[str, str], int]):
    """Job counts keyed by (queue, status), as :meth:`~dbjobq.JobQueue.job_counts` returns them.

    ``capped`` names the (queue, status) pairs whose count stopped at the cap: such a count is a
    lower bound (shown as "1000+"). Pending and running counts are always exact.
    """

    def __init__(self, counts: dict[tuple[str, str], int] | None = None, capped: set[tuple[str, str]] | None = None):
        super().__init__(counts or {})
        self.capped: set[tuple[str, str]] = set(capped or ())

    @classmethod
    def from_queue_stats(cls, queues: Iterable[QueueStats]) -> JobCounts:
        """The counts of :meth:`~dbjobq.JobQueue.queue_stats` entries, statuses without jobs left out."""
        counts = cls()
        for stats in queues:
            counts.update({(stats.name, s): n for s, n in stats.counts.items() if n})
            counts.capped.update((stats.name, s) for s in stats.capped)
        return counts

    @property
    def approximate(self) -> bool:
        """Whether any count is capped (a lower bound rather than exact)."""
        return bool(self.capped)


@dataclass
class QueueInfo:
    """One queue as ``JobQueue.list_queues()`` shows it: whether it is paused (until when: epoch seconds,
    ``None`` for until resumed), its pending and running jobs, and how long its oldest due job has waited
    (seconds, ``None`` if none is due)."""

    name: str
    paused: bool = False
    paused_until: float | None = None
    pending: int = 0
    running: int = 0
    oldest_pending_age: float | None = None


@dataclass
class WorkerInfo:
    """A registered worker: where it runs, what it serves and when it last renewed its heartbeat.

    ``queues`` is ``None`` for a worker serving every queue; ``job_types`` the types it registered (and
    claims), ``None`` if it did not record them (an older dbjobq). Times are epoch seconds.
    """

    id: str
    hostname: str
    pid: int
    queues: list[str] | None
    concurrency: int
    started_at: float
    last_heartbeat: float
    job_types: list[str] | None = None
