"""Schema version 2: the (queue, status, execute_at) index per-queue counts read, as the core builds it."""

from typing import Any

from django.db import migrations, models

SCHEMA_VERSION = 2


def forwards(apps: Any, schema_editor: Any) -> None:
    metadata = apps.get_model("dbjobq", "Metadata")
    metadata.objects.using(schema_editor.connection.alias).update_or_create(
        key="schema_version", defaults={"value": str(SCHEMA_VERSION)}
    )


def backwards(apps: Any, schema_editor: Any) -> None:
    metadata = apps.get_model("dbjobq", "Metadata")
    metadata.objects.using(schema_editor.connection.alias).filter(key="schema_version").update(value="1")


class Migration(migrations.Migration):
    dependencies = [("dbjobq", "0002_schema_version")]

    operations = [
        migrations.AddIndex(
            model_name="job",
            index=models.Index(fields=["queue", "status", "execute_at"], name="ix_dbjobq_jobs_queue_status"),
        ),
        migrations.RunPython(forwards, backwards),
    ]
