"""The admin's "Task results": jobs that run Django tasks (``@task``), shown as Django reports them.

Status, arguments, return value, errors with their tracebacks and the worker, with the job admin's
actions: cancel (the task then reads FAILED, and ``task_finished`` is sent), retry and delete.
Registered by :mod:`dbjobq_django.admin`; it needs no Tasks framework to list the rows.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from . import admin as job_admin
from .models import TaskResultRecord

#: DBJobQ status -> the task result status Django reports (a cancelled task reads FAILED).
TASK_STATUS = {
    "pending": "READY",
    "running": "RUNNING",
    "completed": "SUCCESSFUL",
    "failed": "FAILED",
    "cancelled": "FAILED",
}


def _data(obj: TaskResultRecord) -> dict[str, Any]:
    try:
        data = json.loads(obj.data)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


@admin.register(TaskResultRecord)
class TaskResultAdmin(job_admin.JobAdmin):
    """Task results: the jobs of ``@task`` functions run by DBJobQ."""

    list_display = (
        "id",
        "task",
        "task_status",
        "queue",
        "priority",
        "attempts_display",
        "created",
        "finished",
        "error_summary",
    )
    list_filter = ("status", "queue", "type")
    fieldsets = (
        (None, {"fields": ("id", "task", "task_status", "backend", "queue", "priority", "attempts_display")}),
        ("Times", {"fields": ("created", "due", "started", "finished", "updated")}),
        ("Call", {"fields": ("args_display", "kwargs_display", "result_display")}),
        ("Errors", {"fields": ("error_display",)}),
        ("Claim", {"fields": ("worker_id", "lease_expires"), "classes": ("collapse",)}),
    )
    readonly_fields = (
        "attempts_display",
        "created",
        "due",
        "started",
        "finished",
        "updated",
        "result_display",
        "error_display",
        "lease_expires",
        "task",
        "task_status",
        "backend",
        "args_display",
        "kwargs_display",
    )

    @admin.display(description="task", ordering="type")
    def task(self, obj: TaskResultRecord) -> str:
        return obj.type

    @admin.display(description="status", ordering="status")
    def task_status(self, obj: TaskResultRecord) -> str:
        status = TASK_STATUS.get(obj.status, obj.status)
        return f"{status} (cancelled)" if obj.status == "cancelled" else status

    @admin.display(description="backend")
    def backend(self, obj: TaskResultRecord) -> str:
        return str(_data(obj).get("django_task", "-"))

    @admin.display(description="args")
    def args_display(self, obj: TaskResultRecord) -> SafeString | str:
        return format_html("<pre>{}</pre>", json.dumps(_data(obj).get("args", []), indent=2, ensure_ascii=False))

    @admin.display(description="kwargs")
    def kwargs_display(self, obj: TaskResultRecord) -> SafeString | str:
        return format_html("<pre>{}</pre>", json.dumps(_data(obj).get("kwargs", {}), indent=2, ensure_ascii=False))

    @admin.action(description="Cancel selected ready/running tasks", permissions=["manage"])
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        try:
            from .tasks.compat import TaskResultDoesNotExist
            from .tasks.operations import acancel_task
        except ImportError:  # no Tasks framework here: cancel the jobs without sending task_finished
            super().cancel_jobs(request, queryset)
            return

        async def cancel(job_id: str) -> bool:
            try:
                return await acancel_task(job_id)
            except TaskResultDoesNotExist:
                return False

        ids = list(queryset.values_list("id", flat=True))
        done, skipped = self._each(ids, cancel)
        self._report(request, f"{done} task(s) cancelled", skipped, "they had already finished")
