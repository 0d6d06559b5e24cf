"""Schema version 6: job data, results and errors of any size, and the job types each worker registered.

On MySQL/MariaDB the jobs' ``data``, ``error`` and ``result`` columns become ``LONGTEXT`` (elsewhere
``TEXT`` already holds 1 GB: nothing changes); ``dbjobq_workers`` gains ``job_types``. A database the
core upgraded first (a worker's ``initialize()``, or ``dbjobq migrate``) already has both: each change
is made only if missing, and the schema version row moves to 6 either way.
"""

from typing import Any

from django.db import migrations

from dbjobq_django import fields

SCHEMA_VERSION = 6
PAYLOAD_COLUMNS = ("data", "error", "result")


def _columns(schema_editor: Any, table: str) -> dict[str, str]:
    """Column name -> its type as the database reports it (lower case)."""
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "mysql":
            cursor.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = DATABASE() AND table_name = %s",
                [table],
            )
            return {str(name): str(kind).lower() for name, kind in cursor.fetchall()}
        return {column.name: "" for column in connection.introspection.get_table_description(cursor, table)}


def _payload_sql(job: Any, kind: str) -> str:
    changes = ", ".join(
        f"MODIFY {name} {kind} {'NULL' if job._meta.get_field(name).null else 'NOT NULL'}" for name in PAYLOAD_COLUMNS
    )
    return f"ALTER TABLE {job._meta.db_table} {changes}"


def forwards(apps: Any, schema_editor: Any) -> None:
    job = apps.get_model("dbjobq", "Job")
    if schema_editor.connection.vendor == "mysql":
        found = _columns(schema_editor, job._meta.db_table)
        if any(found.get(name) != "longtext" for name in PAYLOAD_COLUMNS):
            schema_editor.execute(_payload_sql(job, "LONGTEXT"))
    worker = apps.get_model("dbjobq", "Worker")
    if "job_types" not in _columns(schema_editor, worker._meta.db_table):
        schema_editor.add_field(worker, worker._meta.get_field("job_types"))
    metadata = apps.get_model("dbjobq", "Metadata")
    metadata.objects.using(schema_editor.connection.alias).update_or_create(
        key="schema_version", defaults={"value": str(SCHEMA_VERSION)}
    )


def backwards(apps: Any, schema_editor: Any) -> None:
    worker = apps.get_model("dbjobq", "Worker")
    if "job_types" in _columns(schema_editor, worker._meta.db_table):
        schema_editor.remove_field(worker, worker._meta.get_field("job_types"))
    if schema_editor.connection.vendor == "mysql":
        schema_editor.execute(_payload_sql(apps.get_model("dbjobq", "Job"), "TEXT"))
    metadata = apps.get_model("dbjobq", "Metadata")
    metadata.objects.using(schema_editor.connection.alias).filter(key="schema_version").update(value="5")


class Migration(migrations.Migration):
    dependencies = [("dbjobq", "0007_flow_control")]

    operations = [
        # The state changes first, so that the RunPython below finds the new field on the model; the
        # database changes are made there, each only if missing.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(model_name="job", name="data", field=fields.PayloadField()),
                migrations.AlterField(model_name="job", name="error", field=fields.PayloadField(null=True)),
                migrations.AlterField(model_name="job", name="result", field=fields.PayloadField(null=True)),
                migrations.AddField(model_name="worker", name="job_types", field=fields.PayloadField(null=True)),
            ],
        ),
        # Not wrapped in a transaction of its own: MySQL cannot roll DDL back, and Django refuses DDL in one.
        migrations.RunPython(forwards, backwards, atomic=False),
    ]
