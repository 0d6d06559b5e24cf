"""Enqueueing from Django: sync through the ORM (joins the current transaction), async through the core."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.core.exceptions import SynchronousOnlyOperation
from django.core.signals import setting_changed
from django.db.models import Value
from django.dispatch import receiver

from dbjobq import Job as CoreJob
from dbjobq import JobQueue
from dbjobq.integration import check_payload_rows, judge_dependencies, new_job_row
from dbjobq.models import EnqueueOptions

from . import clock, conf, eager
from .storage import DjangoStorage

if TYPE_CHECKING:
    from typing_extensions import Unpack

JobRef = Callable[..., Any] | str

_lock = threading.Lock()
_queue: tuple[str, JobQueue] | None = None


def get_queue() -> JobQueue:
    """The core :class:`~dbjobq.JobQueue` on DBJobQ's database, for everything beyond enqueueing
    (eager with ``DBJOBQ["EAGER"]``: ``aenqueue()`` then runs the job through it).

    Use it from async code (``await get_queue().get_job(job_id)``); it is shared by the process and
    safe on any event loop.
    """
    global _queue
    settings = conf.get_settings()
    url = settings.engine_url()
    key = url.render_as_string(hide_password=False) + repr(
        (sorted(settings.engine_options.items()), sorted(settings.storage_options().items()))
    )
    with _lock:
        if _queue is None or _queue[0] != key:
            _queue = (key, JobQueue(DjangoStorage(url, **settings.storage_options(), **settings.engine_options)))
        _queue[1].eager = settings.eager
        return _queue[1]


@receiver(setting_changed)
def _forget_queue(*, setting: str, **kwargs: Any) -> None:
    global _queue
    if setting in ("DBJOBQ", "DATABASES"):
        _queue = None  # NullPool engines hold no connection: nothing to close


def enqueue(
    func_or_name: JobRef,
    data: dict[str, Any] | None = None,
    **options: Unpack[EnqueueOptions],
) -> str:
    """Add a job from sync code and return its id.

    The row is written through the Django ORM on the connection of ``DBJOBQ["DATABASE"]``, so inside
    ``transaction.atomic()`` the job exists only if the transaction commits (on PostgreSQL workers are
    woken at commit). Arguments are those of :meth:`dbjobq.JobQueue.enqueue`; from async code use
    :func:`aenqueue`. With ``DBJOBQ["EAGER"]`` the job runs in this thread once the transaction
    commits (see :mod:`dbjobq_django.eager`).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise SynchronousOnlyOperation(
            "dbjobq_django.enqueue() is for sync code: in an async view use `await dbjobq_django.aenqueue(...)`"
        )
    from .models import Job

    settings = conf.get_settings()
    # The core builds the row (registry defaults, JSON payload, due time, id), so a job written by
    # the ORM is indistinguishable from one written by JobQueue.enqueue().
    new = get_queue().prepare_job(func_or_name, data, **options)
    row = new_job_row(new, 0.0)
    check_payload_rows([row], _packet_limit(settings.database))
    # The database's clock stamps the row and dates a delay, as the core's enqueue does.
    now = clock.db_now(settings.database)
    due = new.execute_at if new.execute_at is not None else now + Value(float(new.delay or 0.0))
    row.update(created_at=now, updated_at=now, execute_at=due)
    if new.depends_on:
        _settle_dependent(row, list(new.depends_on), settings.database)
    if new.unique_key is not None:
        holder = _insert_unique(row, settings.database)
        if holder is not None:
            return holder
    else:
        Job(**row).save(using=settings.database, force_insert=True)
    if settings.eager:
        eager.run_after_commit(str(row["id"]), settings.database)
    return str(row["id"])


#: MySQL/MariaDB's max_allowed_packet, read once per database alias (the core's limit on a statement).
_packet_limits: dict[str, int] = {}


def _packet_limit(alias: str) -> int | None:
    """The most bytes one statement may carry on the database ``alias`` (``None``: no such limit)."""
    from django.db import connections

    connection = connections[alias]
    if connection.vendor != "mysql":
        return None
    if alias not in _packet_limits:
        with connection.cursor() as cursor:
            cursor.execute("SELECT @@max_allowed_packet")
            _packet_limits[alias] = int(cursor.fetchone()[0])
    return _packet_limits[alias]


async def aenqueue(
    func_or_name: JobRef,
    data: dict[str, Any] | None = None,
    **options: Unpack[EnqueueOptions],
) -> str:
    """Add a job from async code (async views) through the core queue and return its id.

    It commits on its own: Django's transactions are sync-only. Arguments are those of
    :meth:`dbjobq.JobQueue.enqueue`.
    """
    return await get_queue().enqueue(func_or_name, data, **options)


def get_job(job_id: str) -> CoreJob | None:
    """The job with that id, read through the ORM (sync code; it sees the current transaction's jobs,
    a test's too), or ``None``. From async code use ``await get_queue().get_job(job_id)``."""
    from .models import Job

    row = Job.objects.using(conf.get_settings().database).filter(id=job_id).first()
    return None if row is None else eager.to_job(row)


#: Statuses in which a job holds its unique key (the unique index covers exactly these rows).
HELD_STATUSES = ("waiting", "pending", "running")


def _insert_unique(row: dict[str, Any], database: str) -> str | None:
    """Insert a job with a unique key through the ORM, in a savepoint of the current transaction;
    ``None`` if it was added, else the id of the job holding the key (the database's unique index
    decides, as for the core: see ``dbjobq.storage.unique_keys``)."""
    from django.db import IntegrityError, connections, transaction

    from .models import Job

    key = row["unique_key"]
    for _ in range(5):
        try:
            with transaction.atomic(using=database):
                Job(**row).save(using=database, force_insert=True)
            return None
        except IntegrityError:
            held = Job.objects.using(database)
            if connections[database].vendor == "mysql":
                # Through the generated column the unique index is built on (see the core's schema).
                held = held.extra(where=["unique_active = %s"], params=[key])
            else:
                held = held.filter(unique_key=key, status__in=HELD_STATUSES)
            holder = held.values_list("id", flat=True).first()
            if holder is not None:
                return str(holder)
    raise IntegrityError(f"Could not enqueue the job with unique key {key!r}: its holder kept changing; try again")


def _settle_dependent(row: dict[str, Any], deps: list[str], database: str) -> None:
    """The new job's first status from its dependencies', read through the ORM in the current
    transaction (as the core does it: see ``dbjobq.storage.sql_dependencies``)."""
    from .models import Job

    rows = Job.objects.using(database).filter(id__in=deps).values_list("id", "status", "type")
    found = {job_id: (status, job_type) for job_id, status, job_type in rows}
    missing = [dep for dep in deps if dep not in found]
    if missing:
        raise ValueError(f"depends_on names jobs that do not exist: {', '.join(missing)}")
    verdict = judge_dependencies(deps, found)
    if verdict is True:
        row["status"] = "pending"
    elif isinstance(verdict, str):
        row.update(status="failed", error=verdict, finished_at=row["created_at"])
