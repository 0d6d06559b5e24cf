"""SQLAlchemyStorage's flow-controlled claims: jobs of a type with a concurrency or rate limit.

Such jobs are claimed per type, apart from the others (the ordinary claim leaves those types out), in
one transaction that first locks the type's row of ``dbjobq_limits`` — an UPDATE, so that on SQLite it
takes the write lock before anything is read. Claimers of one type thus go one at a time on every
database, and each sees the jobs the one before it started: the slots per concurrency key are counted
from the running jobs, and the starts in the current rate-limit window from the row itself. A worker
that dies keeps its slots until lease recovery requeues its jobs. Other types never wait on this lock.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, case, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from .. import errors
from ..flow import FlowLimit, LimitedClaim
from ..models import JobStatus
from . import records
from .database import Database
from .dialects.default import CLAIM_ORDER, due_pending
from .ids import new_token
from .schema import RUNNING_SQL, jobs, limits

#: How many due jobs of the type one claim looks at, at least (beyond the slots it may fill).
_SCAN = 200


class FlowSQL:
    """Part of :class:`~.sqlalchemy_storage.SQLAlchemyStorage`: claims under concurrency and rate limits."""

    _db: Database
    _limit_rows: set[str]

    async def claim_limited_jobs(
        self,
        limit: FlowLimit,
        room: int,
        *,
        worker_id: str,
        lease_timeout: float,
        queues: Sequence[str] | None = None,
        exclude: Sequence[str] | None = None,
    ) -> LimitedClaim:
        """Claim up to ``room`` due jobs of ``limit.type`` within its limits (see the module's docstring)."""
        if room <= 0:
            return LimitedClaim([], None)
        await self._ensure_limit_row(limit.type)
        token = new_token()
        async with self._db.transaction() as conn:
            await self._db.impl.prepare_claim(conn)
            clock = self._db.impl.now()
            await conn.execute(update(limits).where(limits.c.name == limit.type).values(updated_at=clock))
            # Slots are counted once the lock is held (a job finishing after the count keeps its slot
            # until the next claim); then the database's now is read by a statement of its own (DESIGN.md
            # "One clock"; a statement's clock starts before it waits for a lock), so that the claim is
            # stamped after every job whose slot it takes finished, in the current rate-limit window.
            running: Counter[str] = Counter()
            if limit.concurrency is not None:
                counted = select(jobs.c.flow_key, func.count()).where(
                    jobs.c.type == limit.type, jobs.c.status == RUNNING_SQL
                )
                for key, n in (await conn.execute(counted.group_by(jobs.c.flow_key))).all():
                    running[key or ""] += int(n)
            read = (limits.c.window_start, limits.c.window_count, self._db.impl.now().label("now"))
            stored = (await conn.execute(select(*read).where(limits.c.name == limit.type))).one()
            now = float(stored.now)
            available, window, used, wake_at = room, 0.0, 0, None
            if limit.rate is not None:
                window = max(limit.rate.window_start(now), float(stored.window_start))
                used = int(stored.window_count) if float(stored.window_start) == window else 0
                available = min(available, limit.rate.count - used)
                if available <= 0:
                    return LimitedClaim([], window + limit.rate.period)
            chosen = await self._choose(conn, limit, available, running, now, due_pending(now, queues, exclude))
            if not chosen:
                return LimitedClaim([], None)
            for key, ids in _by_key([(job_id, key) for job_id, key, computed in chosen if computed]).items():
                # Keys computed here (the job was enqueued where its type was not imported) are kept.
                unkeyed = and_(self._db.impl.ids_in(ids), jobs.c.flow_key.is_(None))
                await conn.execute(update(jobs).where(unkeyed).values(flow_key=key))
            values = records.claimed_values(worker_id, token, now, lease_timeout)
            chosen_ids = self._db.impl.ids_in([job_id for job_id, _, _ in chosen])
            claim = (
                update(jobs)
                .where(chosen_ids, jobs.c.status == JobStatus.PENDING.value)
                .values(attempts=jobs.c.attempts + 1, **values)
            )
            if conn.dialect.update_returning:
                rows = (await conn.execute(claim.returning(*jobs.c))).mappings().all()
            else:
                await conn.execute(claim)
                rows = (await conn.execute(select(jobs).where(jobs.c.lease_token == token))).mappings().all()
            if limit.rate is not None:
                used += len(rows)
                await conn.execute(
                    update(limits).where(limits.c.name == limit.type).values(window_start=window, window_count=used)
                )
                if used >= limit.rate.count:
                    wake_at = window + limit.rate.period
        return LimitedClaim([records.job_from_row(row) for row in rows], wake_at)

    async def _choose(
        self,
        conn: Any,
        limit: FlowLimit,
        available: int,
        running: Counter[str],
        now: float,
        due: Any,
    ) -> list[tuple[str, str, bool]]:
        """(id, concurrency key, whether the key was computed here) of the due jobs to claim, in claim
        order, within the free slots."""
        cap = limit.concurrency
        full = sorted(key for key, n in running.items() if cap is not None and n >= cap)
        stmt = (
            select(jobs.c.id, jobs.c.flow_key, case((jobs.c.flow_key.is_(None), jobs.c.data), else_=None))
            .where(due, jobs.c.type == limit.type)
            .order_by(*CLAIM_ORDER)
            .limit(max(_SCAN, available * 4))
        )
        if full:  # keys with every slot taken: skip their jobs in the database, not here
            stmt = stmt.where(or_(jobs.c.flow_key.is_(None), jobs.c.flow_key.not_in(full)))
        chosen: list[tuple[str, str, bool]] = []
        taken: Counter[str] = Counter()
        for job_id, stored_key, data in (await conn.execute(stmt)).all():
            key = stored_key if stored_key is not None else limit.key_of(_data(data))
            if cap is not None and running[key] + taken[key] >= cap:
                continue
            chosen.append((job_id, key, stored_key is None))
            taken[key] += 1
            if len(chosen) >= available:
                break
        return chosen

    async def _ensure_limit_row(self, name: str) -> None:
        """Create the type's ``dbjobq_limits`` row once (another process may create it at the same time)."""
        if name in self._limit_rows:
            return
        try:
            async with self._db.transaction() as conn:
                exists = (await conn.execute(select(limits.c.name).where(limits.c.name == name))).first()
                if exists is None:
                    await conn.execute(
                        insert(limits).values(name=name, window_start=0.0, window_count=0, updated_at=time.time())
                    )
        except errors.StorageError as exc:
            if not isinstance(exc.__cause__, IntegrityError):
                raise
        self._limit_rows.add(name)


def _by_key(chosen: list[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for job_id, key in chosen:
        grouped.setdefault(key, []).append(job_id)
    return grouped


def _data(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
