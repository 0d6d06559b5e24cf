"""SQLAlchemyStorage's workers table: who is running, where, and when each last renewed its leases."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, insert, select

from ..models import WorkerInfo
from . import records
from .database import Database
from .schema import workers


class WorkersSQL:
    """Part of :class:`~.sqlalchemy_storage.SQLAlchemyStorage`: the worker registry (for operators' tools)."""

    _db: Database

    async def register_worker(self, worker_id: str, *, queues: Sequence[str] | None, concurrency: int) -> None:
        """Record a live worker (replacing a stale row with the same id)."""
        row = records.worker_row(worker_id, queues, concurrency, self._db.impl.now())
        async with self._db.transaction() as conn:
            await conn.execute(delete(workers).where(workers.c.id == worker_id))
            await conn.execute(insert(workers).values(**row))

    async def unregister_worker(self, worker_id: str) -> None:
        """Forget a worker that stopped."""
        async with self._db.transaction() as conn:
            await conn.execute(delete(workers).where(workers.c.id == worker_id))

    async def list_workers(self) -> list[WorkerInfo]:
        """The registered workers, oldest first."""
        async with self._db.transaction() as conn:
            rows = (await conn.execute(select(workers).order_by(workers.c.started_at))).mappings().all()
        return [records.worker_from_row(r) for r in rows]

    async def prune_workers(self, older_than: float) -> int:
        """Forget workers silent for more than ``older_than`` seconds."""
        stmt = delete(workers).where(workers.c.last_heartbeat < self._db.impl.now() - older_than)
        async with self._db.transaction() as conn:
            return int((await conn.execute(stmt)).rowcount)
