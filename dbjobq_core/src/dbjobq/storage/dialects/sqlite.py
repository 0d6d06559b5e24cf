"""SQLite: one writer at a time, so a claim is a single ``UPDATE … RETURNING`` (autocommit); WAL and a
busy timeout let several processes share one file; the claim reads through its partial index by name.
Enqueues, claims and outcomes take :mod:`.sqlite_fastpath` (a database file; in memory, SQLAlchemy)."""

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
from ...models import Outcome
from ..base import ChangeProbe
from ..probes import DataVersionProbe
from ..schema import UNIQUE_KEY_INDEX, jobs
from ..urls import is_memory_sqlite
from .default import Claim, DefaultImpl
from .sqlite_fastpath import PRAGMAS, SQLiteFastPath, claim_candidates_sql

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

    def _hot_path(self, db: Database) -> SQLiteFastPath | None:
        """The hot path's connection and thread (opened on first use); ``None`` in memory, or where
        SQLite is too old for ``RETURNING`` (3.35): those keep the SQLAlchemy path."""
        if is_memory_sqlite(self.url) or not db.engine.dialect.update_returning:
            return None
        if self._fastpath is None:
            database, uri = self._file(db.engine)
            self._fastpath = SQLiteFastPath(database, uri=uri)
        return self._fastpath

    async def insert_jobs(self, db: Database, rows: Sequence[Mapping[str, Any]]) -> None:
        """Through :mod:`.sqlite_fastpath` (one thread hop), except in memory."""
        fastpath = self._hot_path(db)
        if fastpath is None:
            await super().insert_jobs(db, rows)
            return
        await fastpath.insert(rows)

    async def claim(self, db: Database, claim: Claim) -> Sequence[Mapping[Any, Any]]:
        """Through :mod:`.sqlite_fastpath` (one thread hop), except in memory."""
        fastpath = self._hot_path(db)
        if fastpath is None:
            return await super().claim(db, claim)
        return await fastpath.claim(claim)

    async def record_outcomes(self, db: Database, groups: Sequence[Sequence[Outcome]]) -> set[str] | None:
        """Through :mod:`.sqlite_fastpath` (one thread hop), except in memory (``None``: SQLAlchemy's UPDATEs)."""
        fastpath = self._hot_path(db)
        if fastpath is None:
            return None
        return await fastpath.record_outcomes(groups)

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
        """:func:`.sqlite_fastpath.claim_candidates_sql` as SQLAlchemy text (a claim on an in-memory database)."""
        # ``now`` is this process's clock as a bound value (SQLite keeps the process's clock).
        at = now.value if isinstance(now, BindParameter) else None
        sql, values = claim_candidates_sql(claim, time.time() if at is None else float(at))
        pieces = sql.split("?")
        named = "".join(f"{piece}:p{i}" for i, piece in enumerate(pieces[:-1])) + pieces[-1]
        params: list[BindParameter[Any]] = [bindparam(f"p{i}", value) for i, value in enumerate(values)]
        return text(named).bindparams(*params).columns(jobs.c.id)

    def whole_minutes(self, epoch_seconds: ColumnElement[Any]) -> ColumnElement[Any]:
        """A cast, not ``floor()``: SQLite has math functions only when built with them (times are positive)."""
        return cast(epoch_seconds / 60, Integer)
