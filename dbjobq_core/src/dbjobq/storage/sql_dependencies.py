"""SQLAlchemyStorage's job dependencies: a job enqueued with ``depends_on`` waits (status ``waiting``)
until every job it depends on completed; a dependency that failed or was cancelled fails it.

The ids a job waits for are stored with it (``depends_on``, a JSON list). They are checked at enqueue,
in the enqueueing transaction (a dependency already finished counts at once, an unknown id is refused),
and again by :meth:`DependenciesSQL.resolve_waiting`, which workers run after recording outcomes and in
their maintenance loop: the job whose dependency finished while it was being enqueued is promoted by
the next pass, so no dependent waits for ever.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, select, update

from ..models import JobStatus, Resolved
from .database import Database
from .schema import WAITING_SQL, jobs

_WAITING = JobStatus.WAITING.value
#: Waiting jobs looked at per pass of :meth:`DependenciesSQL.resolve_waiting`.
_BATCH = 500
_BROKEN = {JobStatus.FAILED.value: "failed", JobStatus.CANCELLED.value: "was cancelled"}


class DependenciesSQL:
    """Part of :class:`~.sqlalchemy_storage.SQLAlchemyStorage`: waiting jobs and their dependencies."""

    _db: Database

    async def resolve_waiting(self) -> Resolved:
        """Promote waiting jobs whose dependencies all completed to pending (due now), and fail those with
        a dependency that failed, was cancelled or no longer exists; say how many, and how many still wait."""
        promoted = failed = 0
        for _ in range(20):  # a failure travels down a chain of waiting jobs one link per pass
            after, failed_before, waiting = "", failed, 0
            while True:
                done, moved, broke, kept, after = await self._resolve_page(after)
                promoted, failed, waiting = promoted + moved, failed + broke, waiting + kept
                if done:
                    break
            if failed == failed_before:
                break
        return Resolved(promoted, failed, waiting)

    async def _resolve_page(self, after: str) -> tuple[bool, int, int, int, str]:
        """One page of waiting jobs (ids after ``after``): (last page, promoted, failed, still waiting,
        last id)."""
        async with self._db.transaction() as conn:
            # WAITING_SQL, a literal: the waiting jobs' partial index can serve only that (see schema.py)
            page = select(jobs.c.id, jobs.c.depends_on).where(jobs.c.status == WAITING_SQL, jobs.c.id > after)
            rows = (await conn.execute(page.order_by(jobs.c.id).limit(_BATCH))).all()
            if not rows:
                return True, 0, 0, 0, after
            waiting = {job_id: _ids(text) for job_id, text in rows}
            wanted = {d for deps in waiting.values() for d in deps}
            statuses = await dependency_statuses(conn, wanted, ids_in=self._db.impl.ids_in)
            ready: list[str] = []
            broken: dict[str, str] = {}
            for job_id, deps in waiting.items():
                verdict = judge(deps, statuses)
                if verdict is True:
                    ready.append(job_id)
                elif isinstance(verdict, str):
                    broken[job_id] = verdict
            now = self._db.impl.now()  # the database's clock (DESIGN.md "One clock")
            promoted = failed = 0
            if ready:
                result = await conn.execute(
                    update(jobs)
                    .where(self._db.impl.ids_in(ready), jobs.c.status == _WAITING)
                    .values(status=JobStatus.PENDING.value, execute_at=now, updated_at=now)
                )
                promoted = result.rowcount
            for job_id, error in broken.items():
                result = await conn.execute(
                    update(jobs)
                    .where(jobs.c.id == job_id, jobs.c.status == _WAITING)
                    .values(status=JobStatus.FAILED.value, error=error, finished_at=now, updated_at=now)
                )
                failed += result.rowcount
        kept = len(rows) - len(ready) - len(broken)
        return len(rows) < _BATCH, promoted, failed, kept, rows[-1][0]


async def dependency_statuses(
    conn: Any, ids: Iterable[str], *, ids_in: Callable[[Sequence[str]], ColumnElement[bool]]
) -> dict[str, tuple[str, str]]:
    """(status, type) of each job of ``ids`` that exists (``ids_in``: the dialect's id list, see
    ``DefaultImpl.ids_in``)."""
    wanted = sorted(set(ids))
    found: dict[str, tuple[str, str]] = {}
    for start in range(0, len(wanted), 1000):
        stmt = select(jobs.c.id, jobs.c.status, jobs.c.type).where(ids_in(wanted[start : start + 1000]))
        for job_id, status, job_type in (await conn.execute(stmt)).all():
            found[job_id] = (status, job_type)
    return found


def judge(deps: Sequence[str], statuses: Mapping[str, tuple[str, str]]) -> bool | str | None:
    """True if every dependency completed; the error to fail with if one failed, was cancelled or is
    gone; ``None`` to keep waiting."""
    done = True
    for dep in deps:
        found = statuses.get(dep)
        if found is None:
            return f"DependencyFailed: job {dep}, which this job depends on, no longer exists"
        status, job_type = found
        if status in _BROKEN:
            return f"DependencyFailed: job {dep} ({job_type}), which this job depends on, {_BROKEN[status]}"
        if status != JobStatus.COMPLETED.value:
            done = False
    return True if done else None


def _ids(text: str | None) -> list[str]:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


async def settle_new(
    conn: Any, rows: Sequence[dict[str, Any]], *, ids_in: Callable[[Sequence[str]], ColumnElement[bool]]
) -> list[str]:
    """Give new rows with ``depends_on`` their first status from their dependencies' (read on ``conn``):
    pending if all completed, failed (with the error naming it) if one failed or was cancelled, else
    waiting. A dependency that does not exist is a ``ValueError``: ids must name stored jobs, so a job
    can only depend on older ones and no cycle can form. Returns the ids of the rows failed here."""
    wanted = {dep for row in rows for dep in _ids(row["depends_on"])}
    statuses = await dependency_statuses(conn, wanted, ids_in=ids_in)
    missing = sorted(wanted - set(statuses))
    if missing:
        raise ValueError(f"depends_on names jobs that do not exist: {', '.join(missing)}")
    failed: list[str] = []
    for row in rows:
        if not row["depends_on"]:
            continue
        verdict = judge(_ids(row["depends_on"]), statuses)
        if verdict is True:
            row["status"] = JobStatus.PENDING.value
        elif isinstance(verdict, str):
            row.update(status=JobStatus.FAILED.value, error=verdict)
            failed.append(row["id"])
    return failed
