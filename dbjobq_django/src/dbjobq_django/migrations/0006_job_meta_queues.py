"""Schema version 4: the jobs' ``meta`` column (trace context, progress) and the ``dbjobq_queues`` table
(queue controls), as the core adds them.

A database the core upgraded first (a worker's ``initialize()`` on an existing database) already has
them: each is added only if missing, and the schema version row moves to 4 either way.
"""

from typing import Any

from django.db import migrations

from dbjobq_django import fields

SCHEMA_VERSION = 4

META = fields.TextField(null=True)


def _tables(schema_editor: Any) -> set[str]:
    with schema_editor.connection.cursor() as cursor:
        return set(schema_editor.connection.introspection.table_names(cursor))


def _columns(schema_editor: Any, table: str) -> set[str]:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        return {column.name for column in connection.introspection.get_table_description(cursor, table)}


def forwards(apps: Any, schema_editor: Any) -> None:
    job = apps.get_model("dbjobq", "Job")
    if "meta" not in _columns(schema_editor, job._meta.db_table):
        schema_editor.add_field(job, job._meta.get_field("meta"))
    queue = apps.get_model("dbjobq", "Queue")
    if queue._meta.db_table not in _tables(schema_editor):
        schema_editor.create_model(queue)
    metadata = apps.get_model("dbjobq", "Metadata")
    metadata.objects.using(schema_editor.connection.alias).update_or_create(
        key="schema_version", defaults={"value": str(SCHEMA_VERSION)}
    )


def backwards(apps: Any, schema_editor: Any) -> None:
    queue = apps.get_model("dbjobq", "Queue")
    if queue._meta.db_table in _tables(schema_editor):
        schema_editor.delete_model(queue)
    job = apps.get_model("dbjobq", "Job")
    if "meta" in _columns(schema_editor, job._meta.db_table):
        schema_editor.remove_field(job, job._meta.get_field("meta"))
    metadata = apps.get_model("dbjobq", "Metadata")
    metadata.objects.using(schema_editor.connection.alias).filter(key="schema_version").update(value="3")


class Migration(migrations.Migration):
    dependencies = [("dbjobq", "0005_schedule_tz_origin")]

    operations = [
        # The model state first, so that the RunPython below finds the field and the model.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(model_name="job", name="meta", field=META),
                migrations.CreateModel(
                    name="Queue",
                    fields=[
                        ("name", fields.KeyField(max_length=64, primary_key=True, serialize=False)),
                        ("paused", fields.BooleanField()),
                        ("paused_until", fields.DoubleField(null=True)),
                        ("updated_at", fields.DoubleField()),
                    ],
                    options={"verbose_name": "queue", "db_table": "dbjobq_queues", "ordering": ["name"]},
                ),
            ],
        ),
        # Not wrapped in a transaction of its own: MySQL cannot roll DDL back, and Django refuses DDL in one.
        migrations.RunPython(forwards, backwards, atomic=False),
    ]
