"""The admin's schedule form: a schedule made by hand, checked by the core's own validation."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

from django import forms

from dbjobq import Schedule as CoreSchedule
from dbjobq.integration import scheduling

from . import conf
from .models import Schedule


class ScheduleForm(forms.ModelForm):  # type: ignore[type-arg]
    """A schedule made by hand, checked by the core's own validation before anything is written."""

    job_data = forms.JSONField(initial=dict, required=False, help_text="The job's data: a JSON object.")

    class Meta:
        model = Schedule
        fields = (
            "id", "job_type", "job_data", "schedule_type", "schedule_expression", "tz",
            "queue", "priority", "max_retries", "enabled",
        )
        help_texts = {
            "schedule_expression": "Cron: '0 3 * * *' (minute hour day month weekday). Interval: seconds, e.g. 3600.",
            "tz": "Cron only: the IANA time zone the expression is read in, e.g. Europe/Paris. Empty: UTC.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and isinstance(self.instance.job_data, str):
            with contextlib.suppress(ValueError):
                self.initial["job_data"] = json.loads(self.instance.job_data)
        for name, value in (("queue", "default"), ("priority", 0), ("max_retries", 0), ("enabled", True)):
            if name in self.fields:  # a view-only page has none
                self.fields[name].initial = value
        self.core_schedule: CoreSchedule | None = None

    def validate_unique(self) -> None:
        """The id is checked in :meth:`clean`, on DBJobQ's database (Django's check would use the default one)."""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        if not self.instance.pk and Schedule.objects.using(conf.get_settings().database).filter(id=data["id"]).exists():
            self.add_error("id", f"A schedule with id {data['id']!r} already exists: choose another id.")
            return data
        job_data = data.get("job_data")
        schedule = CoreSchedule(
            id=data.get("id") or self.instance.pk,
            job_type=data["job_type"],
            job_data={} if job_data in (None, "") else job_data,
            schedule_type=data["schedule_type"],
            schedule_expression=data["schedule_expression"].strip(),
            next_run=time.time(),
            enabled=bool(data.get("enabled")),
            priority=data["priority"],
            max_retries=data["max_retries"],
            queue=data["queue"],
            tz=data.get("tz") or None,
        )
        try:
            if not isinstance(schedule.job_data, dict):
                raise TypeError("Job data must be a JSON object, e.g. {\"kind\": \"daily\"}")
            scheduling.validate_schedule(schedule)
        except (ValueError, TypeError) as exc:
            message = str(exc)
            field = next((f for f, words in _ERROR_FIELDS if any(w in message for w in words)), None)
            self.add_error(field, message)
            return data
        self.core_schedule = schedule
        return data


#: Which form field a core validation message belongs to.
_ERROR_FIELDS = (
    ("tz", ("time zone", "tz ")),
    ("schedule_expression", ("cron expression", "interval")),
    ("schedule_type", ("schedule_type",)),
    ("job_data", ("Job data", "JSON")),
    ("max_retries", ("max_retries",)),
)
