"""The storage web processes use: opened on first use, and pooling no connection across event loops."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from dbjobq.integration import POOL_OPTIONS, is_memory_sqlite
from dbjobq.storage import SQLAlchemyStorage


class DjangoStorage(SQLAlchemyStorage):
    """A :class:`SQLAlchemyStorage` that needs no ``initialize()`` and works from any event loop.

    Django's migrations own the tables, so the engine is simply opened on first use. Django serves
    async code from many event loops (one per ``async_to_sync`` call under WSGI, the server's under
    ASGI), and a pooled asyncpg/aiomysql connection belongs to the loop that opened it, so by default
    no connection is pooled (``NullPool``): each operation connects, as Django itself does with
    ``CONN_MAX_AGE = 0``. Pass ``poolclass`` in ``DBJOBQ["ENGINE_OPTIONS"]`` to pool under ASGI.
    """

    def __init__(self, url: str | URL, **engine_options: Any) -> None:
        if "poolclass" not in engine_options:
            options = {k: v for k, v in engine_options.items() if k not in POOL_OPTIONS}
            engine_options = {**options, "poolclass": NullPool}
        super().__init__(url, **engine_options)
        self._open_lock = threading.Lock()

    @property
    def engine(self) -> AsyncEngine:
        """The async engine, created on first use."""
        if self._engine is None and not self._closed:
            with self._open_lock:
                if self._engine is None:
                    engine = create_async_engine(self.url, **self._engine_options)
                    if self.dialect == "sqlite":
                        self._configure_sqlite(engine, memory=is_memory_sqlite(self.url))
                    self._engine = engine
        return super().engine
