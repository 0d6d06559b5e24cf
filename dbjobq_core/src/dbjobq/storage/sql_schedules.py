"""SQLAlchemyStorage's schedules: recurring jobs, and firing each due occurrence exactly once."""

from __future__ import annotations

import logging

from sqlalchemy import Double, delete, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from .. import errors, scheduling
from ..models import NewJob, Schedule
from ..serialization import dumps_payload
from . import records
from .database import Database
from .schema import jobs, schedules

logger = logging.getLogger(__name__)


class SchedulesSQL:
    """Part of :class:`~.sqlalchemy_storage.SQLAlchemyStorage`: the schedule statements."""

    _db: Database

    async def create_schedule(self, schedule: Schedule) -> None:
        """Insert a schedule after validating it; nothing is written if it is invalid or taken."""
        row = records.schedule_row(schedule, self._db.impl.now())
        async with self._db.transaction() as conn:
            try:
                await conn.execute(insert(schedules).values(created_at=row["updated_at"], **row))
            except IntegrityError:  # raised inside the transaction, so it rolls back
                raise errors.ScheduleExistsError(
                    f"A schedule with id {schedule.id!r} already exists: choose another id, or change it "
                    "with update_schedule()"
                ) from None

    async def get_schedule(self, schedule_id: str) -> Schedule | None:
        """The schedule with that id, or ``None``."""
        async with self._db.transaction() as conn:
            row = (await conn.execute(select(schedules).where(schedules.c.id == schedule_id))).mappings().first()
        return None if row is None else records.schedule_from_row(row)

    async def list_schedules(self, enabled_only: bool = False) -> list[Schedule]:
        """Every schedule (or only the enabled ones), by id."""
        stmt = select(schedules).order_by(schedules.c.id)
        if enabled_only:
            stmt = stmt.where(schedules.c.enabled.is_(True))
        async with self._db.transaction() as conn:
            return [records.schedule_from_row(r) for r in (await conn.execute(stmt)).mappings().all()]

    async def update_schedule(self, schedule: Schedule, *, if_updated_at: float | None = None) -> bool:
        """Replace a schedule's fields (validated first); raises ``ScheduleNotFoundError``. With
        ``if_updated_at``, only if the row is unchanged since it was read: False otherwise (compare-and-set)."""
        row = records.schedule_row(schedule, self._db.impl.now())
        stmt = update(schedules).where(schedules.c.id == schedule.id).values(**row)
        if if_updated_at is not None:
            stmt = stmt.where(schedules.c.updated_at == if_updated_at)
        async with self._db.transaction() as conn:
            result = await conn.execute(stmt)
        if not result.rowcount and if_updated_at is None:
            raise errors.ScheduleNotFoundError(f"No schedule has id {schedule.id!r}")
        return bool(result.rowcount)

    async def update_schedule_next_run(self, schedule_id: str, next_run: float, last_run: float | None) -> None:
        """Set when a schedule fires next and when it last fired."""
        stmt = (
            update(schedules)
            .where(schedules.c.id == schedule_id)
            .values(next_run=next_run, last_run=last_run, updated_at=self._db.impl.now())
        )
        async with self._db.transaction() as conn:
            result = await conn.execute(stmt)
        if not result.rowcount:
            raise errors.ScheduleNotFoundError(f"No schedule has id {schedule_id!r}")

    async def delete_schedule(self, schedule_id: str, *, if_updated_at: float | None = None) -> bool:
        """Delete a schedule; False if there was none (or, with ``if_updated_at``, if it changed since)."""
        stmt = delete(schedules).where(schedules.c.id == schedule_id)
        if if_updated_at is not None:
            stmt = stmt.where(schedules.c.updated_at == if_updated_at)
        async with self._db.transaction() as conn:
            return bool((await conn.execute(stmt)).rowcount)

    async def fire_due_schedules(self, now: float | None = None) -> list[str]:
        """Enqueue each due occurrence exactly once, however many workers run this at the same time.

        The schedule's move to its next fire time is a compare-and-set (``next_run`` still due and
        still before the new value) in the same transaction as the job's insert: of several workers
        that read the same due schedule, exactly one sees its UPDATE match and inserts the job. A
        schedule whose row cannot be decoded is disabled (logged) and the others fire.

        "Due" is judged by the database's clock (``now`` overrides it, for tests): the due rows are read
        with the database's now, and that value (not this process's clock) is the fire time, the next
        run's starting point and the job's stamps, so no worker fires early whatever its own clock says.
        """
        clock = self._db.impl.now() if now is None else literal(now, Double)
        due = select(schedules, clock.label("db_now")).where(
            schedules.c.enabled.is_(True), schedules.c.next_run <= clock
        )
        async with self._db.transaction() as conn:
            rows = (await conn.execute(due)).mappings().all()
        fired: list[str] = []
        for row in rows:
            now = float(row["db_now"])
            schedule, problem = records.decode_schedule(row)
            if problem is not None:
                await self._disable_undecodable(schedule.id, problem)
                continue
            try:
                following = scheduling.next_after(schedule, now)
            except ValueError:
                logger.exception("Schedule %s has an invalid expression; skipped", schedule.id)
                continue
            async with self._db.transaction() as conn:
                moved = await conn.execute(
                    update(schedules)
                    .where(
                        schedules.c.id == schedule.id,
                        schedules.c.enabled.is_(True),
                        schedules.c.next_run <= now,
                        schedules.c.next_run < following,
                    )
                    .values(next_run=following, last_run=now, updated_at=now)
                )
                if moved.rowcount != 1:
                    continue  # another worker fired this occurrence
                new = NewJob(
                    schedule.job_type,
                    dumps_payload(schedule.job_data),
                    schedule.queue,
                    schedule.priority,
                    schedule.max_retries,
                    now,
                )
                job_row = records.new_job_row(new, now)
                await conn.execute(insert(jobs).values(**job_row))
            fired.append(job_row["id"])
            logger.info(
                "Schedule %s fired job %s",
                schedule.id,
                job_row["id"],
                extra={"action": "schedule_fired", "schedule_id": schedule.id, "job_id": job_row["id"]},
            )
        return fired

    async def _disable_undecodable(self, schedule_id: str, problem: str) -> None:
        """Disable a schedule whose row cannot be decoded: firing it again every poll would change nothing."""
        logger.error(
            "Schedule %s cannot be decoded (%s): disabled; fix its job data and enable it again",
            schedule_id,
            problem,
            extra={"action": "schedule_undecodable", "schedule_id": schedule_id},
        )
        async with self._db.transaction() as conn:
            await conn.execute(
                update(schedules)
                .where(schedules.c.id == schedule_id)
                .values(enabled=False, updated_at=self._db.impl.now())
            )
