"""Schema version 8: on PostgreSQL and SQLite an index over waiting jobs only (``WHERE status = 'waiting'``),
which the workers' pages of jobs waiting for their dependencies read, as the core builds it; none on
MySQL/MariaDB, where the (status, finished_at) index over every row serves those reads.

Django's model state does not hold it (a condition there would make Django warn on MySQL, which cannot
build one): it is built with the core's own statement, ``IF NOT EXISTS``, so a database the core upgraded
first is left as it is; the schema version row moves to 8 either way.
"""

from typing import Any

from django.db import migrations

from dbjobq.integration import waiting_index_sql

SCHEMA_VERSION = 8
INDEX_NAME = "ix_dbjobq_jobs_waiting"


def _set_version(apps: Any, schema_editor: Any, version: int) -> None:
    metadata = apps.get_model("dbjobq", "Metadata")
    metadata.objects.using(schema_editor.connection.alias).update_or_create(
        key="schema_version", defaults={"value": str(version)}
    )


def forwards(apps: Any, schema_editor: Any) -> None:
    for statement in waiting_index_sql(schema_editor.connection.vendor):
        schema_editor.execute(statement)
    _set_version(apps, schema_editor, SCHEMA_VERSION)


def backwards(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "mysql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX_NAME}")
    _set_version(apps, schema_editor, SCHEMA_VERSION - 1)


class Migration(migrations.Migration):
    dependencies = [("dbjobq", "0010_finished_index_partial")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
