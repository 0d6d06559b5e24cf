"""Schema version 7: on PostgreSQL and SQLite the (status, finished_at) index holds finished rows only
(``WHERE finished_at IS NOT NULL``), as the core builds it; MySQL/MariaDB keep indexing every row.

Django's model state keeps the plain index (a condition there would make Django warn on MySQL, which
cannot build one): the index is rebuilt with the core's own statements. A database the core upgraded
first already has it: the rebuild runs only where the index is not partial, and the schema version row
moves to 7 either way. Building it reads the table once and holds off writes to it meanwhile.
"""

from collections.abc import Callable
from typing import Any

from django.db import migrations

from dbjobq.integration import finished_index_sql

SCHEMA_VERSION = 7
INDEX_NAME = "ix_dbjobq_jobs_status_finished"


def _scalar(schema_editor: Any) -> Callable[[str], object]:
    """A function running a query on the migration's connection, returning its first value (``None``: no row)."""

    def scalar(sql: str) -> object:
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(sql)
            row = cursor.fetchone()
        return None if row is None else row[0]

    return scalar


def _set_version(apps: Any, schema_editor: Any, version: int) -> None:
    metadata = apps.get_model("dbjobq", "Metadata")
    metadata.objects.using(schema_editor.connection.alias).update_or_create(
        key="schema_version", defaults={"value": str(version)}
    )


def forwards(apps: Any, schema_editor: Any) -> None:
    for statement in finished_index_sql(schema_editor.connection.vendor, _scalar(schema_editor)):
        schema_editor.execute(statement)
    _set_version(apps, schema_editor, SCHEMA_VERSION)


def backwards(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "mysql":
        table = apps.get_model("dbjobq", "Job")._meta.db_table
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX_NAME}")
        schema_editor.execute(f"CREATE INDEX {INDEX_NAME} ON {table} (status, finished_at)")
    _set_version(apps, schema_editor, SCHEMA_VERSION - 1)


class Migration(migrations.Migration):
    dependencies = [("dbjobq", "0009_waiting_status")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
