"""Django models mirroring the core's tables column for column (``dbjobq.storage.schema``).

The core owns these tables: workers and ``dbjobq_django.get_queue()`` write them through
SQLAlchemy, so the models are for reading (the admin, your own queries) and for Django's
migrations. Write jobs with ``dbjobq_django.enqueue()``, never by saving a model: the queue's
invariants (statuses, leases, attempts) are kept by the core.

The two indexes the claim query and lease recovery use are partial on PostgreSQL and SQLite and
full (status first) on MySQL/MariaDB; they are created per database by the migrations, exactly as
``schema.py`` defines them, and are not listed here because Django cannot express that difference.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from django.db import models

from dbjobq import JobStatus, ScheduleType
from dbjobq.integration import decode_meta

from . import fields

STATUS_CHOICES = [(status.value, status.value.capitalize()) for status in JobStatus]
SCHEDULE_TYPE_CHOICES = [(kind.value, kind.value.capitalize()) for kind in ScheduleType]
ORIGIN_CHOICES = [("operator", "Operator"), ("code", "Code")]


def epoch_to_datetime(value: float | None) -> datetime | None:
    """Epoch seconds (as stored) as an aware UTC datetime, ``None`` kept."""
    return None if value is None else datetime.fromtimestamp(value, tz=timezone.utc)


class Job(models.Model):
    """A row of ``dbjobq_jobs``. Times are epoch seconds (floats); see the ``*_dt`` properties."""

    id = fields.KeyField(primary_key=True, max_length=36)
    type = models.CharField(max_length=255)
    queue = models.CharField(max_length=64)
    data = fields.PayloadField()
    status = models.CharField(max_length=16, choices=STATUS_CHOICES)
    priority = models.IntegerField()
    attempts = models.IntegerField()
    max_retries = models.IntegerField()
    error = fields.PayloadField(null=True)
    result = fields.PayloadField(null=True)
    created_at = fields.DoubleField()
    updated_at = fields.DoubleField()
    execute_at = fields.DoubleField()
    started_at = fields.DoubleField(null=True)
    finished_at = fields.DoubleField(null=True)
    worker_id = models.CharField(max_length=64, null=True)
    lease_token = models.CharField(max_length=36, null=True)
    lease_expires_at = fields.DoubleField(null=True)
    meta = fields.TextField(null=True)  # JSON: the trace context and the progress (see Job.meta in the core)
    # Schema version 5: flow control (docs/flow-control.md). The unique keys' index is partial on
    # PostgreSQL and SQLite and over a generated column on MySQL/MariaDB: built by the migration.
    unique_key = models.CharField(max_length=255, null=True, blank=True)
    flow_key = models.CharField(max_length=255, null=True, blank=True, verbose_name="concurrency key")
    depends_on = fields.TextField(null=True, blank=True)

    class Meta:
        db_table = "dbjobq_jobs"
        verbose_name = "job"
        ordering = ["-id"]  # ids are time-ordered (UUIDv7): newest first, by the primary key
        indexes = [
            models.Index(fields=["status", "finished_at"], name="ix_dbjobq_jobs_status_finished"),
            models.Index(fields=["queue", "status", "execute_at"], name="ix_dbjobq_jobs_queue_status"),
        ]

    def __str__(self) -> str:
        return f"{self.type} [{self.status}] {self.id}"

    @property
    def is_finished(self) -> bool:
        """True once the job is completed, failed or cancelled."""
        return self.status in {JobStatus.COMPLETED.value, JobStatus.FAILED.value, JobStatus.CANCELLED.value}

    @property
    def progress(self) -> dict[str, Any] | None:
        """The progress the job last reported (``fraction``, ``message``, ``at``), or ``None``."""
        return decode_meta(self.meta).get("progress") or None


#: The first key of a Django task's job data (``{"django_task": <backend alias>, "args": …}``).
TASK_MARKER = "django_task"


class TaskResultManager(models.Manager["TaskResultRecord"]):
    """Only the jobs of Django tasks: their data starts with the task marker (the core writes compact
    JSON in key order), so no column is needed to tell them apart."""

    def get_queryset(self) -> models.QuerySet[TaskResultRecord]:
        queryset: models.QuerySet[TaskResultRecord] = super().get_queryset().filter(
            data__startswith='{"' + TASK_MARKER + '":'
        )
        return queryset


class TaskResultRecord(Job):
    """A job that runs a Django task (``@task`` on ``dbjobq_django.tasks.DBJobQBackend``): the admin's
    "task results". Read them in code with ``get_result()``."""

    objects = TaskResultManager()  # type: ignore[misc]

    class Meta:
        proxy = True
        verbose_name = "task result"
        ordering = ["-id"]


class Schedule(models.Model):
    """A row of ``dbjobq_schedules``: a recurring job."""

    id = fields.KeyField(primary_key=True, max_length=255)
    job_type = models.CharField(max_length=255)
    job_data = fields.TextField()
    queue = models.CharField(max_length=64)
    schedule_type = models.CharField(max_length=16, choices=SCHEDULE_TYPE_CHOICES)
    schedule_expression = models.CharField(max_length=255)
    next_run = fields.DoubleField()
    last_run = fields.DoubleField(null=True)
    enabled = fields.BooleanField()
    priority = models.IntegerField()
    max_retries = models.IntegerField()
    created_at = fields.DoubleField()
    updated_at = fields.DoubleField()
    tz = models.CharField(max_length=64, null=True, blank=True, verbose_name="time zone")
    origin = models.CharField(max_length=16, null=True, choices=ORIGIN_CHOICES)

    class Meta:
        db_table = "dbjobq_schedules"
        verbose_name = "schedule"
        ordering = ["id"]
        indexes = [models.Index(fields=["enabled", "next_run"], name="ix_dbjobq_schedules_due")]

    def __str__(self) -> str:
        return self.id

    @property
    def from_code(self) -> bool:
        """True for a schedule declared in code (``@job(cron=…)``, settings): workers keep it in step."""
        return self.origin == "code"


class Worker(models.Model):
    """A row of ``dbjobq_workers``: a live worker and its last heartbeat."""

    id = fields.KeyField(primary_key=True, max_length=64)
    hostname = models.CharField(max_length=255)
    pid = models.IntegerField()
    queues = models.CharField(max_length=1024, null=True)
    concurrency = models.IntegerField()
    started_at = fields.DoubleField()
    last_heartbeat = fields.DoubleField()
    job_types = fields.PayloadField(null=True)

    class Meta:
        db_table = "dbjobq_workers"
        verbose_name = "worker"
        ordering = ["started_at"]

    def __str__(self) -> str:
        return self.id


class Queue(models.Model):
    """A row of ``dbjobq_queues``: a queue an operator paused (``paused_until``: epoch seconds, or NULL for
    until resumed). Pause and resume through the admin's actions or ``get_queue().pause_queue()``."""

    name = fields.KeyField(primary_key=True, max_length=64)
    paused = fields.BooleanField()
    paused_until = fields.DoubleField(null=True)
    updated_at = fields.DoubleField()

    class Meta:
        db_table = "dbjobq_queues"
        verbose_name = "queue"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Limit(models.Model):
    """A row of ``dbjobq_limits``: a flow-controlled job type's lock row and its rate-limit window."""

    name = fields.KeyField(primary_key=True, max_length=255)
    window_start = fields.DoubleField()
    window_count = models.IntegerField()
    updated_at = fields.DoubleField()

    class Meta:
        db_table = "dbjobq_limits"
        verbose_name = "flow limit"

    def __str__(self) -> str:
        return self.name


class Metadata(models.Model):
    """A row of ``dbjobq_meta`` (e.g. ``schema_version``)."""

    key = fields.KeyField(primary_key=True, max_length=64)
    value = models.CharField(max_length=255)

    class Meta:
        db_table = "dbjobq_meta"
        verbose_name = "metadata entry"
        verbose_name_plural = "metadata"

    def __str__(self) -> str:
        return f"{self.key}={self.value}"
