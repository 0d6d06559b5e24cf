"""SQLite: one writer at a time, so a claim is a single ``UPDATE … RETURNING`` (autocommit); WAL and a
busy timeout let several processes share one file; the claim reads through its partial index by name."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Integer, TextualSelect, bindparam, cast, event, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.sql.elements import BindParameter

from ... import errors
from ..base import ChangeProbe
from ..probes import DataVersionProbe
from ..schema import UNIQUE_KEY_INDEX, jobs
from ..urls import is_memory_sqlite
from .default import Claim, DefaultImpl
from .sqlite_fastpath import PRAGMAS, SQLiteFastPath

if TYPE_CHECKING:
    from ..database import Database


class SQLiteImpl(DefaultImpl):
    """SQLite through aiosqlite."""

    name = "sqlite"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fastpath: SQLiteFastPath | None = None

    def _file(self, engine: AsyncEngine) -> tuple[str, bool]:
        """The database file (or ``file:`` URI) as ``sqlite3.connect`` takes it, and whether it is a URI."""
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        return str(args[0]), bool(kwargs.get("uri"))

    async def insert_jobs(self, db: Database, rows: Sequence[Mapping[str, Any]]) -> None:
        """Through :mod:`.sqlite_fastpath` (one thread hop), except in memory."""
        if is_memory_sqlite(self.url):
            await super().insert_jobs(db, rows)
            return
        if self._fastpath is None:
            database, uri = self._file(db.engine)
            self._fastpath = SQLiteFastPath(database, uri=uri)
        await self._fastpath.insert(rows)

    async def close(self) -> None:
        """Close the enqueue path's connection and thread."""
        fastpath, self._fastpath = self._fastpath, None
        if fastpath is not None:
            await fastpath.close()

    def default_engine_options(self) -> dict[str, Any]:
        """One connection per process: SQLite has one writer at a time, so this process's writes queue
        here instead of failing with "database is locked", and an in-memory database stays alive."""
        return {"poolclass": AsyncAdaptedQueuePool, "pool_size": 1, "max_overflow": 0, "pool_timeout": 60}

    def check_before_connecting(self) -> None:
        """Name the missing directory of a database file: SQLite's "unable to open database file" does not."""
        if is_memory_sqlite(self.url) or self.url.query.get("uri"):
            return
        directory = Path(str(self.url.database)).expanduser().absolute().parent
        if not directory.is_dir():
            raise errors.StorageError(
                f"Cannot open the SQLite database {self.url.database!r}: "
                f"the directory {str(directory)!r} does not exist"
            )

    def configure_engine(self, engine: AsyncEngine) -> None:
        """WAL lets readers work beside the single writer; the busy timeout makes several processes
        queue for the write lock instead of failing; NORMAL sync is durable across process crashes."""
        memory = is_memory_sqlite(self.url)

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            for pragma in PRAGMAS:
                if not (memory and "journal_mode" in pragma):  # an in-memory database has no journal file
                    cursor.execute(pragma)
            cursor.close()

    async def insert_unique(self, conn: Any, row: Mapping[str, Any]) -> bool:
        """``INSERT … ON CONFLICT DO NOTHING`` against the partial unique index: no savepoint needed (and pysqlite
        would commit a savepoint opened before any other write of the transaction)."""
        stmt = (
            sqlite_insert(jobs)
            .values(**row)
            .on_conflict_do_nothing(
                index_elements=[jobs.c.unique_key], index_where=UNIQUE_KEY_INDEX.dialect_options["sqlite"]["where"]
            )
        )
        return bool((await conn.execute(stmt)).rowcount)

    def change_probe(self, engine: AsyncEngine) -> ChangeProbe | None:
        """``PRAGMA data_version`` on a connection of its own (none in memory: one process, in-process wake-ups)."""
        if is_memory_sqlite(self.url):
            return None
        database, uri = self._file(engine)
        return DataVersionProbe(database, uri=uri)

    def claim_candidates(self, claim: Claim, now: ColumnElement[float]) -> TextualSelect:
        """The ids to claim (due at ``now``), read through the claim index in its order (stops after
        ``limit`` rows).

        No row locks are needed: the single writer makes the claiming UPDATE atomic as it stands.
        Without ANALYZE statistics SQLite's planner prefers the (status, finished_at) index for
        ``status = 'pending'`` and sorts every pending row on each claim; INDEXED BY pins the partial index.
        """
        sql = (
            "SELECT id FROM dbjobq_jobs INDEXED BY ix_dbjobq_jobs_claim "
            "WHERE status = 'pending' AND execute_at <= :now"
            + (" AND queue IN :queues" if claim.queues else "")
            + (" AND queue NOT IN :exclude" if claim.exclude else "")
            + (" AND type NOT IN :exclude_types" if claim.exclude_types else "")
            + (" AND type IN :job_types" if claim.job_types is not None else "")
            + " ORDER BY priority DESC, execute_at, id LIMIT :limit"
        )
        # ``now`` is this process's clock as a bound value (SQLite keeps the process's clock).
        at = now.value if isinstance(now, BindParameter) else time.time()
        params: list[BindParameter[Any]] = [bindparam("now", at), bindparam("limit", claim.limit)]
        if claim.queues:
            params.append(bindparam("queues", list(claim.queues), expanding=True))
        if claim.exclude:
            params.append(bindparam("exclude", list(claim.exclude), expanding=True))
        if claim.exclude_types:
            params.append(bindparam("exclude_types", list(claim.exclude_types), expanding=True))
        if claim.job_types is not None:
            params.append(bindparam("job_types", list(claim.job_types), expanding=True))
        return text(sql).bindparams(*params).columns(jobs.c.id)

    def whole_minutes(self, epoch_seconds: ColumnElement[Any]) -> ColumnElement[Any]:
        """A cast, not ``floor()``: SQLite has math functions only when built with them (times are positive)."""
        return cast(epoch_seconds / 60, Integer)
