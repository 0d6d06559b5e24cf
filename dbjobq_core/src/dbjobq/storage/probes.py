"""Change probes: how a worker without LISTEN/NOTIFY sees cheaply that jobs may have been added.

A probe answers one question, "did anything change since I last asked?", far more cheaply than a
claim. A worker between polls asks it often while jobs flow and less often as it stays idle
(:mod:`dbjobq.worker.wakeups`); a "yes" makes it claim at once. A false "yes" costs one empty claim;
a missed change costs at most the wait until the next poll (``poll_interval``), as without a probe.

- SQLite: ``PRAGMA data_version`` on a connection of the probe's own. It changes whenever another
  connection, in any process, commits a change to the file; it reads the WAL index in shared
  memory (a few µs, no I/O), so it runs on the event loop itself without a thread hop.
- Other databases (MySQL, MariaDB): ``SELECT MAX(id)`` on the jobs table, one primary-key lookup.
  Job ids are time-ordered (UUIDv7, :mod:`.ids`), so every insert moves it, whoever inserts (DBJobQ,
  the Django ORM, another machine). Ids made on a machine whose clock is behind may not move it:
  those jobs wait for the poll.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .schema import jobs

logger = logging.getLogger(__name__)


class DataVersionProbe:
    """SQLite's ``PRAGMA data_version`` on a dedicated stdlib connection (never waits for a lock)."""

    fastest = 0.005

    def __init__(self, database: str, *, uri: bool = False) -> None:
        self._database = database
        self._uri = uri
        self._connection: sqlite3.Connection | None = None
        self._last: int | None = None

    async def changed(self) -> bool:
        try:
            if self._connection is None:
                # timeout=0: the pragma never waits for a lock; isolation_level=None: no transaction.
                self._connection = sqlite3.connect(
                    self._database, uri=self._uri, timeout=0, isolation_level=None, check_same_thread=False
                )
            version = self._connection.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error:
            logger.debug("PRAGMA data_version failed", exc_info=True)
            await self.close()
            return True
        last, self._last = self._last, version
        return last is not None and version != last

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        self._last = None
        if connection is not None:
            with contextlib.suppress(sqlite3.Error):
                connection.close()


#: The probe's statement: the primary key's last entry, one index lookup whatever the table holds.
MAX_ID_SQL = f"SELECT MAX(id) FROM {jobs.name}"


class MaxIdProbe:
    """``SELECT MAX(id) FROM dbjobq_jobs`` on a kept autocommit connection (one round trip a probe)."""

    fastest = 0.005

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._connection: AsyncConnection | None = None
        self._last: Any = None
        self._started = False

    async def changed(self) -> bool:
        try:
            if self._connection is None:
                self._connection = await self._engine.connect()
            latest = await self._latest(self._connection)
        except Exception:  # a lost connection: open a new one next time
            logger.debug("The change probe failed", exc_info=True)
            await self.close(broken=True)
            return True
        last, self._last = self._last, latest
        started, self._started = self._started, True
        return started and latest != last

    async def _latest(self, connection: AsyncConnection) -> Any:
        return (await connection.exec_driver_sql(MAX_ID_SQL)).scalar()

    async def close(self, *, broken: bool = False) -> None:
        connection, self._connection = self._connection, None
        self._started = False
        if connection is None:
            return
        try:
            if broken:
                await connection.invalidate()
            await connection.close()
        except Exception:  # a connection the server dropped: throw it away rather than leave it checked out
            with contextlib.suppress(Exception):
                await connection.invalidate()


class AiomysqlMaxIdProbe(MaxIdProbe):
    """:class:`MaxIdProbe` through aiomysql's own cursor: half the Python of SQLAlchemy's execute path
    (about 0.14 ms a probe instead of 0.28 ms here)."""

    async def _latest(self, connection: AsyncConnection) -> Any:
        driver: Any = (await connection.get_raw_connection()).driver_connection
        async with driver.cursor() as cursor:
            await cursor.execute(MAX_ID_SQL)
            row = await cursor.fetchone()
        return row[0] if row else None
