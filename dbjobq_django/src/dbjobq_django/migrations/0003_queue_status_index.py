"""Schema version 2: the (queue, status, execute_at) index per-queue counts read, as the core builds it.

Tables the core created first (``--fake-initial``, the documented path) may already hold the index,
and a worker's ``initialize()`` may build it on an older database: the index is added only if missing.
"""

from typing import Any

from django.db import migrations, models

SCHEMA_VERSION = 2

INDEX = models.Index(fields=["queue", "status", "execute_at"], name="ix_dbjobq_jobs_queue_status")


def _has_index(schema_editor: Any, table: str) -> bool:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        return INDEX.name in connection.introspection.get_constraints(cursor, table)


def forwards(apps: Any, schema_editor: Any) -> None:
    job = apps.get_model("dbjobq", "Job")
    if not _has_index(schema_editor, job._meta.db_table):
        schema_editor.add_index(job, INDEX)
    metadata = apps.get_model("dbjobq", "Metadata")
    metadata.objects.using(schema_editor.connection.alias).update_or_create(
        key="schema_version", defaults={"value": str(SCHEMA_VERSION)}
    )


def backwards(apps: Any, schema_editor: Any) -> None:
    job = apps.get_model("dbjobq", "Job")
    if _has_index(schema_editor, job._meta.db_table):
        schema_editor.remove_index(job, INDEX)
    metadata = apps.get_model("dbjobq", "Metadata")
    metadata.objects.using(schema_editor.connection.alias).filter(key="schema_version").update(value="1")


class Migration(migrations.Migration):
    dependencies = [("dbjobq", "0002_schema_version")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="job", index=INDEX)],
            database_operations=[migrations.RunPython(forwards, backwards)],
        ),
    ]
