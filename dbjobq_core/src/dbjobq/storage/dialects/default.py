"""What every database does the same way through SQLAlchemy Core: the base each dialect module refines.

As alembic's ``DefaultImpl``: ``sqlite.py``, ``postgresql.py`` and ``mysql.py`` override only what
differs. The code here chooses by capability (SQLAlchemy's ``dialect.update_returning``, and
:attr:`DefaultImpl.autocommit_writes`), never by database name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import ColumnElement, Select, TextualSelect, and_, func, insert, select, text, update
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..base import Subscription
from ..schema import HELD_STATUSES, PENDING_SQL, jobs
from ..urls import POOL_OPTIONS

if TYPE_CHECKING:
    from ..database import Database

#: Rows per INSERT when enqueueing in bulk (keeps statements under every driver's parameter limit).
INSERT_BATCH_SIZE = 1000
#: The order jobs are claimed in (the claim index's order): priority, then due time, then id.
CLAIM_ORDER = (jobs.c.priority.desc(), jobs.c.execute_at, jobs.c.id)


@dataclass(frozen=True)
class Claim:
    """One claim round: up to ``limit`` due jobs (of ``queues``, if given, none of ``exclude``: the paused
    queues) for ``worker_id`` under ``token``."""

    limit: int
    worker_id: str
    token: str
    now: float
    lease_expires_at: float
    queues: Sequence[str] | None = None
    exclude: Sequence[str] | None = None

    def values(self) -> dict[str, Any]:
        """The columns a claim sets (besides ``attempts``, which goes up by one)."""
        return {
            "status": "running",
            "worker_id": self.worker_id,
            "lease_token": self.token,
            "lease_expires_at": self.lease_expires_at,
            "started_at": self.now,
            "updated_at": self.now,
        }


def due_pending(
    now: float, queues: Sequence[str] | None, exclude: Sequence[str] | None = None
) -> ColumnElement[bool]:
    """Pending jobs due at ``now`` (on ``queues``, not on ``exclude``): the claim query's condition."""
    due = and_(jobs.c.status == PENDING_SQL, jobs.c.execute_at <= now)
    if queues:
        due = and_(due, jobs.c.queue.in_(list(queues)))
    if exclude:
        due = and_(due, jobs.c.queue.not_in(list(exclude)))
    return due


class DefaultImpl:
    """How DBJobQ's statements run on a database; one instance per storage."""

    #: The database's name as ``SQLAlchemyStorage.dialect`` reports it.
    name: ClassVar[str] = "default"
    #: True if :meth:`listen` can push a wake-up for each committed enqueue.
    supports_notifications: ClassVar[bool] = False
    #: True if a one-statement write is cheaper in autocommit mode than between BEGIN and COMMIT.
    autocommit_writes: ClassVar[bool] = True

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

    async def close(self) -> None:
        """Release what this implementation opened beside the engine."""

    # -- the hot path -------------------------------------------------------------------------
    async def insert_jobs(self, db: Database, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert new job rows, one INSERT per :data:`INSERT_BATCH_SIZE` rows."""
        async with db.write(single_statement=len(rows) == 1) as conn:
            for start in range(0, len(rows), INSERT_BATCH_SIZE):
                await conn.execute(insert(jobs), list(rows[start : start + INSERT_BATCH_SIZE]))

    async def claim(self, db: Database, claim: Claim) -> Sequence[Mapping[Any, Any]]:
        """Mark up to ``claim.limit`` due jobs running; return their rows (as updated), in any order.

        With ``UPDATE … RETURNING`` one statement does it (the candidates locked with SKIP LOCKED where
        the database has row locks). Without it (MySQL, MariaDB, which also refuse LIMIT in an IN
        subquery): lock the rows with SKIP LOCKED, then update them, in one transaction.
        """
        values = claim.values()
        if db.engine.dialect.update_returning:
            stmt = (
                update(jobs)
                .where(jobs.c.id.in_(self.claim_candidates(claim)))
                .values(attempts=jobs.c.attempts + 1, **values)
                .returning(*jobs.c)
            )
            async with db.write(single_statement=True) as conn:
                return (await conn.execute(stmt)).mappings().all()
        locked = (
            select(jobs)
            .where(due_pending(claim.now, claim.queues, claim.exclude))
            .order_by(*CLAIM_ORDER)
            .limit(claim.limit)
            .with_for_update(skip_locked=True)
        )
        async with db.transaction() as conn:
            rows = [dict(r) for r in (await conn.execute(locked)).mappings().all()]
            if rows:
                await conn.execute(
                    update(jobs)
                    .where(jobs.c.id.in_([r["id"] for r in rows]))
                    .values(attempts=jobs.c.attempts + 1, **values)
                )
        for row in rows:
            row.update(values, attempts=row["attempts"] + 1)
        return rows

    def claim_candidates(self, claim: Claim) -> Select[Any] | TextualSelect:
        """The ids to claim, in claim order, locked and skipping rows other claimers hold."""
        return (
            select(jobs.c.id)
            .where(due_pending(claim.now, claim.queues, claim.exclude))
            .order_by(*CLAIM_ORDER)
            .limit(claim.limit)
            .with_for_update(skip_locked=True)
        )

    async def insert_unique(self, conn: Any, row: Mapping[str, Any]) -> bool:
        """Insert a job row with a unique key on ``conn`` (a connection or session, in its transaction);
        False if the key is held. Here in a savepoint: a violation undoes only this row."""
        try:
            async with conn.begin_nested():
                await conn.execute(insert(jobs), [dict(row)])
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
