"""SQLAlchemyStorage's queue controls: durable pause and resume of a queue, seen by every worker."""

from __future__ import annotations

from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from .database import Database
from .schema import queues


class QueuesSQL:
    """Part of :class:`~.sqlalchemy_storage.SQLAlchemyStorage`: the ``dbjobq_queues`` table."""

    _db: Database

    async def set_queue_paused(self, name: str, paused: bool, *, until: float | None = None) -> None:
        """Pause ``name`` (until ``until``) or resume it, then announce it to listening workers.

        Portable upsert: UPDATE, and INSERT if no row was there; two operators inserting the same
        new row at once both end with one row, the later write winning (it updates instead).
        """
        if not name or len(name) > 64:
            raise ValueError("queue must be a non-empty string of at most 64 characters")
        values = {"paused": paused, "paused_until": until if paused else None, "updated_at": self._db.impl.now()}
        for attempt in range(2):
            try:
                async with self._db.transaction() as conn:
                    done = await conn.execute(update(queues).where(queues.c.name == name).values(**values))
                    if not done.rowcount:
                        await conn.execute(insert(queues).values(name=name, **values))
                    await self._db.impl.notify_queues(conn)
                return
            except Exception as exc:  # wrapped as StorageError; the cause tells a lost insert race
                if attempt or not isinstance(exc.__cause__, IntegrityError):
                    raise

    async def queue_controls(self) -> dict[str, tuple[bool, float | None]]:
        """``name -> (paused, paused_until)`` for every queue with a control row."""
        async with self._db.transaction() as conn:
            rows = (await conn.execute(select(queues.c.name, queues.c.paused, queues.c.paused_until))).all()
        return {name: (bool(paused), None if until is None else float(until)) for name, paused, until in rows}

    async def paused_queues(self) -> set[str]:
        """The queues paused now: paused, and either until resumed or until a time still ahead."""
        now = self._db.impl.now()  # the database's clock, as for due times
        stmt = select(queues.c.name).where(
            queues.c.paused, or_(queues.c.paused_until.is_(None), queues.c.paused_until > now)
        )
        async with self._db.transaction() as conn:
            return set((await conn.execute(stmt)).scalars().all())
