"""The engine and its connections: opened once, closed once, and every driver error wrapped on the way out."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from .. import errors

if TYPE_CHECKING:
    from .dialects.default import DefaultImpl


class LostConnectionError(errors.StorageError):
    """A ``StorageError`` whose connection was lost or refused (see :func:`wrap_driver_errors`): what was
    being written may succeed when tried again."""


@contextlib.contextmanager
def wrap_driver_errors(
    context: str = "Database error",
    *,
    driver_errors: tuple[type[BaseException], ...] = (),
    connection_errors: tuple[type[BaseException], ...] = (),
) -> Iterator[None]:
    """Turn a database driver's error inside the block into ``StorageError(f"{context}: …")``.

    The one place where driver errors cross into DBJobQ's errors: SQLAlchemy's ``DBAPIError`` (the
    driver's own error is in ``orig``), a lost or refused connection (``OSError``), and the errors of a
    driver used directly (the asyncpg hot path passes its own classes). DBJobQ's errors pass through.
    """
    lost_connection: tuple[type[BaseException], ...] = (OSError, *connection_errors)
    try:
        yield
    except DBAPIError as exc:
        raise errors.StorageError(f"{context}: {exc.orig!r}") from exc
    except driver_errors as exc:
        raise errors.StorageError(f"{context}: {exc!r}") from exc
    except lost_connection as exc:
        raise LostConnectionError(f"{context}: connection failed: {exc!r}") from exc


class Database:
    """The async engine of one storage, and the connections its statements run on.

    The engine opens in :meth:`open` (``initialize()``), or on first use when ``lazy`` (for callers
    whose tables exist already, e.g. created by Django's migrations); after :meth:`close` every use
    raises ``StorageClosedError``.
    """

    def __init__(self, impl: DefaultImpl, *, lazy: bool = False) -> None:
        self.impl = impl
        self._lazy = lazy
        self._engine: AsyncEngine | None = None
        self._autocommit: AsyncEngine | None = None
        self._closed = False
        # A lazy engine may be first used from several threads at once (Django serves many loops).
        self._opening = threading.Lock()

    @property
    def engine(self) -> AsyncEngine:
        """The async engine; raises before it was opened (unless lazy) and after :meth:`close`."""
        if self._closed:
            raise errors.StorageClosedError()
        if self._engine is None:
            if not self._lazy:
                raise errors.StorageNotInitializedError()
            self.open()
        assert self._engine is not None
        return self._engine

    def open(self) -> AsyncEngine:
        """Create the engine if it is not open yet (no connection is made here)."""
        if self._closed:
            raise errors.StorageClosedError()
        with self._opening:
            if self._engine is None:
                engine = create_async_engine(self.impl.url, **self.impl.engine_options)
                self.impl.configure_engine(engine)
                # Same pool, autocommit: a one-statement write costs one round trip, not BEGIN+it+COMMIT.
                self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
                self._engine = engine
        return self._engine

    @property
    def is_open(self) -> bool:
        """True while the engine exists (opened and not closed)."""
        return self._engine is not None

    async def close(self) -> None:
        """Close the dialect's own connections, then dispose of the engine. Later use raises."""
        self._closed = True
        engine, self._engine, self._autocommit = self._engine, None, None
        await self.impl.close()
        if engine is not None:
            await engine.dispose()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A transaction on a pooled connection, committed on exit; driver errors wrapped."""
        engine = self.engine
        with wrap_driver_errors():
            async with engine.begin() as conn:
                yield conn

    @contextlib.asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection in autocommit mode, for one self-contained statement; driver errors wrapped."""
        self.engine  # noqa: B018 (raises if closed or not open)
        assert self._autocommit is not None
        with wrap_driver_errors():
            async with self._autocommit.connect() as conn:
                yield conn

    def write(self, *, single_statement: bool) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        """Where a write runs: autocommit for one statement if the database gains by it, else a transaction."""
        if single_statement and self.impl.autocommit_writes:
            return self.autocommit()
        return self.transaction()
