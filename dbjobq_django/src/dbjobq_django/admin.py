"""The admin: jobs (filter, search, detail, retry/cancel/delete) and schedules (add, edit, enable,
disable, run now).

Rows are read through the ORM; every change goes through the core queue (``get_queue()``, the
management API), so the admin keeps the queue's rules (a running job is cancelled with its claim
revoked, a retry resets the attempts, a schedule enabled again skips the runs it missed, a schedule
is validated as the core validates it, …). Jobs are never edited field by field: their detail pages
are read-only; so are schedules declared in code, which are changed in the code.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

from asgiref.sync import async_to_sync
from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from dbjobq import JobNotFoundError, ScheduleNotFoundError
from dbjobq.integration import progress_text, schedule_row, scheduling

from . import clock, conf
from .enqueueing import get_queue
from .forms import ScheduleForm
from .models import Job, Schedule, Worker, epoch_to_datetime

T = TypeVar("T")


def _run(make: Callable[[], Awaitable[T]]) -> T:
    """Run core (async) work from an admin view."""

    async def call() -> T:
        return await make()

    return async_to_sync(call)()


def _pretty_json(text: str | None) -> SafeString | str:
    if text is None:
        return "-"
    with contextlib.suppress(ValueError):  # not JSON after all: shown as stored
        text = json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False)
    return format_html("<pre>{}</pre>", text)


def _time(value: float | None) -> datetime | None:
    return epoch_to_datetime(value)


class DBJobQModelAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Reads DBJobQ's rows from ``DBJOBQ["DATABASE"]``; nothing is added or edited by hand."""

    list_per_page = 50

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset: QuerySet[Any] = super().get_queryset(request).using(conf.get_settings().database)
        return queryset

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # View-only detail pages: saving a form would write back every column and race the workers.
        return False

    def has_manage_permission(self, request: HttpRequest) -> bool:
        """Whether the user may use the queue actions (retry, cancel, enable, …): the model's change permission."""
        opts = self.model._meta
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")


@admin.register(Job)
class JobAdmin(DBJobQModelAdmin):
    """Jobs: status, type, queue, attempts, readable times and errors; retry, cancel, delete finished."""

    list_display = (
        "id",
        "type",
        "status",
        "queue",
        "priority",
        "attempts_display",
        "created",
        "finished",
        "error_summary",
    )
    list_filter = ("status", "queue", "type")
    search_fields = ("=id", "type")
    actions = ("retry_jobs", "cancel_jobs", "delete_finished_jobs")
    fieldsets = (
        (None, {"fields": ("id", "type", "status", "queue", "priority", "attempts_display", "progress_display")}),
        ("Times", {"fields": ("created", "due", "started", "finished", "updated")}),
        ("Payload", {"fields": ("data_display", "result_display")}),
        ("Error", {"fields": ("error_display",)}),
        ("Flow control", {"fields": ("unique_key", "flow_key", "depends_on")}),
        ("Claim", {"fields": ("worker_id", "lease_expires"), "classes": ("collapse",)}),
    )
    readonly_fields = (
        "unique_key",
        "flow_key",
        "depends_on",
        "attempts_display",
        "progress_display",
        "created",
        "due",
        "started",
        "finished",
        "updated",
        "data_display",
        "result_display",
        "error_display",
        "lease_expires",
    )

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        # A "Dashboard" button when the project includes dbjobq_django.dashboard.urls.
        try:
            url: str | None = reverse("dbjobq_dashboard:index")
        except NoReverseMatch:
            url = None
        return super().changelist_view(request, {**(extra_context or {}), "dbjobq_dashboard_url": url})

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # A pending or running job is cancelled, not deleted: its worker still holds it.
        if isinstance(obj, Job) and not obj.is_finished:
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest, action_location: Any = None) -> dict[str, Any]:
        # Django 6.1 passes action_location (and warns about overrides without it); older Django does not.
        if action_location is None:
            actions = super().get_actions(request)
        else:
            actions = super().get_actions(request, action_location=action_location)  # type: ignore[call-arg]
        actions.pop("delete_selected", None)  # it would delete running jobs too
        return actions

    # -- columns ------------------------------------------------------------------------------
    @admin.display(description="attempts")
    def attempts_display(self, obj: Job) -> str:
        return f"{obj.attempts} / {obj.max_retries + 1}"

    @admin.display(description="progress")
    def progress_display(self, obj: Job) -> str:
        progress = obj.progress
        return progress_text(progress) if progress else "-"

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: Job) -> datetime | None:
        return _time(obj.created_at)

    @admin.display(description="due", ordering="execute_at")
    def due(self, obj: Job) -> datetime | None:
        return _time(obj.execute_at)

    @admin.display(description="started", ordering="started_at")
    def started(self, obj: Job) -> datetime | None:
        return _time(obj.started_at)

    @admin.display(description="finished", ordering="finished_at")
    def finished(self, obj: Job) -> datetime | None:
        return _time(obj.finished_at)

    @admin.display(description="updated", ordering="updated_at")
    def updated(self, obj: Job) -> datetime | None:
        return _time(obj.updated_at)

    @admin.display(description="lease expires")
    def lease_expires(self, obj: Job) -> datetime | None:
        return _time(obj.lease_expires_at)

    @admin.display(description="error")
    def error_summary(self, obj: Job) -> str:
        return (obj.error or "").split("\n", 1)[0][:120]

    @admin.display(description="data")
    def data_display(self, obj: Job) -> SafeString | str:
        return _pretty_json(obj.data)

    @admin.display(description="result")
    def result_display(self, obj: Job) -> SafeString | str:
        return _pretty_json(obj.result)

    @admin.display(description="error and traceback")
    def error_display(self, obj: Job) -> SafeString | str:
        return format_html("<pre>{}</pre>", obj.error) if obj.error else "-"

    # -- actions (through the core queue) -----------------------------------------------------
    def _each(self, ids: Iterable[str], operation: Callable[[str], Awaitable[bool]]) -> tuple[int, int]:
        async def run_all() -> tuple[int, int]:
            done = skipped = 0
            for job_id in ids:
                try:
                    ok = await operation(job_id)
                except JobNotFoundError:
                    ok = False
                done, skipped = (done + 1, skipped) if ok else (done, skipped + 1)
            return done, skipped

        return _run(run_all)

    @admin.action(description="Retry selected failed/cancelled jobs", permissions=["manage"])
    def retry_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        ids = list(queryset.values_list("id", flat=True))
        done, skipped = self._each(ids, get_queue().retry_job)
        self._report(
            request, f"{done} job(s) sent back to pending", skipped, "only failed or cancelled jobs can be retried"
        )

    @admin.action(description="Cancel selected pending/running jobs", permissions=["manage"])
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        ids = list(queryset.values_list("id", flat=True))
        done, skipped = self._each(ids, get_queue().cancel_job)
        self._report(request, f"{done} job(s) cancelled", skipped, "they had already finished")

    @admin.action(description="Delete selected finished jobs", permissions=["delete"])
    def delete_finished_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        ids = list(queryset.values_list("id", flat=True))
        done, skipped = self._each(ids, get_queue().delete_job)
        self._report(
            request, f"{done} finished job(s) deleted", skipped, "pending and running jobs are cancelled, not deleted"
        )

    def _report(self, request: HttpRequest, done: str, skipped: int, why: str) -> None:
        self.message_user(request, done + ".", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"{skipped} skipped: {why}.", messages.WARNING)


@admin.register(Schedule)
class ScheduleAdmin(DBJobQModelAdmin):
    """Schedules: list and detail; add and edit those made by hand (those from code are read-only,
    changed in the code); enable, disable and run now."""

    form = ScheduleForm
    list_display = (
        "id", "job_type", "schedule_type", "schedule_expression", "tz", "enabled", "origin", "queue", "next", "last",
    )
    list_filter = ("enabled", "origin", "schedule_type", "queue")
    search_fields = ("=id", "job_type")
    actions = ("enable_schedules", "disable_schedules", "run_now")
    readonly_fields = ("origin", "next", "last", "data_display")
    fields = (
        "id",
        "job_type",
        "data_display",
        "queue",
        "priority",
        "max_retries",
        "schedule_type",
        "schedule_expression",
        "tz",
        "enabled",
        "origin",
        "next",
        "last",
    )

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return admin.ModelAdmin.has_add_permission(self, request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # Schedules from code are read-only here: a worker's next start would undo an edit.
        if isinstance(obj, Schedule) and obj.from_code:
            return False
        return admin.ModelAdmin.has_change_permission(self, request, obj)

    def get_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        if obj is None or self.has_change_permission(request, obj):
            editable = [name for name in ScheduleForm.Meta.fields if obj is None or name != "id"]
            return ([] if obj is None else ["id"]) + editable + ([] if obj is None else ["origin", "next", "last"])
        return self.fields

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        if obj is not None and self.has_change_permission(request, obj):
            return ("id", "origin", "next", "last")
        return self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Schedule, form: ScheduleForm, change: bool) -> None:
        """Write the row the core builds (validated by it), through the ORM: in the admin's transaction,
        with its log entry, as ``enqueue()`` writes jobs."""
        schedule = form.core_schedule
        assert schedule is not None  # a valid form built it
        database = conf.get_settings().database
        now = clock.read_db_now(database)  # the clock schedules are fired by
        current = Schedule.objects.using(database).filter(pk=schedule.id).first() if change else None
        if current is not None and (current.schedule_type, current.schedule_expression, current.tz) == (
            schedule.schedule_type, schedule.schedule_expression, schedule.tz
        ):
            schedule.next_run = current.next_run  # same timetable: same next run
        else:  # a new timetable starts at its next occurrence
            schedule.next_run = scheduling.next_after(schedule, now)
        if current is None:
            Schedule(created_at=now, **schedule_row(schedule, now)).save(using=database, force_insert=True)
        else:
            schedule.last_run = current.last_run
            Schedule.objects.using(database).filter(pk=schedule.id).update(**schedule_row(schedule, now))

    @admin.display(description="next run", ordering="next_run")
    def next(self, obj: Schedule) -> datetime | None:
        return _time(obj.next_run)

    @admin.display(description="last run", ordering="last_run")
    def last(self, obj: Schedule) -> datetime | None:
        return _time(obj.last_run)

    @admin.display(description="job data")
    def data_display(self, obj: Schedule) -> SafeString | str:
        return _pretty_json(obj.job_data)

    def _set_enabled(self, request: HttpRequest, queryset: QuerySet[Schedule], enabled: bool) -> None:
        ids = list(queryset.filter(enabled=not enabled).values_list("id", flat=True))
        queue = get_queue()

        async def update() -> int:
            changed = 0
            for schedule_id in ids:
                with contextlib.suppress(ScheduleNotFoundError):  # deleted meanwhile
                    await queue.set_schedule_enabled(schedule_id, enabled)
                    changed += 1
            return changed

        changed = _run(update)
        self.message_user(request, f"{changed} schedule(s) {'enabled' if enabled else 'disabled'}.", messages.SUCCESS)

    @admin.action(description="Enable selected schedules", permissions=["manage"])
    def enable_schedules(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable selected schedules", permissions=["manage"])
    def disable_schedules(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        self._set_enabled(request, queryset, False)

    @admin.action(description="Run selected schedules now (one extra job each)", permissions=["manage"])
    def run_now(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        ids = list(queryset.values_list("id", flat=True))
        queue = get_queue()

        async def fire() -> list[str]:
            jobs = []
            for schedule_id in ids:
                with contextlib.suppress(ScheduleNotFoundError):  # deleted meanwhile
                    jobs.append(await queue.run_schedule_now(schedule_id))
            return jobs

        jobs = _run(fire)
        self.message_user(request, f"{len(jobs)} job(s) enqueued: {', '.join(jobs)}.", messages.SUCCESS)


@admin.register(Worker)
class WorkerAdmin(DBJobQModelAdmin):
    """Live workers and their heartbeats (read-only)."""

    list_display = ("id", "hostname", "pid", "queues", "concurrency", "started", "heartbeat")

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    @admin.display(description="started", ordering="started_at")
    def started(self, obj: Worker) -> datetime | None:
        return _time(obj.started_at)

    @admin.display(description="last heartbeat", ordering="last_heartbeat")
    def heartbeat(self, obj: Worker) -> datetime | None:
        return _time(obj.last_heartbeat)


# The "Task results" page (Django Tasks run by DBJobQ) builds on JobAdmin above; "Queues" on the base.
from . import queues_admin, tasks_admin  # noqa: E402, F401
