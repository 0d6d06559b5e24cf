"""Schema version 3: a cron schedule's time zone and where a schedule comes from, as the core adds them.

A database the core upgraded first (a worker's ``initialize()`` on an existing database) already has the
columns: they are added only if missing, and the schema version row moves to 3 either way.
"""

from typing import Any

from django.db import migrations, models

SCHEMA_VERSION = 3

TZ = models.CharField(max_length=64, null=True, blank=True, verbose_name="time zone")
ORIGIN = models.CharField(max_length=16, null=True, choices=[("operator", "Operator"), ("code", "Code")])


def _columns(schema_editor: Any, table: str) -> set[str]:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        return {column.name for column in connection.introspection.get_table_description(cursor, table)}


def forwards(apps: Any, schema_editor: Any) -> None:
    schedule = apps.get_model("dbjobq", "Schedule")
    present = _columns(schema_editor, schedule._meta.db_table)
    for name in ("tz", "origin"):
        if name not in present:
            schema_editor.add_field(schedule, schedule._meta.get_field(name))
    metadata = apps.get_model("dbjobq", "Metadata")
    metadata.objects.using(schema_editor.connection.alias).update_or_create(
        key="schema_version", defaults={"value": str(SCHEMA_VERSION)}
    )


def backwards(apps: Any, schema_editor: Any) -> None:
    schedule = apps.get_model("dbjobq", "Schedule")
    present = _columns(schema_editor, schedule._meta.db_table)
    for name in ("origin", "tz"):
        if name in present:
            schema_editor.remove_field(schedule, schedule._meta.get_field(name))
    metadata = apps.get_model("dbjobq", "Metadata")
    metadata.objects.using(schema_editor.connection.alias).filter(key="schema_version").update(value="2")


class Migration(migrations.Migration):
    dependencies = [("dbjobq", "0004_task_results")]

    operations = [
        # The fields enter the state first, so that the RunPython below finds them on the model.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(model_name="schedule", name="tz", field=TZ),
                migrations.AddField(model_name="schedule", name="origin", field=ORIGIN),
            ],
        ),
        # Not wrapped in a transaction of its own: MySQL cannot roll DDL back, and Django refuses DDL in one.
        migrations.RunPython(forwards, backwards, atomic=False),
    ]
