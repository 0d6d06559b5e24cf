"""Schema version 5: flow control, as the core adds it — the jobs' ``unique_key``, ``flow_key`` and
``depends_on`` columns, the unique keys' index (partial on PostgreSQL and SQLite, over a generated
column on MySQL/MariaDB) and the ``dbjobq_limits`` table.

A database the core upgraded first already has them: each is added only if missing, and the schema
version row moves to 5 either way.
"""

from typing import Any

from django.db import migrations, models

import dbjobq_django.fields
from dbjobq.integration import unique_key_sql

SCHEMA_VERSION = 5

UNIQUE_KEY = models.CharField(max_length=255, null=True, blank=True)
FLOW_KEY = models.CharField(max_length=255, null=True, blank=True, verbose_name="concurrency key")
DEPENDS_ON = dbjobq_django.fields.TextField(null=True, blank=True)
INDEX_NAME = "ux_dbjobq_jobs_unique_key"


def _describe(schema_editor: Any, table: str) -> tuple[set[str], set[str], set[str]]:
    """(columns of ``table``, its indexes and constraints, the database's tables)."""
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        columns = {column.name for column in connection.introspection.get_table_description(cursor, table)}
        indexes = set(connection.introspection.get_constraints(cursor, table))
        tables = set(connection.introspection.table_names(cursor))
    return columns, indexes, tables


def forwards(apps: Any, schema_editor: Any) -> None:
    job = apps.get_model("dbjobq", "Job")
    limit = apps.get_model("dbjobq", "Limit")
    table = job._meta.db_table
    columns, indexes, tables = _describe(schema_editor, table)
    for name in ("unique_key", "flow_key", "depends_on"):
        if name not in columns:
            schema_editor.add_field(job, job._meta.get_field(name))
    if limit._meta.db_table not in tables:
        schema_editor.create_model(limit)
    vendor = schema_editor.connection.vendor
    statements = unique_key_sql(vendor)
    if vendor == "mysql" and "unique_active" in columns:
        statements = statements[1:]
    if INDEX_NAME not in indexes:
        for statement in statements:
            schema_editor.execute(statement)
    metadata = apps.get_model("dbjobq", "Metadata")
    metadata.objects.using(schema_editor.connection.alias).update_or_create(
        key="schema_version", defaults={"value": str(SCHEMA_VERSION)}
    )


def backwards(apps: Any, schema_editor: Any) -> None:
    job = apps.get_model("dbjobq", "Job")
    limit = apps.get_model("dbjobq", "Limit")
    table = job._meta.db_table
    columns, indexes, tables = _describe(schema_editor, table)
    vendor = schema_editor.connection.vendor
    if INDEX_NAME in indexes:
        schema_editor.execute(f"DROP INDEX {INDEX_NAME}" + (f" ON {table}" if vendor == "mysql" else ""))
    if "unique_active" in columns:
        schema_editor.execute(f"ALTER TABLE {table} DROP COLUMN unique_active")
    for name in ("depends_on", "flow_key", "unique_key"):
        if name in columns:
            schema_editor.remove_field(job, job._meta.get_field(name))
    if limit._meta.db_table in tables:
        schema_editor.delete_model(limit)
    metadata = apps.get_model("dbjobq", "Metadata")
    metadata.objects.using(schema_editor.connection.alias).filter(key="schema_version").update(value="4")


class Migration(migrations.Migration):
    dependencies = [("dbjobq", "0006_job_meta_queues")]

    operations = [
        # The fields and the model enter the state first, so that the RunPython below finds them.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(model_name="job", name="unique_key", field=UNIQUE_KEY),
                migrations.AddField(model_name="job", name="flow_key", field=FLOW_KEY),
                migrations.AddField(model_name="job", name="depends_on", field=DEPENDS_ON),
                migrations.CreateModel(
                    name="Limit",
                    fields=[
                        ("name", dbjobq_django.fields.KeyField(max_length=255, primary_key=True, serialize=False)),
                        ("window_start", dbjobq_django.fields.DoubleField()),
                        ("window_count", models.IntegerField()),
                        ("updated_at", dbjobq_django.fields.DoubleField()),
                    ],
                    options={"verbose_name": "flow limit", "db_table": "dbjobq_limits"},
                ),
            ],
        ),
        # Not wrapped in a transaction of its own: MySQL cannot roll DDL back, and Django refuses DDL in one.
        migrations.RunPython(forwards, backwards, atomic=False),
    ]
