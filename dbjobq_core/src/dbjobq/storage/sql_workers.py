"""SQLAlchemyStorage's workers table: who is running, where, and when each last renewed its leases."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence

from sqlalchemy import delete, func, insert, select

from ..models import WorkerInfo
from . import records
from .database import Database
from .schema import PENDING_SQL, jobs, workers


class WorkersSQL:
    """Part of :class:`~.sqlalchemy_storage.SQLAlchemyStorage`: the worker registry (for operators' tools)."""

    _db: Database

    async def register_worker(
        self,
        worker_id: str,
        *,
        queues: Sequence[str] | None,
        concurrency: int,
        job_types: Sequence[str] | None = None,
    ) -> None:
        """Record a live worker and its job types (replacing a stale row with the same id)."""
        row = records.worker_row(worker_id, queues, concurrency, self._db.impl.now())
        row["job_types"] = None if job_types is None else json.dumps(sorted(job_types))
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

    async def orphan_job_types(self, live_within: float) -> dict[str, int]:
        """Pending jobs (count by type) whose type no worker seen within ``live_within`` seconds registered."""
        pending = (
            select(jobs.c.type, func.count())
            .where(jobs.c.status == PENDING_SQL)
            .group_by(jobs.c.type)
        )
        live = select(workers.c.job_types).where(workers.c.last_heartbeat >= self._db.impl.now() - live_within)
        async with self._db.transaction() as conn:
            counts = {str(t): int(n) for t, n in (await conn.execute(pending)).all()}
            if not counts:
                return {}
            known: set[str] = set()
            for (types,) in (await conn.execute(live)).all():
                if types is None:
                    return {}  # a worker that recorded no types may run any of them
                with contextlib.suppress(ValueError, TypeError):
                    known.update(str(t) for t in json.loads(types))
        return {t: n for t, n in sorted(counts.items()) if t not in known}

    async def prune_workers(self, older_than: float) -> int:
        """Forget workers silent for more than ``older_than`` seconds."""
        stmt = delete(workers).where(workers.c.last_heartbeat < self._db.impl.now() - older_than)
        async with self._db.transaction() as conn:
            return int((await conn.execute(stmt)).rowcount)
