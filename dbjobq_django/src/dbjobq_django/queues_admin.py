"""The admin's "Queues": pause a queue on every worker (its jobs stay pending, running ones finish),
resume it, and see which queues are paused and until when.

Every change goes through the core (``get_queue().pause_queue()`` / ``resume_queue()``), so workers on
PostgreSQL hear it at once. Registered by :mod:`dbjobq_django.admin`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from . import admin as job_admin
from .enqueueing import get_queue
from .models import Queue


class PauseQueueForm(forms.ModelForm):  # type: ignore[type-arg]
    """Pause a queue by name, until resumed or until a time."""

    until = forms.DateTimeField(required=False, help_text="Resume by itself at this time. Empty: until resumed.")

    class Meta:
        model = Queue
        fields = ("name",)
        help_texts = {"name": "The queue to pause, e.g. default or mail."}


@admin.register(Queue)
class QueueAdmin(job_admin.DBJobQModelAdmin):
    """Queues paused or resumed by operators; "Add queue" pauses one, actions pause and resume."""

    list_display = ("name", "state", "until", "updated")
    actions = ("pause_queues", "resume_queues")
    form = PauseQueueForm

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.has_manage_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: Any = None
    ) -> Any:
        # Outside the admin's usual transaction: the core writes the pause on its own connection, and
        # on SQLite an open Django transaction would hold the lock that write needs.
        return self._changeform_view(request, object_id, form_url, extra_context)  # type: ignore[attr-defined]

    def save_model(self, request: HttpRequest, obj: Queue, form: Any, change: bool) -> None:
        until: datetime | None = form.cleaned_data.get("until")
        queue = get_queue()
        job_admin._run(lambda: queue.pause_queue(obj.name, until=until))
        self.message_user(request, f"Queue {obj.name} paused on every worker.", messages.SUCCESS)

    @admin.display(description="state", ordering="paused")
    def state(self, obj: Queue) -> str:
        expired = obj.paused_until is not None and obj.paused_until <= datetime.now().timestamp()
        return "paused" if obj.paused and not expired else "running"

    @admin.display(description="paused until", ordering="paused_until")
    def until(self, obj: Queue) -> datetime | None:
        return job_admin._time(obj.paused_until)

    @admin.display(description="changed", ordering="updated_at")
    def updated(self, obj: Queue) -> datetime | None:
        return job_admin._time(obj.updated_at)

    def _set(self, request: HttpRequest, queryset: QuerySet[Queue], paused: bool) -> None:
        names = list(queryset.values_list("name", flat=True))
        queue = get_queue()

        async def change() -> None:
            for name in names:
                await (queue.pause_queue(name) if paused else queue.resume_queue(name))

        job_admin._run(change)
        verb = "paused" if paused else "resumed"
        self.message_user(request, f"{len(names)} queue(s) {verb}: {', '.join(names)}.", messages.SUCCESS)

    @admin.action(description="Pause selected queues (until resumed)", permissions=["manage"])
    def pause_queues(self, request: HttpRequest, queryset: QuerySet[Queue]) -> None:
        self._set(request, queryset, True)

    @admin.action(description="Resume selected queues", permissions=["manage"])
    def resume_queues(self, request: HttpRequest, queryset: QuerySet[Queue]) -> None:
        self._set(request, queryset, False)
