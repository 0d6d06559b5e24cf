"""JobQueue's schedule management: reading, creating, changing and deleting schedules, and syncing
those declared in code. :class:`~dbjobq.JobQueue` is assembled from this part and its own module."""

from __future__ import annotations

from collections.abc import Sequence

from . import declarations as declarations_module
from . import scheduling
from .declarations import Declaration, SyncResult
from .errors import ScheduleNotFoundError
from .models import Schedule
from .storage.base import BaseStorage


class ScheduleManagement:
    """Part of :class:`~dbjobq.JobQueue`: the schedule operations (``run_schedule_now`` is JobQueue's own,
    as it enqueues)."""

    storage: BaseStorage

    async def create_schedule(self, schedule: Schedule) -> None:
        """Add a schedule; ``ScheduleExistsError`` or ``ValueError`` (bad expression), nothing written."""
        await self.storage.create_schedule(schedule)

    async def list_schedules(self, enabled_only: bool = False) -> list[Schedule]:
        """Every schedule (or only the enabled ones), by id."""
        return await self.storage.list_schedules(enabled_only=enabled_only)

    async def get_schedule(self, schedule_id: str) -> Schedule | None:
        """The schedule with that id, or ``None``."""
        return await self.storage.get_schedule(schedule_id)

    async def update_schedule(self, schedule: Schedule) -> None:
        """Replace a schedule's fields (validated first); ``ScheduleNotFoundError`` if it does not exist."""
        await self.storage.update_schedule(schedule)

    async def set_schedule_enabled(self, schedule_id: str, enabled: bool) -> Schedule:
        """Enable or disable a schedule and return it; unknown id: ScheduleNotFoundError.

        Occurrences missed while it was disabled are skipped, not caught up: it resumes at its next one.
        """
        schedule = await self._require_schedule(schedule_id)
        if schedule.enabled != enabled:
            now = await self.storage.now()
            if enabled and schedule.next_run <= now:
                schedule.next_run = scheduling.next_after(schedule, now)
            schedule.enabled = enabled
            await self.storage.update_schedule(schedule)
        return schedule

    async def delete_schedule(self, schedule_id: str) -> bool:
        """Delete a schedule; False if there was none."""
        return await self.storage.delete_schedule(schedule_id)

    async def sync_schedules(self, declarations: Sequence[Declaration] | None = None) -> SyncResult:
        """Make the stored schedules agree with those declared in code (default: this process's
        ``@job(cron=…)`` and settings declarations); workers do this when they start. See
        :func:`dbjobq.declarations.sync`."""
        return await declarations_module.sync(self.storage, declarations)

    async def _require_schedule(self, schedule_id: str) -> Schedule:
        schedule = await self.storage.get_schedule(schedule_id)
        if schedule is None:
            raise ScheduleNotFoundError(f"No schedule has id {schedule_id!r}")
        return schedule

