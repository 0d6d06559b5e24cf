"""MySQL 8 and MariaDB 10.6+: no ``UPDATE … RETURNING`` (the default implementation locks, then updates),
READ COMMITTED, and writes in explicit transactions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Double, Select, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from ..base import ChangeProbe
from ..probes import AiomysqlMaxIdProbe, MaxIdProbe
from ..schema import jobs
from .default import DefaultImpl

# The server's clock at the start of the statement (UTC_TIMESTAMP, like NOW, is fixed for the whole
# statement: every row and column of one statement sees one instant, and the due check agrees with the
# stamps). Counted from the epoch as a plain DATETIME difference, so the session's time zone and its
# daylight-saving jumps play no part (UNIX_TIMESTAMP(NOW()) converts through the session zone).
NOW_SQL = "(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6)) / 1e6)"

if TYPE_CHECKING:
    from ..database import Database


class MySQLImpl(DefaultImpl):
    """MySQL and MariaDB through aiomysql."""

    name = "mysql"
    # aiomysql switches a pooled connection into autocommit and back with extra round trips (and resets
    # the isolation level on return): BEGIN … COMMIT costs less than that for a one-statement write.
    autocommit_writes = False
    server_clock = True
    _packet_limit: int | None = None

    async def packet_limit(self, db: Database) -> int | None:
        """The server's ``max_allowed_packet``, read once per engine: a statement over it is refused."""
        if self._packet_limit is None:
            async with db.transaction() as conn:
                self._packet_limit = int((await conn.execute(text("SELECT @@max_allowed_packet"))).scalar_one())
        return self._packet_limit

    def default_engine_options(self) -> dict[str, Any]:
        """READ COMMITTED avoids InnoDB gap locks between concurrent claimers; connections are recycled
        before the server's ``wait_timeout`` closes them.

        No ROLLBACK when a connection goes back to the pool: every connection DBJobQ takes is a
        SQLAlchemy ``Connection``, which ends its own transaction (commits it, or rolls it back when
        closed with one open), so the pool's reset was one more round trip after each committed write
        (a third of a single enqueue's). The session's isolation level and autocommit are still reset
        on return (SQLAlchemy does that apart from this reset)."""
        return {
            "isolation_level": "READ COMMITTED",
            "pool_recycle": 3600,
            "pool_size": 10,
            "max_overflow": 10,
            "pool_reset_on_return": None,
        }

    def now(self) -> ColumnElement[float]:
        """The server's clock (see :data:`NOW_SQL`)."""
        return literal_column(NOW_SQL, Double)

    def unique_key_held(self, key: str) -> ColumnElement[bool]:
        """Through the generated column the unique index is built on (it holds only held keys)."""
        return literal_column("unique_active") == key

    def queue_names(self) -> Select[Any]:
        """MySQL and MariaDB skip through the index themselves (a loose index scan) for SELECT DISTINCT."""
        return select(jobs.c.queue).distinct().order_by(jobs.c.queue)

    def change_probe(self, engine: AsyncEngine) -> ChangeProbe | None:
        """The largest job id, read through aiomysql's own cursor when that is the driver."""
        return AiomysqlMaxIdProbe(engine) if engine.dialect.driver == "aiomysql" else MaxIdProbe(engine)
