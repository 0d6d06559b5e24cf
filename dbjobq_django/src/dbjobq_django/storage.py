"""The storage web processes use: opened on first use, and pooling no connection across event loops."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from dbjobq.integration import POOL_OPTIONS
from dbjobq.storage import SQLAlchemyStorage


class DjangoStorage(SQLAlchemyStorage):
    """A :class:`SQLAlchemyStorage` that needs no ``initialize()`` and works from any event loop.

    Django's migrations own the tables, so the engine opens on first use (``lazy=True``). Django
    serves async code from many event loops (one per ``async_to_sync`` call under WSGI, the server's
    under ASGI), and a pooled asyncpg/aiomysql connection belongs to the loop that opened it, so by
    default no connection is pooled (``NullPool``): each operation connects, as Django itself does
    with ``CONN_MAX_AGE = 0``. Pass ``poolclass`` in ``DBJOBQ["ENGINE_OPTIONS"]`` to pool under ASGI.
    """

    def __init__(self, url: str | URL, **engine_options: Any) -> None:
        if "poolclass" not in engine_options:
            options = {k: v for k, v in engine_options.items() if k not in POOL_OPTIONS}
            engine_options = {**options, "poolclass": NullPool}
        super().__init__(url, lazy=True, **engine_options)
