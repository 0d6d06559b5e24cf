"""One module per database: what differs between SQLite, PostgreSQL and MySQL/MariaDB lives there.

:class:`~.default.DefaultImpl` runs DBJobQ's statements through SQLAlchemy Core, choosing by
capability; ``sqlite``, ``postgresql`` and ``mysql`` override what their database does differently.
A module is imported only when a URL of its database is opened, so a driver is needed only then.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import URL

from ...errors import ConfigurationError
from .default import Claim, DefaultImpl

__all__ = ["Claim", "DefaultImpl", "impl_for", "now_sql"]


def now_sql(backend: str) -> str | None:
    """The SQL for the server's "now" in epoch seconds on ``backend`` (SQLAlchemy's backend name or
    Django's vendor), or ``None`` where the process's clock is used (SQLite): for rows written by
    another layer (Django's ORM) that must be stamped by the same clock as the core's."""
    if backend == "postgresql":
        from .clocks import POSTGRESQL_NOW_SQL

        return POSTGRESQL_NOW_SQL
    if backend in ("mysql", "mariadb"):
        from .mysql import NOW_SQL as MYSQL_NOW_SQL

        return MYSQL_NOW_SQL
    return None


def impl_for(
    url: URL, engine_options: Mapping[str, Any], *, pgbouncer: bool = False, listen_url: URL | None = None
) -> DefaultImpl:
    """The implementation for ``url``'s database (a URL :func:`..urls.parse_url` accepted); ``pgbouncer``
    and ``listen_url`` are PostgreSQL's (see :class:`.postgresql.PostgresqlImpl`)."""
    backend = url.get_backend_name()
    if (pgbouncer or listen_url is not None) and backend != "postgresql":
        raise ConfigurationError("pgbouncer and listen_url apply to PostgreSQL only: remove them for this database")
    if listen_url is not None and listen_url.get_backend_name() != "postgresql":
        raise ConfigurationError("listen_url must be a postgresql+asyncpg:// URL (a direct connection)")
    if backend == "sqlite":
        from .sqlite import SQLiteImpl

        return SQLiteImpl(url, engine_options)
    if backend == "postgresql":
        from .postgresql import PostgresqlImpl  # imports asyncpg

        return PostgresqlImpl(url, engine_options, pgbouncer=pgbouncer, listen_url=listen_url)
    if backend in ("mysql", "mariadb"):
        from .mysql import MySQLImpl

        return MySQLImpl(url, engine_options)
    return DefaultImpl(url, engine_options)
