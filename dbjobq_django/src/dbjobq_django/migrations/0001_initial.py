"""DBJobQ's tables, as ``dbjobq.storage.schema`` (schema version 1) defines them, on every database.

The claim and lease indexes differ per database (partial on PostgreSQL and SQLite, status-first on
MySQL/MariaDB), and PostgreSQL gets the trigger that NOTIFYs workers of new jobs; Django's model
state cannot express either, so they are vendor-specific SQL here. tests/django/test_schema.py
proves the result equals what ``SQLAlchemyStorage.initialize()`` creates.
"""

from django.db import migrations, models

import dbjobq_django.fields
from dbjobq.integration import NOTIFY_FUNCTION_SQL, NOTIFY_TRIGGER_SQL
from dbjobq_django.operations import VendorSQL

PARTIAL = ("postgresql", "sqlite")
MYSQL = ("mysql",)


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Job",
            fields=[
                ("id", dbjobq_django.fields.KeyField(max_length=36, primary_key=True, serialize=False)),
                ("type", models.CharField(max_length=255)),
                ("queue", models.CharField(max_length=64)),
                ("data", dbjobq_django.fields.TextField()),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Pending"),
                            ("running", "Running"),
                            ("completed", "Completed"),
                            ("failed", "Failed"),
                            ("cancelled", "Cancelled"),
                        ],
                        max_length=16,
                    ),
                ),
                ("priority", models.IntegerField()),
                ("attempts", models.IntegerField()),
                ("max_retries", models.IntegerField()),
                ("error", dbjobq_django.fields.TextField(null=True)),
                ("result", dbjobq_django.fields.TextField(null=True)),
                ("created_at", dbjobq_django.fields.DoubleField()),
                ("updated_at", dbjobq_django.fields.DoubleField()),
                ("execute_at", dbjobq_django.fields.DoubleField()),
                ("started_at", dbjobq_django.fields.DoubleField(null=True)),
                ("finished_at", dbjobq_django.fields.DoubleField(null=True)),
                ("worker_id", models.CharField(max_length=64, null=True)),
                ("lease_token", models.CharField(max_length=36, null=True)),
                ("lease_expires_at", dbjobq_django.fields.DoubleField(null=True)),
            ],
            options={
                "verbose_name": "job",
                "db_table": "dbjobq_jobs",
                "ordering": ["-id"],
                "indexes": [models.Index(fields=["status", "finished_at"], name="ix_dbjobq_jobs_status_finished")],
            },
        ),
        migrations.CreateModel(
            name="Schedule",
            fields=[
                ("id", dbjobq_django.fields.KeyField(max_length=255, primary_key=True, serialize=False)),
                ("job_type", models.CharField(max_length=255)),
                ("job_data", dbjobq_django.fields.TextField()),
                ("queue", models.CharField(max_length=64)),
                (
                    "schedule_type",
                    models.CharField(choices=[("cron", "Cron"), ("interval", "Interval")], max_length=16),
                ),
                ("schedule_expression", models.CharField(max_length=255)),
                ("next_run", dbjobq_django.fields.DoubleField()),
                ("last_run", dbjobq_django.fields.DoubleField(null=True)),
                ("enabled", dbjobq_django.fields.BooleanField()),
                ("priority", models.IntegerField()),
                ("max_retries", models.IntegerField()),
                ("created_at", dbjobq_django.fields.DoubleField()),
                ("updated_at", dbjobq_django.fields.DoubleField()),
            ],
            options={
                "verbose_name": "schedule",
                "db_table": "dbjobq_schedules",
                "ordering": ["id"],
                "indexes": [models.Index(fields=["enabled", "next_run"], name="ix_dbjobq_schedules_due")],
            },
        ),
        migrations.CreateModel(
            name="Worker",
            fields=[
                ("id", dbjobq_django.fields.KeyField(max_length=64, primary_key=True, serialize=False)),
                ("hostname", models.CharField(max_length=255)),
                ("pid", models.IntegerField()),
                ("queues", models.CharField(max_length=1024, null=True)),
                ("concurrency", models.IntegerField()),
                ("started_at", dbjobq_django.fields.DoubleField()),
                ("last_heartbeat", dbjobq_django.fields.DoubleField()),
            ],
            options={
                "verbose_name": "worker",
                "db_table": "dbjobq_workers",
                "ordering": ["started_at"],
            },
        ),
        migrations.CreateModel(
            name="Metadata",
            fields=[
                ("key", dbjobq_django.fields.KeyField(max_length=64, primary_key=True, serialize=False)),
                ("value", models.CharField(max_length=255)),
            ],
            options={
                "verbose_name": "metadata entry",
                "verbose_name_plural": "metadata",
                "db_table": "dbjobq_meta",
            },
        ),
        VendorSQL(
            PARTIAL,
            sql=[
                "CREATE INDEX ix_dbjobq_jobs_claim ON dbjobq_jobs (priority DESC, execute_at, id) "
                "WHERE status = 'pending'",
                "CREATE INDEX ix_dbjobq_jobs_lease ON dbjobq_jobs (lease_expires_at) WHERE status = 'running'",
            ],
            reverse_sql=["DROP INDEX ix_dbjobq_jobs_lease", "DROP INDEX ix_dbjobq_jobs_claim"],
        ),
        VendorSQL(
            MYSQL,
            sql=[
                "CREATE INDEX ix_dbjobq_jobs_claim_mysql ON dbjobq_jobs (status, priority DESC, execute_at, id)",
                "CREATE INDEX ix_dbjobq_jobs_lease_mysql ON dbjobq_jobs (status, lease_expires_at)",
            ],
            reverse_sql=[
                "DROP INDEX ix_dbjobq_jobs_lease_mysql ON dbjobq_jobs",
                "DROP INDEX ix_dbjobq_jobs_claim_mysql ON dbjobq_jobs",
            ],
        ),
        VendorSQL(
            ("postgresql",),
            sql=[NOTIFY_FUNCTION_SQL, NOTIFY_TRIGGER_SQL],
            reverse_sql=[
                "DROP TRIGGER IF EXISTS dbjobq_jobs_notify ON dbjobq_jobs",
                "DROP FUNCTION IF EXISTS dbjobq_notify_jobs()",
            ],
        ),
    ]
