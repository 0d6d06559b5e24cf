"""SQLAlchemyStorage: the job store on SQLite, PostgreSQL and MySQL/MariaDB through async SQLAlchemy.

The class is assembled from parts, one room each: :mod:`.sql_jobs` (enqueue, read, manage),
:mod:`.sql_claims` (the worker's statements), :mod:`.sql_views` (operators' per-queue figures and
pages), :mod:`.sql_schedules`, :mod:`.sql_workers`, :mod:`.sql_queues` (queue controls). They run
their statements on a :class:`~.database.Database` (the engine, its connections, driver errors
wrapped), whose dialect implementation (:mod:`.dialects`) holds what differs between databases.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import insert, inspect, select
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine

from .. import errors
from ..redaction import mask_url
from . import migrations
from .base import BaseStorage, ChangeProbe, Subscription
from .database import Database, wrap_driver_errors
from .dialects import impl_for
from .schema import SCHEMA_VERSION, meta, metadata
from .sql_claims import ClaimsSQL
from .sql_dependencies import DependenciesSQL
from .sql_flow import FlowSQL
from .sql_jobs import JobsSQL
from .sql_queues import QueuesSQL
from .sql_schedules import SchedulesSQL
from .sql_views import ViewsSQL
from .sql_workers import WorkersSQL
from .urls import parse_url

logger = logging.getLogger(__name__)

#: How often ``initialize()`` retries creating the tables when another process races it.
_CREATE_ATTEMPTS = 5


class SQLAlchemyStorage(
    JobsSQL, ClaimsSQL, FlowSQL, DependenciesSQL, ViewsSQL, SchedulesSQL, WorkersSQL, QueuesSQL, BaseStorage
):
    """A job store on any database SQLAlchemy reaches with an async driver.

    ``url`` is ``sqlite+aiosqlite:///path`` (or ``:memory:``), ``postgresql+asyncpg://…`` or
    ``mysql+aiomysql://…``; ``engine_options`` go to :func:`sqlalchemy.ext.asyncio.create_async_engine`.
    Call :meth:`initialize` first (or use ``async with``), :meth:`close` last. With ``lazy=True`` the
    engine opens on first use instead, for tables that exist already (e.g. created by Django's
    migrations); ``initialize()`` still creates missing tables.

    ``pgbouncer=True`` (PostgreSQL behind PgBouncer in transaction pooling): no named prepared statement
    outlives a transaction; LISTEN, which a transaction pooler cannot carry, goes over ``listen_url`` (a
    direct connection to the same database) when given, else workers poll (and log once that they do).
    """

    def __init__(
        self,
        url: str | URL,
        *,
        lazy: bool = False,
        pgbouncer: bool = False,
        listen_url: str | URL | None = None,
        **engine_options: Any,
    ) -> None:
        self.url: URL = parse_url(url)
        direct = None if listen_url is None else parse_url(listen_url)
        impl = impl_for(self.url, engine_options, pgbouncer=pgbouncer, listen_url=direct)
        #: The database: ``"sqlite"``, ``"postgresql"`` or ``"mysql"`` (MySQL and MariaDB).
        self.dialect: str = impl.name
        self._db = Database(impl, lazy=lazy)
        self._limit_rows: set[str] = set()  # flow-controlled types whose dbjobq_limits row exists

    def __repr__(self) -> str:
        return f"SQLAlchemyStorage({mask_url(self.url)!r})"

    @property
    def engine(self) -> AsyncEngine:
        """The async engine; raises until :meth:`initialize` ran (unless lazy) and after :meth:`close`."""
        return self._db.engine

    @property
    def supports_notifications(self) -> bool:
        """PostgreSQL pushes a NOTIFY for each committed enqueue."""
        return self._db.impl.supports_notifications

    async def initialize(self) -> None:
        """Connect and create the tables if they are missing. Idempotent; safe when processes race."""
        self._db.open()
        self._db.impl.check_before_connecting()
        for attempt in range(_CREATE_ATTEMPTS):
            with wrap_driver_errors(f"Could not connect to {self!r}"):
                conn = await self.engine.connect()
            try:
                with wrap_driver_errors(f"Database error on {self!r}"):
                    async with conn.begin():
                        await conn.run_sync(metadata.create_all, checkfirst=True)
                break
            except errors.StorageError as exc:
                # Another process created the same table between our check and our CREATE.
                if not isinstance(exc.__cause__, (OperationalError, ProgrammingError, IntegrityError)):
                    raise
                if attempt == _CREATE_ATTEMPTS - 1:
                    raise errors.StorageError(f"Could not create the DBJobQ tables: {exc.__cause__}") from exc
                await asyncio.sleep(0.05 * (attempt + 1))
            finally:
                await conn.close()
        await self._check_schema_version()

    async def _check_schema_version(self) -> None:
        async with self._db.transaction() as conn:
            value = (await conn.execute(select(meta.c.value).where(meta.c.key == "schema_version"))).scalar()
            if value is None:
                with contextlib.suppress(IntegrityError):  # another process wrote it first
                    async with conn.begin_nested():
                        await conn.execute(insert(meta).values(key="schema_version", value=str(SCHEMA_VERSION)))
            elif int(value) > SCHEMA_VERSION:
                raise errors.StorageError(
                    f"The database has DBJobQ schema version {value}, newer than this dbjobq "
                    f"({SCHEMA_VERSION}): upgrade dbjobq"
                )
        stored = int(value) if value is not None else SCHEMA_VERSION
        failures = 0
        while stored < SCHEMA_VERSION:
            try:
                async with self._db.transaction() as conn:
                    stored = await conn.run_sync(migrations.upgrade_step, stored)
            except errors.StorageError:
                # Another process made the same change at the same time (a duplicate column or index).
                # Each step checks what exists, so trying again finishes it, or finds the version moved.
                failures += 1
                if failures >= 5:
                    raise
                await asyncio.sleep(0.05 * failures)
                async with self._db.transaction() as conn:
                    found = (await conn.execute(select(meta.c.value).where(meta.c.key == "schema_version"))).scalar()
                stored = max(stored, int(found or 0))

    async def now(self) -> float:
        """The database's clock in epoch seconds (SQLite: this process's), read in one round trip: for
        what must be computed in Python from the database's now (a cron schedule's next run)."""
        async with self._db.transaction() as conn:
            return float((await conn.execute(select(self._db.impl.now()))).scalar_one())

    async def stored_schema_version(self) -> int | None:
        """The schema version the database is at (``None``: no DBJobQ tables yet). Reads; never upgrades."""
        self._db.open()
        with wrap_driver_errors(f"Could not read the schema version of {self!r}"):
            async with self.engine.connect() as conn:
                if not await conn.run_sync(lambda sync: inspect(sync).has_table(meta.name)):
                    return None
                value = (await conn.execute(select(meta.c.value).where(meta.c.key == "schema_version"))).scalar()
        return None if value is None else int(value)

    async def close(self) -> None:
        """Close every connection. The storage refuses use afterwards."""
        await self._db.close()

    async def listen(
        self, on_notify: Callable[[], None], on_queues: Callable[[], None] | None = None
    ) -> Subscription | None:
        """LISTEN for new jobs and queue controls (PostgreSQL); ``None`` on databases without notifications."""
        return await self._db.impl.listen(self.engine, on_notify, on_queues)

    async def open_change_probe(self) -> ChangeProbe | None:
        """``PRAGMA data_version`` (SQLite) or the largest job id (MySQL, MariaDB): see :mod:`.probes`."""
        return self._db.impl.change_probe(self.engine)
