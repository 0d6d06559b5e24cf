"""What every database does the same way through SQLAlchemy Core: the base each dialect module refines.

As alembic's ``DefaultImpl``: ``sqlite.py``, ``postgresql.py`` and ``mysql.py`` override only what
differs. The code here chooses by capability (SQLAlchemy's ``dialect.update_returning``, and
:attr:`DefaultImpl.autocommit_writes`), never by database name.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    ColumnElement,
    Double,
    Insert,
    Select,
    TextualSelect,
    and_,
    bindparam,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .. import payloads, records
from ..base import ChangeProbe, Subscription
from ..probes import MaxIdProbe
from ..schema import HELD_STATUSES, PENDING_SQL, jobs
from ..urls import POOL_OPTIONS

if TYPE_CHECKING:
    from ...models import Outcome
    from ..database import Database

#: Rows per INSERT when enqueueing in bulk (keeps statements under every driver's parameter limit).
INSERT_BATCH_SIZE = 1000
#: The columns without a default of their own: left out of an INSERT, they are NULL all the same.
_NULLABLE_COLUMNS = tuple(c.name for c in jobs.c if c.nullable and c.default is None and c.server_default is None)
_NULLABLE_VALUES = itemgetter(*_NULLABLE_COLUMNS)


def without_null_columns(batch: Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
    """The rows of one multi-row INSERT (each with the same columns) without the columns that are NULL in
    every one of them: a new job leaves most of its columns NULL (its result, lease, unique key…), and each
    one left out is a value fewer to bind and send per row (on MySQL/MariaDB, escaped in pure Python)."""
    if not batch:
        return batch
    by_column = zip(*map(_NULLABLE_VALUES, batch), strict=True)  # per nullable column, its value in each row
    rows = len(batch)
    empty = {name for name, values in zip(_NULLABLE_COLUMNS, by_column, strict=True) if values.count(None) == rows}
    if not empty:
        return batch
    kept = tuple(name for name in batch[0] if name not in empty)
    values = itemgetter(*kept)
    return [dict(zip(kept, values(row), strict=True)) for row in batch]


#: The order jobs are claimed in (the claim index's order): priority, then due time, then id.
CLAIM_ORDER = (jobs.c.priority.desc(), jobs.c.execute_at, jobs.c.id)


@dataclass(frozen=True)
class Claim:
    """One claim round: up to ``limit`` due jobs (of ``queues``, if given, none of ``exclude``: the paused
    queues; of ``job_types``, if given: the types the worker registered) for ``worker_id`` under ``token``,
    leased for ``lease_timeout`` seconds of the database's clock."""

    limit: int
    worker_id: str
    token: str
    lease_timeout: float
    queues: Sequence[str] | None = None
    exclude: Sequence[str] | None = None
    #: Job types left out: the flow-controlled ones, claimed apart (see ``sql_flow``).
    exclude_types: Sequence[str] | None = None
    #: Only these job types, if given: the ones the claiming worker registered.
    job_types: Sequence[str] | None = None

    def values(self, now: ColumnElement[float] | float) -> dict[str, Any]:
        """The columns a claim sets at ``now`` (besides ``attempts``, which goes up by one)."""
        return {
            "status": "running",
            "worker_id": self.worker_id,
            "lease_token": self.token,
            "lease_expires_at": now + self.lease_timeout,
            "started_at": now,
            "updated_at": now,
        }


#: The columns a claim sets itself (besides ``attempts``): where it cannot return the rows it updated
#: (MySQL/MariaDB), it reads the other columns before the UPDATE and fills these in, unread.
_CLAIM_SETS = frozenset(Claim(0, "", "", 0.0).values(0.0))
#: What that claim reads of each row it locks: each column left out is one fewer for the driver to parse
#: per job (PyMySQL, in pure Python).
_CLAIM_READS = tuple(column for column in jobs.c if column.name not in _CLAIM_SETS)


def due_pending(
    now: ColumnElement[float] | float,
    queues: Sequence[str] | None,
    exclude: Sequence[str] | None = None,
    exclude_types: Sequence[str] | None = None,
    job_types: Sequence[str] | None = None,
) -> ColumnElement[bool]:
    """Pending jobs due at ``now`` (on ``queues``, not on ``exclude``, of ``job_types``): the claim query's
    condition. The type filter is applied to the rows the claim index yields, in its order."""
    due = and_(jobs.c.status == PENDING_SQL, jobs.c.execute_at <= now)
    if queues:
        due = and_(due, jobs.c.queue.in_(list(queues)))
    if exclude:
        due = and_(due, jobs.c.queue.not_in(list(exclude)))
    if exclude_types:
        due = and_(due, jobs.c.type.not_in(list(exclude_types)))
    if job_types is not None:
        due = and_(due, jobs.c.type.in_(list(job_types)))
    return due


class DefaultImpl:
    """How DBJobQ's statements run on a database; one instance per storage."""

    #: The database's name as ``SQLAlchemyStorage.dialect`` reports it.
    name: ClassVar[str] = "default"
    #: True if :meth:`listen` can push a wake-up for each committed enqueue.
    supports_notifications: ClassVar[bool] = False
    #: True if a one-statement write is cheaper in autocommit mode than between BEGIN and COMMIT.
    autocommit_writes: ClassVar[bool] = True
    #: True if :meth:`now` is the server's clock, the same SQL in every statement: a statement that
    #: stamps with it is built once (building it, and its cache key, cost more than running it).
    server_clock: ClassVar[bool] = False
    _insert_jobs: Insert | None = None

    def __init__(self, url: URL, engine_options: Mapping[str, Any]) -> None:
        self.url = url
        defaults = self.default_engine_options()
        if "poolclass" in engine_options:  # another pool class may refuse the default pool sizing
            defaults = {k: v for k, v in defaults.items() if k not in POOL_OPTIONS and k != "poolclass"}
        #: ``create_async_engine`` options: the database's defaults under the caller's.
        self.engine_options: dict[str, Any] = {**defaults, **engine_options}

    def default_engine_options(self) -> dict[str, Any]:
        """DBJobQ's engine defaults for this database."""
        return {"pool_size": 10, "max_overflow": 10}

    # -- the clock ----------------------------------------------------------------------------
    def now(self) -> ColumnElement[float]:
        """The database's now in epoch seconds, as SQL: every due time, lease and cut-off is judged by it.

        A server database answers with its own clock (one clock for every process, whatever theirs
        say: DESIGN.md "One clock"); here, the default and SQLite, it is this process's clock, read
        when the statement is built.
        """
        return literal(time.time(), Double)

    def insert_jobs_statement(self) -> Insert:
        """The INSERT of new jobs (rows from :func:`..records.job_insert_params`): ``created_at`` and
        ``updated_at`` are the database's now, ``execute_at`` the given ``due_at`` or now + ``due_delay``."""
        if self._insert_jobs is not None:
            return self._insert_jobs
        now = self.now()
        due = func.coalesce(bindparam("due_at", type_=Double), now + bindparam("due_delay", type_=Double))
        statement = insert(jobs).values(created_at=now, updated_at=now, execute_at=due)
        if self.server_clock:
            self._insert_jobs = statement
        return statement

    def clock_stamped(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """One new job's row from :func:`..records.job_insert_params` values, its clock columns as SQL
        (as :meth:`insert_jobs_statement` computes them), for a single-row INSERT."""
        row = {k: v for k, v in params.items() if k not in ("due_at", "due_delay")}
        now = self.now()
        due = params["due_at"] if params["due_at"] is not None else now + float(params["due_delay"])
        row.update(created_at=now, updated_at=now, execute_at=due)
        return row

    # -- life cycle ---------------------------------------------------------------------------
    def check_before_connecting(self) -> None:
        """Raise ``StorageError`` for a problem the database itself would report poorly."""

    def configure_engine(self, engine: AsyncEngine) -> None:
        """Set up a newly created engine (e.g. per-connection settings)."""

    async def listen(
        self, engine: AsyncEngine, on_notify: Callable[[], None], on_queues: Callable[[], None] | None = None
    ) -> Subscription | None:
        """Start pushing wake-ups for new jobs (and ``on_queues`` for a queue paused or resumed); ``None``
        where the database cannot (workers poll)."""
        return None

    async def notify_queues(self, conn: AsyncConnection) -> None:
        """Tell listening workers, when ``conn``'s transaction commits, that a queue was paused or resumed."""

    def change_probe(self, engine: AsyncEngine) -> ChangeProbe | None:
        """A cheap "were jobs added?" for workers that cannot LISTEN: the largest job id (ids are time-ordered)."""
        return MaxIdProbe(engine)

    async def close(self) -> None:
        """Release what this implementation opened beside the engine."""

    async def prepare_claim(self, conn: AsyncConnection) -> None:
        """Settings a claim's transaction wants before it reads the claim index (none here)."""

    async def packet_limit(self, db: Database) -> int | None:
        """The most bytes one statement may carry on this server (``None``: no limit short of 1 GB values)."""
        return None

    def ids_in(self, ids: Sequence[str]) -> ColumnElement[bool]:
        """``dbjobq_jobs.id IN (ids)`` for a list that changes length from call to call."""
        return jobs.c.id.in_(ids)

    # -- the hot path -------------------------------------------------------------------------
    async def record_outcomes(self, db: Database, groups: Sequence[Sequence[Outcome]]) -> set[str] | None:
        """Record outcomes through a path of the dialect's own, each group one kind of outcome (the same
        status, result, error, delay); the ids of the jobs that still held their claim. ``None`` here:
        the caller builds the UPDATEs with SQLAlchemy."""
        return None

    async def insert_jobs(self, db: Database, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert new jobs (:func:`..records.job_insert_params`), one INSERT per :data:`INSERT_BATCH_SIZE` rows
        (fewer, if they are large, under the server's :meth:`packet_limit`).

        One row is stamped by the clock in SQL. For several, the database's now is read once in the
        transaction and bound as a value: a driver turns an executemany of plain placeholders into
        multi-row INSERTs (aiomysql only then: a SQL function among the VALUES made it send one INSERT
        per row, 6.8x slower for 50,000 jobs)."""
        limit = await self.packet_limit(db)
        async with db.write(single_statement=len(rows) == 1) as conn:
            if len(rows) == 1:
                await conn.execute(self.insert_jobs_statement(), list(rows))
                return
            now = float((await conn.execute(select(self.now()))).scalar_one())
            stamped = [records.complete_row(row, now) for row in rows]
            for batch in payloads.split_rows(stamped, INSERT_BATCH_SIZE, limit):
                await conn.execute(insert(jobs), without_null_columns(batch))

    async def claim(self, db: Database, claim: Claim) -> Sequence[Mapping[Any, Any]]:
        """Mark up to ``claim.limit`` due jobs running; return their rows (as updated), in any order.

        With ``UPDATE … RETURNING`` one statement does it (the candidates locked with SKIP LOCKED where
        the database has row locks). Without it (MySQL, MariaDB, which also refuse LIMIT in an IN
        subquery): lock the rows with SKIP LOCKED, then update them, in one transaction.
        """
        now = self.now()
        if db.engine.dialect.update_returning:
            stmt = (
                update(jobs)
                .where(jobs.c.id.in_(self.claim_candidates(claim, now)))
                .values(attempts=jobs.c.attempts + 1, **claim.values(now))
                .returning(*jobs.c)
            )
            async with db.write(single_statement=True) as conn:
                return (await conn.execute(stmt)).mappings().all()
        # The locking SELECT also reads the database's now, so the UPDATE stamps the same instant the
        # due check used, and the rows returned carry it without another round trip.
        locked = (
            select(*_CLAIM_READS, now.label("db_now"))
            .where(due_pending(now, claim.queues, claim.exclude, claim.exclude_types, claim.job_types))
            .order_by(*CLAIM_ORDER)
            .limit(claim.limit)
            .with_for_update(skip_locked=True)
        )
        async with db.transaction() as conn:
            rows = [dict(r) for r in (await conn.execute(locked)).mappings().all()]
            if not rows:
                return []
            values = claim.values(float(rows[0].pop("db_now")))
            await conn.execute(
                update(jobs)
                .where(jobs.c.id.in_([r["id"] for r in rows]))
                .values(attempts=jobs.c.attempts + 1, **values)
            )
        for row in rows:
            row.pop("db_now", None)
            row.update(values, attempts=row["attempts"] + 1)
        return rows

    def claim_candidates(self, claim: Claim, now: ColumnElement[float]) -> Select[Any] | TextualSelect:
        """The ids to claim (due at ``now``), in claim order, locked and skipping rows other claimers hold."""
        return (
            select(jobs.c.id)
            .where(due_pending(now, claim.queues, claim.exclude, claim.exclude_types, claim.job_types))
            .order_by(*CLAIM_ORDER)
            .limit(claim.limit)
            .with_for_update(skip_locked=True)
        )

    async def insert_unique(self, conn: Any, row: Mapping[str, Any]) -> bool:
        """Insert a job row with a unique key on ``conn`` (a connection or session, in its transaction);
        False if the key is held. Here in a savepoint: a violation undoes only this row."""
        try:
            async with conn.begin_nested():
                await conn.execute(insert(jobs).values(**row))
        except IntegrityError:
            return False
        return True

    def unique_key_held(self, key: str) -> ColumnElement[bool]:
        """The condition that finds the job holding ``key`` (waiting, pending or running), through the
        unique index over held keys."""
        return and_(jobs.c.unique_key == key, jobs.c.status.in_(HELD_STATUSES))

    # -- operators' views ---------------------------------------------------------------------
    def queue_names(self) -> Select[Any] | TextualSelect:
        """The distinct queue names, skipping through the (queue, …) index: one probe per queue, not
        per row, spelt out as a recursive query."""
        return text(
            "WITH RECURSIVE q(name) AS ("
            " SELECT (SELECT queue FROM dbjobq_jobs ORDER BY queue LIMIT 1)"
            " UNION ALL"
            " SELECT (SELECT queue FROM dbjobq_jobs WHERE queue > q.name ORDER BY queue LIMIT 1)"
            " FROM q WHERE q.name IS NOT NULL"
            ") SELECT name FROM q WHERE name IS NOT NULL"
        ).columns(jobs.c.queue)

    def whole_minutes(self, epoch_seconds: ColumnElement[Any]) -> ColumnElement[Any]:
        """Epoch seconds as whole minutes since the epoch (rounded down)."""
        return func.floor(epoch_seconds / 60)

    async def update_returning_ids(
        self, conn: AsyncConnection, where: ColumnElement[bool], values: Mapping[str, Any]
    ) -> set[str]:
        """Update the jobs matching ``where`` and return their ids (in the caller's transaction).

        One ``UPDATE … RETURNING`` where the database has it; else ``SELECT … FOR UPDATE``, then UPDATE.
        """
        if conn.dialect.update_returning:
            result = await conn.execute(update(jobs).where(where).values(**values).returning(jobs.c.id))
            return set(result.scalars().all())
        ids = set((await conn.execute(select(jobs.c.id).where(where).with_for_update())).scalars().all())
        if ids:
            await conn.execute(update(jobs).where(jobs.c.id.in_(ids)).values(**values))
        return ids
